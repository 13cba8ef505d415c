"""The tamper-evident log: appends chain in commit order; verify-log names what was changed."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid

import pytest
from sqlalchemy import text

from server.cli import ledger as ledger_cli
from server.ledger.chain import append_resolution, append_scans
from server.models import Anomaly, LedgerEntry, ScanEvent, utc_now


@pytest.fixture
def cli(app, runner):
    """Return the CLI runner with the ledger commands registered (until create_app does it)."""
    if "verify-log" not in app.cli.commands:
        ledger_cli.init_app(app)
    return runner


def record(db, region, n, location="3513010001001", start=0):
    """Record n scans in one transaction, as ingest does, and return their uuids."""
    with db.session() as s:
        rows = []
        for i in range(n):
            rows.append(ScanEvent(
                uuid=str(uuid.uuid4()), claimed_package=f"PKG-{start + i}", raw_code=f"J1.X.PKG-{start + i}",
                location_id=region[location].id, action="receive", operator="Siti",
                scanned_at=dt.datetime(2024, 2, 10, 8, 0) + dt.timedelta(seconds=start + i),
                received_at=utc_now(), offline=bool(i % 2)))
        s.add_all(rows)
        s.flush()
        append_scans(s, rows)
        s.commit()
        return [r.uuid for r in rows]


def verify(cli, *args):
    """Run verify-log and return (exit code, output lines)."""
    result = cli.invoke(args=["verify-log", *args])
    return result.exit_code, result.output.strip().splitlines()


def execute(db, sql, **params):
    """Run one statement on the test database, as someone with write access to it would."""
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_an_untouched_log_verifies_with_a_summary(cli, db, region):
    record(db, region, 5)
    record(db, region, 3, location="3514010001001")
    code, lines = verify(cli)
    assert code == 0, lines
    assert "8 scans" in lines[-1] and "verifies" in lines[-1]


def test_an_edited_scan_row_is_named(cli, db, region, base):
    uuids = record(db, region, 6)
    execute(db, "UPDATE scan_events SET operator = 'Budi' WHERE uuid = :u", u=uuids[3])
    code, lines = verify(cli)
    assert code == 1
    assert lines[0].startswith(f"MODIFIED: seq {base + 4}:") and uuids[3] in lines[0]


def test_a_deleted_scan_row_is_named(cli, db, region, base):
    uuids = record(db, region, 6)
    execute(db, "DELETE FROM scan_events WHERE uuid = :u", u=uuids[2])
    code, lines = verify(cli)
    assert code == 1
    assert lines[0].startswith(f"DELETED: seq {base + 3}:") and uuids[2] in lines[0]


def test_swapped_scan_rows_are_named_as_reordered(cli, db, region, base):
    uuids = record(db, region, 6)
    with db.engine.begin() as conn:
        ids = [conn.scalar(text("SELECT id FROM scan_events WHERE uuid = :u"), {"u": u}) for u in uuids[1:3]]
        conn.execute(text("UPDATE scan_events SET id = -1 WHERE id = :a"), {"a": ids[0]})
        conn.execute(text("UPDATE scan_events SET id = :a WHERE id = :b"), {"a": ids[0], "b": ids[1]})
        conn.execute(text("UPDATE scan_events SET id = :b WHERE id = -1"), {"b": ids[1]})
    code, lines = verify(cli)
    assert code == 1
    assert lines[0].startswith(f"REORDERED: seq {base + 2}:") and uuids[1] in lines[0] and uuids[2] in lines[0]
    assert lines[1].startswith(f"REORDERED: seq {base + 3}:")


def test_an_inserted_scan_row_is_named(cli, db, region, base):
    record(db, region, 3)
    forged = str(uuid.uuid4())
    execute(db, "INSERT INTO scan_events (uuid, claimed_package, raw_code, location_id, action, disposition, "
                "container_raw, seal, operator, scanned_at, received_at, offline, counted, province) "
                "VALUES (:u, 'PKG-X', 'J1.X.PKG-X', :loc, 'receive', 'ok', '', '', 'Siti', :t, :t, :f, "
                ":tr, '35')",
            u=forged, loc=region["3513010001001"].id, t=dt.datetime(2024, 2, 9), f=False, tr=True)
    record(db, region, 2, start=10)
    code, lines = verify(cli)
    assert code == 1
    assert lines[0].startswith("INSERTED:") and forged in lines[0] and f"after seq {base + 3}" in lines[0]


def test_edit_delete_reorder_and_insert_in_one_copy_are_each_named_in_log_order(cli, db, region, base):
    uuids = record(db, region, 10)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE scan_events SET seal = 'S-999' WHERE uuid = :u"), {"u": uuids[7]})
        conn.execute(text("DELETE FROM scan_events WHERE uuid = :u"), {"u": uuids[5]})
        # reorder by swapping two rows' content (uuid and all) under their ids
        a, b = uuids[1], uuids[2]
        conn.execute(text("UPDATE scan_events SET uuid = 'tmp' WHERE uuid = :a"), {"a": a})
        conn.execute(text("UPDATE scan_events SET uuid = :a WHERE uuid = :b"), {"a": a, "b": b})
        conn.execute(text("UPDATE scan_events SET uuid = :b WHERE uuid = 'tmp'"), {"b": b})
    code, lines = verify(cli)
    assert code == 1
    problems = [line for line in lines if line.split(":")[0] in {"MODIFIED", "DELETED", "REORDERED", "INSERTED"}]
    assert [p.split(":")[0] for p in problems] == ["REORDERED", "REORDERED", "DELETED", "MODIFIED"]
    assert uuids[5] in problems[2] and uuids[7] in problems[3]
    assert f"first: REORDERED: seq {base + 2}" in lines[-2]


def test_a_rewritten_ledger_entry_breaks_the_chain(cli, db, region, base):
    uuids = record(db, region, 5)
    # Someone edits a scan and recomputes its digest, but not the chain after it.
    execute(db, "UPDATE scan_events SET disposition = 'damaged' WHERE uuid = :u", u=uuids[2])
    with db.session() as s:
        from server.ledger.content import digest_of, scan_content, scan_select

        row = s.execute(scan_select().where(ScanEvent.uuid == uuids[2])).one()
        s.query(LedgerEntry).filter_by(seq=base + 3).update({"digest": digest_of(scan_content(row))})
        s.commit()
    code, lines = verify(cli)
    assert code == 1
    assert lines[0].startswith(f"REORDERED: seq {base + 3}:") and "chain breaks" in lines[0]


def test_history_rewritten_hashes_and_all_is_caught_by_the_signed_checkpoint(cli, db, region, base):
    from server.ledger.content import GENESIS, digest_of, link, scan_content, scan_select

    uuids = record(db, region, 4)
    assert cli.invoke(args=["checkpoint"]).exit_code == 0
    execute(db, "UPDATE scan_events SET operator = 'Budi' WHERE uuid = :u", u=uuids[1])
    with db.session() as s:  # recompute every digest and chain value, as a careful forger would
        chain = GENESIS
        for entry in s.query(LedgerEntry).order_by(LedgerEntry.seq):
            if entry.kind == "scan":
                row = s.execute(scan_select().where(ScanEvent.id == entry.row_id)).one()
                entry.digest = digest_of(scan_content(row))
            chain = entry.chain = link(chain, bytes(entry.digest))
        s.commit()
    code, lines = verify(cli)
    assert code == 1
    assert lines[0].startswith(f"CHECKPOINT: seq {base + 5}:") and "rewritten" in lines[0]


def test_resolutions_are_chained_and_a_silent_status_change_is_named(cli, db, region, base):
    uuids = record(db, region, 2)
    with db.session() as s:
        anomaly = Anomaly(kind="damaged", dedup_key="damaged:x", location_id=region["3513010001001"].id,
                          evidence_json=json.dumps(uuids[:1]))
        s.add(anomaly)
        s.flush()
        anomaly.status, anomaly.resolved_by, anomaly.resolved_at = "resolved", "sup", utc_now()
        anomaly.resolution_note = "replaced at the warehouse"
        append_resolution(s, anomaly)
        s.commit()
        anomaly_id = anomaly.id
    assert verify(cli)[0] == 0
    execute(db, "UPDATE anomalies SET resolution_note = 'nothing happened' WHERE id = :i", i=anomaly_id)
    code, lines = verify(cli)
    assert code == 1
    assert lines[0].startswith(f"MODIFIED: seq {base + 3}:") and "resolution_note" in lines[0]


def test_checkpoints_are_signed_every_n_entries(app, cli, db, region, base):
    if base % 4:  # start at a multiple of 4, after the region's chained records
        record(db, region, 4 - base % 4, start=100)
        base += 4 - base % 4
    app.config["LEDGER_CHECKPOINT_EVERY"] = 4
    with app.app_context():
        record(db, region, 3)
        record(db, region, 3, start=3)  # crosses a multiple of 4: a checkpoint after it
    with db.session() as s:
        kinds = [e.kind for e in s.query(LedgerEntry).filter(LedgerEntry.seq > base)
                 .order_by(LedgerEntry.seq)]
    assert kinds == ["scan"] * 6 + ["checkpoint"]
    code, lines = verify(cli)
    assert code == 0 and "1 signed checkpoints" in lines[-1]


def test_a_region_export_verifies_offline_and_shows_only_that_regions_records(cli, db, region, tmp_path):
    mine = record(db, region, 3)
    theirs = record(db, region, 2, location="3514010001001", start=10)
    out = tmp_path / "3513.jsonl"
    result = cli.invoke(args=["export-log", "--region", "3513", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text_ = out.read_text()
    assert all(u in text_ for u in mine) and not any(u in text_ for u in theirs)
    # The offline check needs no database: use a runner of an app on a database that does not exist.
    code, lines = verify(cli, "--file", str(out))
    assert code == 0, lines
    # its scans, and the plan they are judged against: the catalogue, 3513's places and the province
    assert "(3 scans, 0 resolutions, 13 item_type, 11 location, " in lines[-1]
    assert "27 records of the region" in lines[-1]


def test_an_edited_export_is_named(cli, db, region, tmp_path, base):
    mine = record(db, region, 3)
    out = tmp_path / "3513.jsonl"
    cli.invoke(args=["export-log", "--region", "3513", "-o", str(out)])
    edited = out.read_text().replace('"operator":"Siti"', '"operator":"Budi"', 1)
    bad = tmp_path / "edited.jsonl"
    bad.write_text(edited)
    code, lines = verify(cli, "--file", str(bad))
    assert code == 1 and lines[0].startswith(f"MODIFIED: seq {base + 1}:") and mine[0] in lines[0]


def test_an_export_signed_by_another_key_fails_when_the_key_is_pinned(cli, db, region, tmp_path):
    from labels.keys import generate, public_pem

    record(db, region, 2)
    out = tmp_path / "3513.jsonl"
    cli.invoke(args=["export-log", "--region", "3513", "-o", str(out)])
    other = tmp_path / "other.pem"
    other.write_text(public_pem(generate().public_key()))
    code, lines = verify(cli, "--file", str(out), "--public-key", str(other))
    assert code == 1 and lines[0].startswith("CHECKPOINT:") and "not by the key you trust" in lines[0]
    key_pem = tmp_path / "ledger.pem"
    key_pem.write_text("\n".join(cli.invoke(args=["ledger-key"]).output.splitlines()[1:]) + "\n")
    assert verify(cli, "--file", str(out), "--public-key", str(key_pem))[0] == 0


def test_a_file_that_is_not_an_export_fails_and_a_missing_one_is_a_usage_error(cli, tmp_path):
    bad = tmp_path / "not-an-export.jsonl"
    bad.write_bytes(b"\xff\xfe garbage")
    result = cli.invoke(args=["verify-log", "--file", str(bad)])
    assert result.exit_code == 1 and "not a Jejak ledger export" in result.output
    result = cli.invoke(args=["verify-log", "--file", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_export_of_an_unknown_region_is_a_usage_error(cli, region, tmp_path):
    result = cli.invoke(args=["export-log", "--region", "9999", "-o", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2 and "'9999'" in result.output


def run_in_threads(work, n):
    """Run work(k) for k in range(n) in n threads at once and fail with any thread's error."""
    errors = []

    def guarded(k):
        try:
            work(k)
        except Exception as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_concurrent_appends_keep_one_unbroken_chain(cli, db, region, base):
    def worker(k):
        for j in range(8):
            record(db, region, 5, start=1000 * k + 10 * j)

    run_in_threads(worker, 4)
    code, lines = verify(cli)
    assert code == 0, lines
    with db.session() as s:
        seqs = [e.seq for e in s.query(LedgerEntry).order_by(LedgerEntry.seq)]
    assert seqs == list(range(1, base + 161))


