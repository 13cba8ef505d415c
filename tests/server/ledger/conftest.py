"""Fixtures of the ledger tests."""

from __future__ import annotations

import pytest

from server.models import LedgerEntry


@pytest.fixture
def base(db, region) -> int:
    """Return the seq of the last entry before the test's own (the chained region and tokens).

    Ask for it last, after the fixtures that write: their records are chained too.
    """
    with db.session() as s:
        return s.query(LedgerEntry.seq).order_by(LedgerEntry.seq.desc()).limit(1).scalar() or 0
