"""Signed heads and the witness: a log cut short or rewritten is named against a head kept earlier."""

from __future__ import annotations

import json

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from server.cli import ledger as ledger_cli
from server.ledger.heads import head_message
from server.models import LedgerEntry, ScanEvent
from tests.factories import token
from tests.server.ledger.test_ledger import execute, record, verify


@pytest.fixture
def cli(runner):
    """Return the CLI runner."""
    return runner


@pytest.fixture
def observer(session, region):
    """Return an observer's API token for the whole province."""
    tok = token(session, "observer", "35")
    session.commit()
    return tok


def _head(client, tok) -> dict:
    rv = client.get("/api/v1/ledger/head", headers={"Authorization": f"Bearer {tok}"})
    assert rv.status_code == 200, rv.get_data(as_text=True)
    return rv.get_json()


def _last_seq(db) -> int:
    with db.session() as s:
        return s.query(LedgerEntry.seq).order_by(LedgerEntry.seq.desc()).limit(1).scalar() or 0


def truncate(db, keep: int) -> None:
    """Delete every ledger entry after seq keep and the scans they chained, as an attacker would."""
    with db.session() as s:
        rows = [r for (r,) in s.query(LedgerEntry.row_id).filter(
            LedgerEntry.seq > keep, LedgerEntry.kind == "scan")]
    execute(db, "DELETE FROM ledger_entries WHERE seq > :k", k=keep)
    for row_id in rows:
        execute(db, "DELETE FROM scan_events WHERE id = :i", i=row_id)
    execute(db, "DELETE FROM ledger_head")


def test_every_append_leaves_a_signed_head_that_observers_can_fetch(cli, client, db, region, observer, base):
    record(db, region, 3)
    head = _head(client, observer)
    assert set(head) == {"seq", "chain", "signed_at", "key_id", "signature"}
    assert head["seq"] == _last_seq(db) == base + 3
    record(db, region, 2, start=3)
    newer = _head(client, observer)
    assert newer["seq"] == base + 5 and newer["chain"] != head["chain"]
    key = json.loads(cli.invoke(args=["ledger-head"]).output)
    assert key == newer  # the command serves the same head
    public = client.get("/api/v1/ledger/key", headers={"Authorization": f"Bearer {observer}"})
    import base64
    raw = base64.b64decode(public.get_json()["public_key"])
    Ed25519PublicKey.from_public_bytes(raw).verify(
        bytes.fromhex(newer["signature"]),
        head_message(newer["seq"], newer["chain"], newer["signed_at"]))


def test_the_head_needs_a_token(client, region):
    rv = client.get("/api/v1/ledger/head")
    assert rv.status_code == 401 and rv.get_json()["error"]["status"] == 401


def test_a_log_cut_short_after_a_kept_head_is_truncated(cli, db, region, tmp_path, base):
    record(db, region, 5)
    record(db, region, 4, start=5)
    assert cli.invoke(args=["ledger-head", "-o", str(tmp_path / "head.json")]).exit_code == 0
    truncate(db, keep=base + 5)
    code, lines = verify(cli)
    assert code == 0, lines  # without a head, a cut at the end is invisible: why witnesses exist
    code, lines = verify(cli, "--head", str(tmp_path / "head.json"))
    assert code == 1
    assert lines[0].startswith(f"TRUNCATED: seq {base + 9}:") and f"ends at seq {base + 5}" in lines[0]


def test_the_last_entry_alone_removed_is_truncated_too(cli, db, region, tmp_path, base):
    record(db, region, 3)
    cli.invoke(args=["ledger-head", "-o", str(tmp_path / "head.json")])
    truncate(db, keep=base + 2)
    code, lines = verify(cli, "--head", str(tmp_path / "head.json"))
    assert code == 1 and lines[0].startswith(f"TRUNCATED: seq {base + 3}:")


def test_history_rewritten_after_a_kept_head_is_forked(cli, db, region, tmp_path, base):
    from server.ledger.content import GENESIS, digest_of, link, scan_content, scan_select

    uuids = record(db, region, 4)
    cli.invoke(args=["ledger-head", "-o", str(tmp_path / "head.json")])
    execute(db, "UPDATE scan_events SET operator = 'Budi' WHERE uuid = :u", u=uuids[1])
    with db.session() as s:  # recompute every digest and chain, as a careful forger would
        chain = GENESIS
        for entry in s.query(LedgerEntry).order_by(LedgerEntry.seq):
            if entry.kind == "scan":
                row = s.execute(scan_select().where(ScanEvent.id == entry.row_id)).one()
                entry.digest = digest_of(scan_content(row))
            chain = entry.chain = link(chain, bytes(entry.digest))
        s.commit()
    assert verify(cli)[0] == 0  # no checkpoint yet: the chain alone cannot tell
    code, lines = verify(cli, "--head", str(tmp_path / "head.json"))
    assert code == 1 and lines[0].startswith(f"FORKED: seq {base + 4}:")


