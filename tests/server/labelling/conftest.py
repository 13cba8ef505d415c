"""Fixtures shared with the labels tests: printing from the server uses the same keys."""

from tests.labels.conftest import key_files, test_key  # noqa: F401 (fixtures)
