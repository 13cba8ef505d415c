"""Configuration: every setting is documented, and the layers override in order."""

from pathlib import Path

from server import create_app
from server.config import SETTINGS

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented():
    text = DOC.read_text(encoding="utf-8")
    undocumented = [key for key in SETTINGS if f"`{key}`" not in text]
    assert undocumented == []


def test_environment_overrides_instance_file(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text("PAGE_SIZE = 50\nMAX_BATCH = 10\n")
    monkeypatch.setenv("JEJAK_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("JEJAK_MAX_BATCH", "20")
    app = create_app()
    assert app.config["PAGE_SIZE"] == 50
    assert app.config["MAX_BATCH"] == 20
    assert app.config["DATABASE_URL"] == f"sqlite:///{instance / 'jejak.sqlite3'}"
    # The generated secret persists across app instances.
    assert create_app().config["SECRET_KEY"] == app.config["SECRET_KEY"]


def test_bad_number_in_environment_names_the_variable(tmp_path, monkeypatch):
    import pytest

    monkeypatch.setenv("JEJAK_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("JEJAK_PAGE_SIZE", "many")
    with pytest.raises(ValueError, match="JEJAK_PAGE_SIZE='many'"):
        create_app()


def test_a_non_default_clock_skew_reaches_every_session_not_only_the_api(tmp_path, database_url):
    # The sweep command and the dashboard's reads judge in sessions the API never sees:
    # each must judge with the configured skew, not a default of 10 minutes.
    import datetime as dt

    from server import create_app
    from server.db import Database
    from server.reconcile.timelines import new_context

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t",
                      "INSTANCE_PATH": str(tmp_path / "i"), "CLOCK_SKEW_MINUTES": 45})
    app.extensions["jejak.db"].upgrade()
    now = dt.datetime(2024, 2, 12, 5, 0)
    with app.app_context(), app.extensions["jejak.db"].session() as session:
        assert new_context(session, now).clock_skew == dt.timedelta(minutes=45)
    app.config["CLOCK_SKEW_MINUTES"] = 5  # a change before a session opens applies to it
    with app.extensions["jejak.db"].session() as session:
        assert new_context(session, now).clock_skew == dt.timedelta(minutes=5)
    bare = Database(database_url)
    with bare.session() as session:  # outside an app: the documented default
        assert new_context(session, now).clock_skew == dt.timedelta(minutes=10)
    bare.dispose()
    app.extensions["jejak.db"].dispose()