def test_a_head_not_signed_by_the_ledger_key_is_refused(cli, db, region, tmp_path):
    record(db, region, 2)
    result = cli.invoke(args=["ledger-head"])
    head = json.loads(result.output)
    head["seq"] = 99  # a head someone made up
    (tmp_path / "fake.json").write_text(json.dumps(head))
    code, lines = verify(cli, "--head", str(tmp_path / "fake.json"))
    assert code == 1 and lines[0].startswith("HEAD:") and "signature" in lines[0]


def test_an_export_is_held_to_heads_too(cli, db, region, tmp_path, base):
    record(db, region, 6)
    cli.invoke(args=["ledger-head", "-o", str(tmp_path / "head.json")])
    truncate(db, keep=base + 3)
    assert cli.invoke(args=["export-log", "--region", "3513", "-o",
                            str(tmp_path / "x.jsonl")]).exit_code == 0
    code, lines = verify(cli, "--file", str(tmp_path / "x.jsonl"))
    assert code == 0, lines  # the export of a truncated log is self-consistent...
    code, lines = verify(cli, "--file", str(tmp_path / "x.jsonl"), "--head", str(tmp_path / "head.json"))
    assert code == 1 and lines[0].startswith(f"TRUNCATED: seq {base + 6}:")  # ...but not the head


@pytest.fixture
def wsgi(app, monkeypatch):
    """Route the witness's HTTP requests to the app in-process."""
    monkeypatch.setattr(ledger_cli, "TRANSPORT", httpx.WSGITransport(app=app))


def _witness(cli, observer, directory):
    result = cli.invoke(args=["witness", "--server", "http://jejak.test", "--token", observer,
                              "--dir", str(directory)])
    return result.exit_code, result.output.strip().splitlines()


def test_the_witness_keeps_heads_that_extend_each_other_and_names_a_truncation(
        cli, db, region, observer, wsgi, tmp_path, base):
    kept = tmp_path / "bawaslu"
    record(db, region, 4)
    code, lines = _witness(cli, observer, kept)
    assert code == 0 and "pinned ledger key" in lines[0]
    record(db, region, 3, start=4)
    code, lines = _witness(cli, observer, kept)
    assert code == 0 and f"3 entries since seq {base + 4} checked" in lines[-1], lines
    assert len((kept / "heads.jsonl").read_text().splitlines()) == 2
    truncate(db, keep=base + 5)
    code, lines = _witness(cli, observer, kept)
    assert code == 1 and lines[0].startswith("TRUNCATED:") and f"seq {base + 7}" in lines[0]
    code, lines = verify(cli, "--head", str(kept / "heads.jsonl"))
    assert code == 1 and lines[0].startswith(f"TRUNCATED: seq {base + 7}:")


def test_the_witness_names_a_log_regrown_over_a_truncation_as_forked(
        cli, db, region, observer, wsgi, tmp_path, base):
    kept = tmp_path / "bawaslu"
    record(db, region, 4)
    assert _witness(cli, observer, kept)[0] == 0
    truncate(db, keep=base + 2)
    record(db, region, 5, start=100)  # the log grows past the kept head on another history
    code, lines = _witness(cli, observer, kept)
    assert code == 1 and lines[0].startswith("FORKED:") and f"seq {base + 4}" in lines[0]
    code, lines = verify(cli, "--head", str(kept / "heads.jsonl"))
    assert code == 1 and lines[0].startswith(f"FORKED: seq {base + 4}:")


def test_the_witness_refuses_a_head_signed_by_another_key(cli, db, region, observer, wsgi,
                                                         tmp_path, app):
    from labels.keys import generate, private_pem

    kept = tmp_path / "bawaslu"
    record(db, region, 2)
    assert _witness(cli, observer, kept)[0] == 0
    other = tmp_path / "other.pem"
    other.write_bytes(private_pem(generate()))
    app.config["LEDGER_KEY_FILE"] = str(other)  # the server now signs with a key nobody pinned
    record(db, region, 1, start=2)
    code, lines = _witness(cli, observer, kept)
    assert code == 1 and lines[0].startswith("HEAD:") and "not by a key you trust" in lines[0]