# --- through the API, as devices and supervisors write the log -------------------------------

@pytest.fixture
def world(region, session, label_key):
    """Return the plan, labels and tokens of regency 3513, with the label key trusted."""
    from tests.factories import label_text, make_plan, token, trust_key

    plan = make_plan(session, region)
    trust_key(session, label_key)
    w = {"labels": {pid: label_text(p, label_key) for pid, p in plan.items()},
         "operator": token(session, "operator", "3513"), "supervisor": token(session, "supervisor", "3513")}
    session.commit()
    return w


def post(client, tok, scans):
    """Post a batch of scans and return the results."""
    response = client.post("/api/v1/scans", json={"scans": scans}, headers={"Authorization": f"Bearer {tok}"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["results"]


def test_scans_and_resolutions_through_the_api_are_chained_and_verify(cli, client, db, world, tmp_path):
    from tests.factories import scan, tamper

    texts = list(world["labels"].values())
    batch = [scan(t, "3513") for t in texts] + [scan(texts[0], "3513"),  # duplicate_scan
                                                 scan(tamper(texts[1]), "3513")]  # forged
    assert {r["status"] for r in post(client, world["operator"], batch)} == {"recorded"}
    assert {r["status"] for r in post(client, world["operator"], batch)} == {"already_recorded"}
    post(client, world["operator"], [scan(texts[2], "351301", at=dt.datetime(2024, 2, 11, tzinfo=dt.timezone.utc))])
    anomalies = client.get("/api/v1/anomalies?region=3513",
                           headers={"Authorization": f"Bearer {world['supervisor']}"}).get_json()["anomalies"]
    assert anomalies
    response = client.post(f"/api/v1/anomalies/{anomalies[0]['id']}/resolve", json={"note": "checked on site"},
                           headers={"Authorization": f"Bearer {world['supervisor']}"})
    assert response.status_code == 200, response.get_json()
    code, lines = verify(cli)
    assert code == 0, lines
    with db.session() as s:
        scans = s.query(ScanEvent).count()
        kinds = [e.kind for e in s.query(LedgerEntry)]
    assert kinds.count("scan") == scans == len(batch) + 1
    assert "resolution" in kinds
    out = tmp_path / "3513.jsonl"
    assert cli.invoke(args=["export-log", "--region", "3513", "-o", str(out)]).exit_code == 0
    code, lines = verify(cli, "--file", str(out))
    assert code == 0, lines
    assert f"({len(batch) + 1} scans, {kinds.count('resolution')} resolutions" in lines[-1]


def test_backfill_chains_only_scans_older_than_the_ledger(cli, db, region):
    old = record(db, region, 3)
    execute(db, "DELETE FROM ledger_entries")  # as if recorded before migration 0003
    record(db, region, 2, start=10)
    forged = str(uuid.uuid4())
    execute(db, "INSERT INTO scan_events (uuid, claimed_package, raw_code, location_id, action, disposition, "
                "container_raw, seal, operator, scanned_at, received_at, offline, counted, province) "
                "VALUES (:u, 'PKG-X', 'J1.X.PKG-X', :loc, 'receive', 'ok', '', '', 'Siti', :t, :t, :f, "
                ":tr, '35')",
            u=forged, loc=region["3513010001001"].id, t=dt.datetime(2024, 2, 9), f=False, tr=True)
    code, lines = verify(cli)
    assert code == 1 and sum(line.startswith("INSERTED: scan") for line in lines) == 4
    result = cli.invoke(args=["chain-backfill"])
    assert result.exit_code == 0 and "15 location, 3 scans chained" in result.output
    code, lines = verify(cli)
    assert code == 1 and lines[0].startswith("INSERTED:") and forged in lines[0]
    assert not any(u in "\n".join(lines) for u in old)


def test_concurrent_ingest_batches_keep_one_unbroken_chain_in_commit_order(app, cli, db, world):
    from server.access import principal_for_token
    from server.ingest.batch import ingest_batch
    from tests.factories import scan

    texts = list(world["labels"].values())
    places = ["3513", "351301", "3513010001", "351302", "3513020001"]
    def device(k):
        with app.app_context():
            for j in range(6):
                batch = [scan(texts[(k + i) % len(texts)], places[(j + i) % len(places)],
                              action=("receive", "dispatch")[i % 2]) for i in range(20)]
                with db.session() as s:
                    ingest_batch(s, batch, principal_for_token(s, world["operator"]))
                    s.commit()

    run_in_threads(device, 4)
    code, lines = verify(cli)
    assert code == 0, lines
    with db.session() as s:
        assert s.query(ScanEvent).count() == 4 * 6 * 20
        scan_rows = [e.row_id for e in s.query(LedgerEntry).filter_by(kind="scan").order_by(LedgerEntry.seq)]
    # one writer at a time: the chain follows the commit (= id) order of the scan rows
    assert scan_rows == sorted(scan_rows)


def test_verify_log_on_a_database_without_the_ledger_says_to_upgrade(cli, db):
    # Renamed away, not dropped: the PostgreSQL test database is shared by the tests that
    # follow, and its ledger is partitioned (migration 0017) as a model's CREATE would not be.
    execute(db, "ALTER TABLE ledger_entries RENAME TO ledger_entries_away")
    try:
        result = cli.invoke(args=["verify-log"])
    finally:
        execute(db, "ALTER TABLE ledger_entries_away RENAME TO ledger_entries")
    assert result.exit_code == 2 and "init-db" in result.output


def test_ingest_chains_each_scan_with_the_content_verify_log_reads_back(cli, db, region, label_key):
    from server.ledger.content import digest_of, scan_content, scan_select
    from tests.factories import label_text, make_plan, post, scan, trust_key

    with db.session() as s:
        trust_key(s, label_key)
        plan = make_plan(s, region, tps_codes=["3513010001001"], item_types=("SS-DPR", "KOTAK"))
        ballots, box = plan["3513010001001-SS-DPR"], plan["3513010001001-KOTAK"]
        s.commit()
        results = post(s, [
            scan(label_text(ballots, label_key), "3513", "pack", container=label_text(box, label_key),
                 seal="S-1", operator="Siti", device="cam-2"),
            scan(label_text(box, label_key), "3513", "dispatch", seal="S-1", offline=True),
            scan("J1.FORGED.NOT-A-LABEL", "351301", "receive", disposition="damaged"),
            scan(f"{ballots.package_id} XXXX-XXXX", "351301", "inspect"),
        ])
    assert [r["status"] for r in results] == ["recorded"] * 4
    with db.session() as s:
        entries = s.query(LedgerEntry).filter_by(kind="scan").order_by(LedgerEntry.seq).all()
        assert [e.ref for e in entries] == [r["id"] for r in results]
        for entry in entries:
            row = s.execute(scan_select().where(ScanEvent.id == entry.row_id)).one()
            assert bytes(entry.digest) == digest_of(scan_content(row)), entry.ref
    assert verify(cli)[0] == 0


def test_a_deleted_ledger_entry_is_a_gap_and_a_chain_break(cli, db, region, base):
    record(db, region, 5)
    execute(db, "DELETE FROM ledger_entries WHERE seq = :s", s=base + 3)
    code, lines = verify(cli)
    assert code == 1
    # its scan row is now chained by nothing: listed where it sits, after seq 2
    assert lines[0].startswith("INSERTED:") and "(row 3)" in lines[0] and f"after seq {base + 2}" in lines[0]
    assert lines[1] == f"DELETED: seq {base + 3}: ledger entries {base + 3} are missing"
    assert lines[2].startswith(f"REORDERED: seq {base + 4}:") and "chain breaks" in lines[2]


def test_an_export_cut_before_its_last_checkpoint_is_not_proof(cli, db, region, tmp_path, base):
    record(db, region, 3)
    out = tmp_path / "3513.jsonl"
    cli.invoke(args=["export-log", "--region", "3513", "-o", str(out)])
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(out.read_text().splitlines(keepends=True)[:-1]))
    code, lines = verify(cli, "--file", str(cut))
    assert code == 1 and lines[0].startswith(f"UNSIGNED: seq {base + 3}:")
