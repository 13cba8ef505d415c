"""The app factory, migrations, configuration and the foundation commands."""

from sqlalchemy import select

from server.models import ItemType, LabelKey


def test_migrated_database_has_the_item_catalogue(session):
    codes = set(session.scalars(select(ItemType.code)))
    assert {"SS-PPWP", "SS-DPR", "SS-DPD", "SS-DPRDP", "SS-DPRDK", "KOTAK", "BILIK", "TINTA",
            "SEGEL", "FORMULIR", "SAMPUL", "DPT", "LAINNYA"} <= codes
    dapil_types = set(session.scalars(select(ItemType.code).where(ItemType.has_dapil)))
    assert dapil_types == {"SS-DPR", "SS-DPRDP", "SS-DPRDK"}


def test_init_db_is_idempotent(runner):
    first = runner.invoke(args=["init-db"])
    second = runner.invoke(args=["init-db"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    from alembic.script import ScriptDirectory

    from server.db import MIGRATIONS

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert f"database ready at revision {head}:" in second.output  # the newest migration


def test_trust_key_accepts_a_public_key_and_refuses_a_private_one(runner, session, tmp_path, label_key):
    from labels.keys import write_key_pair
    from labels.payload import key_id_for

    private, public = write_key_pair(label_key, tmp_path)
    result = runner.invoke(args=["trust-key", str(public), "--name", "KPU Probolinggo"])
    assert result.exit_code == 0, result.output
    key_id = key_id_for(label_key.public_key())
    assert key_id in result.output
    assert session.get(LabelKey, key_id).name == "KPU Probolinggo"

    refused = runner.invoke(args=["trust-key", str(private)])
    assert refused.exit_code == 2
    assert "PRIVATE key" in refused.output


def test_create_token_prints_the_token_alone_on_the_last_line(runner, region):
    result = runner.invoke(args=["create-token", "--role", "observer", "--region", "3513"])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("jjk_") and " " not in last


def test_create_user_reads_the_password_from_stdin(runner, region, app):
    from server.access import authenticate_user

    result = runner.invoke(args=["create-user", "bawaslu", "--role", "observer", "--region", "3513"],
                           input="rahasia-sekali\n")
    assert result.exit_code == 0, result.output
    with app.extensions["jejak.db"].session() as s:
        assert authenticate_user(s, "bawaslu", "rahasia-sekali").role == "observer"
        assert authenticate_user(s, "bawaslu", "salah-password") is None


def test_create_device_for_unknown_location_is_a_usage_error(runner, region):
    result = runner.invoke(args=["create-device", "--location", "9999"])
    assert result.exit_code == 2
    assert "'9999'" in result.output


def test_the_sqlite_database_file_is_readable_by_its_owner_only(tmp_path):
    # It holds password and token hashes: 0644 (the usual umask) would show them to every user.
    import os
    import stat

    from server import create_app

    instance = tmp_path / "instance"
    app = create_app({"INSTANCE_PATH": str(instance)})
    app.extensions["jejak.db"].upgrade()
    for name in os.listdir(instance):
        if name.startswith("jejak.sqlite3"):
            assert stat.S_IMODE(os.stat(instance / name).st_mode) == 0o600, name
    app.extensions["jejak.db"].dispose()
