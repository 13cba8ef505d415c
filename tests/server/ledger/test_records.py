"""Everything a judgement depends on is chained: the plan, keys, devices, users and anomalies.

Each attack is made as someone with write access to the database would make it
(plain SQL on a copy), and ``verify-log`` must name the first changed record
of that kind and exit 1; nothing the ledger recorded is lost by checking.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from server.ledger.chain import append_records
from server.ledger.records import DEVICES, LOCATIONS, PACKAGES, RECORD_KINDS
from server.models import Anomaly, Device, LedgerEntry, Location, Package
from tests.server.ledger.test_ledger import execute, verify

TPS = "3513010001001"


@pytest.fixture
def cli(runner):
    """Return the CLI runner."""
    return runner


@pytest.fixture
def world(session, region, label_key):
    """Load a chained plan (packages, schedule, key, device, users) and one open anomaly."""
    from server.access import create_device, create_user
    from tests.factories import label_text, make_plan, make_schedule, post, scan, tamper, trust_key

    plan = make_plan(session, region)
    make_schedule(session, region, dt.datetime(2024, 2, 8))
    trust_key(session, label_key)
    device, _token = create_device(session, TPS, "kpps-1")
    create_user(session, "siti", "a long password", "supervisor", "3513")
    session.commit()
    package = plan[f"{TPS}-KOTAK"]
    results = post(session, [scan(tamper(label_text(package, label_key)), "3513")])
    assert results[0]["anomalies"] == ["forged_label"]
    anomaly = session.query(Anomaly).filter_by(kind="forged_label").one()
    return {"plan": plan, "package": package, "device": device, "anomaly": anomaly.id}


def first_problem(lines: list[str]) -> str:
    """Return the first problem line verify-log printed."""
    return lines[0]


def test_the_chained_plan_keys_devices_users_and_anomalies_verify(cli, db, world):
    code, lines = verify(cli)
    assert code == 0, lines
    for kind in ("item_type", "location", "package", "deadline", "label_key", "device", "user",
                 "api_token", "anomaly"):
        assert f" {kind}, " in lines[-1], (kind, lines[-1])


def test_deleting_an_open_anomaly_is_named(cli, db, world):
    execute(db, "DELETE FROM anomalies WHERE id = :i", i=world["anomaly"])
    code, lines = verify(cli)
    assert code == 1
    assert first_problem(lines).startswith("DELETED: seq ")
    assert f"anomaly {world['anomaly']}, chained at seq" in lines[0] and "gone from anomalies" in lines[0]


def test_resolving_an_open_anomaly_with_a_fake_note_is_named(cli, db, world):
    execute(db, "UPDATE anomalies SET status = 'resolved', resolved_by = 'sup', "
                "resolution_note = 'returned to the warehouse' WHERE id = :i", i=world["anomaly"])
    code, lines = verify(cli)
    assert code == 1
    assert first_problem(lines).startswith("MODIFIED: seq ") and f"anomaly {world['anomaly']}" in lines[0]
    assert "resolution_note" in lines[0] and "status 'open' -> 'resolved'" in lines[0]


def test_changing_an_anomalys_kind_is_named(cli, db, world):
    execute(db, "UPDATE anomalies SET kind = 'damaged' WHERE id = :i", i=world["anomaly"])
    code, lines = verify(cli)
    assert code == 1
    assert first_problem(lines).startswith("MODIFIED: seq ") and f"anomaly {world['anomaly']}" in lines[0]
    assert "kind 'forged_label' -> 'damaged'" in lines[0]


def test_editing_a_packages_destination_is_named(cli, db, world, region):
    package = world["package"]
    execute(db, "UPDATE packages SET destination_id = :d WHERE id = :i",
            d=region["3514010001001"].id, i=package.id)
    code, lines = verify(cli)
    assert code == 1
    assert first_problem(lines).startswith("MODIFIED: seq ")
    assert f"package {package.package_id} (row {package.id})" in lines[0]
    assert f"destination '{TPS}' -> '3514010001001'" in lines[0]


def test_editing_a_deadline_is_named(cli, db, world):
    execute(db, "UPDATE deadlines SET deadline = :t WHERE level = 'tps'", t=dt.datetime(2024, 3, 1))
    code, lines = verify(cli)
    assert code == 1
    assert first_problem(lines).startswith("MODIFIED: seq ") and "deadline 35:tps" in lines[0]
    assert "'2024-02-11T00:00:00.000000' -> '2024-03-01T00:00:00.000000'" in lines[0]


def test_moving_a_tps_to_another_district_is_named(cli, db, world, region):
    # The careful way: parent and path both, so the region filters agree with the tree.
    execute(db, "UPDATE locations SET parent_id = :p, path = '/35/3513/351302/3513020001/3513010001001/' "
                "WHERE code = :c", p=region["3513020001"].id, c=TPS)
    code, lines = verify(cli)
    assert code == 1
    assert first_problem(lines).startswith("MODIFIED: seq ") and f"location {TPS}" in lines[0]
    assert "parent '3513010001' -> '3513020001'" in lines[0]


def test_renaming_a_location_is_named(cli, db, world):
    execute(db, "UPDATE locations SET name = 'Gudang Lain' WHERE code = '351301'")
    code, lines = verify(cli)
    assert code == 1
    assert first_problem(lines).startswith("MODIFIED: seq ") and "location 351301" in lines[0]
    assert "name 'Sukapura' -> 'Gudang Lain'" in lines[0]


def test_adding_a_trusted_label_key_is_named(cli, db, world):
    from labels.keys import generate, public_pem
    from labels.payload import key_id_for

    rogue = generate().public_key()
    execute(db, "INSERT INTO label_keys (key_id, public_key_pem, name, created_at) VALUES (:k, :p, 'x', :t)",
            k=key_id_for(rogue), p=public_pem(rogue), t=dt.datetime(2024, 2, 1))
    code, lines = verify(cli)
    assert code == 1
    assert first_problem(lines).startswith(f"INSERTED: label key {key_id_for(rogue)} is in label_keys")


def test_editing_a_devices_name_is_named(cli, db, world):
    device = world["device"]
    execute(db, "UPDATE devices SET name = 'kpps-9' WHERE id = :i", i=device.id)
    code, lines = verify(cli)
    assert code == 1
    assert first_problem(lines).startswith("MODIFIED: seq ") and f"device {device.id}" in lines[0]
    assert "name 'kpps-1' -> 'kpps-9'" in lines[0]


def test_every_attack_in_one_copy_names_the_first_record_of_each_kind(cli, db, world, region):
    execute(db, "UPDATE locations SET name = 'X' WHERE code IN ('351301', '351302')")
    execute(db, "UPDATE packages SET quantity = 1")
    execute(db, "UPDATE devices SET name = 'x'")
    execute(db, "DELETE FROM anomalies")
    code, lines = verify(cli)
    assert code == 1
    named = [line for line in lines if line.split(":")[0] in {"MODIFIED", "DELETED"}]
    for what in ("location 351301", "location 351302", "device ", "anomaly "):
        assert any(what in line for line in named), what
    first_package = min(world["plan"].values(), key=lambda p: p.id)
    assert any(f"package {first_package.package_id} (row {first_package.id})" in line for line in named)
    assert sum("package " in line for line in named) == len(world["plan"])


def test_an_unchained_record_inserted_behind_the_ledgers_back_is_named(cli, db, world, region):
    execute(db, "INSERT INTO packages (package_id, item_type, quantity, destination_id, dapil, "
                "label_version, created_at) VALUES ('FAKE-1', 'KOTAK', 1, :d, '', 1, :t)",
            d=region[TPS].id, t=dt.datetime(2024, 2, 1))
    code, lines = verify(cli)
    assert code == 1 and lines[0].startswith("INSERTED: package FAKE-1 (row ")


def test_swapped_package_rows_are_named_as_reordered(cli, db, world):
    a, b = sorted(world["plan"].values(), key=lambda p: p.id)[:2]
    with db.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("UPDATE packages SET package_id = 'TMP' WHERE id = :a"), {"a": a.id})
        conn.execute(text("UPDATE packages SET package_id = :pa WHERE id = :b"), {"pa": a.package_id, "b": b.id})
        conn.execute(text("UPDATE packages SET package_id = :pb WHERE id = :a"), {"pb": b.package_id, "a": a.id})
    code, lines = verify(cli)
    assert code == 1 and lines[0].startswith("REORDERED: seq ")
    assert f"row {a.id} of packages was package {a.package_id}" in lines[0]


def test_a_record_entry_altered_in_the_ledger_is_named(cli, db, world):
    with db.session() as s:
        entry = s.query(LedgerEntry).filter_by(kind="device").one()
        entry.content = entry.content.replace("kpps-1", "kpps-2")
        s.commit()
    code, lines = verify(cli)
    assert code == 1 and lines[0].startswith(f"MODIFIED: seq {entry.seq}: the device entry of device")


def test_legitimate_changes_chain_and_verify(cli, db, world, session, label_key, tmp_path):
    from server.access import deactivate_user
    from server.importers.plan import import_schedule
    from server.reconcile.anomalies import resolve
    from tests.factories import principal

    resolve(session, world["anomaly"], principal("supervisor", "/35/3513/"), "checked: a copy", "acknowledged")
    deactivate_user(session, "siti")
    schedule = tmp_path / "schedule.csv"
    schedule.write_text("level,deadline,region\ntps,2024-02-13,\ntps,2024-02-12,35\n")
    import_schedule(session, schedule)  # replaces 35's tps deadline: a removal, then the new one
    session.commit()
    with db.session() as s:
        package = s.get(Package, world["package"].id)
        package.label_version = 2
        s.flush()
        append_records(s, PACKAGES, Package.id == package.id)
        s.commit()
    code, lines = verify(cli)
    assert code == 0, lines
    assert " deadline:del, " in lines[-1]


def test_region_exports_carry_that_regions_plan_records(cli, db, world, tmp_path):
    out = tmp_path / "3513.jsonl"
    assert cli.invoke(args=["export-log", "--region", "3513", "-o", str(out)]).exit_code == 0
    records = [json.loads(line).get("record") for line in out.read_text().splitlines()[1:]]
    records = [r for r in records if r]
    by_type: dict[str, list] = {}
    for r in records:
        by_type.setdefault(r["type"], []).append(r)
    assert {r["package_id"] for r in by_type["package"]} == {
        p.package_id for p in world["plan"].values() if p.package_id.startswith("3513")}
    assert {r["code"] for r in by_type["location"]} >= {"35", "3513", TPS}
    assert not any(r["code"].startswith("3514") for r in by_type["location"])
    assert {r["level"] for r in by_type["deadline"]} == {"regency", "district", "village", "tps"}
    assert len(by_type["label_key"]) == 1 and len(by_type["item_type"]) == 13
    assert by_type["device"][0]["name"] == "kpps-1" and by_type["anomaly"][0]["kind"] == "forged_label"
    assert not any("password" in json.dumps(r) or "token_hash" in json.dumps(r) for r in records)
    code, lines = verify(cli, "--file", str(out))
    assert code == 0, lines
    edited = out.read_text().replace('"name":"Sukapura"', '"name":"Gudang Lain"', 1)
    (tmp_path / "edited.jsonl").write_text(edited)
    code, lines = verify(cli, "--file", str(tmp_path / "edited.jsonl"))
    assert code == 1 and lines[0].startswith("MODIFIED: seq ") and "location record 351301" in lines[0]


def test_backfill_chains_a_kind_only_while_the_ledger_has_none_of_it(cli, db, world, region):
    from server.ledger.chain import backfill_records

    execute(db, "DELETE FROM ledger_entries WHERE kind = 'device'")  # as if older than chained devices
    execute(db, "INSERT INTO locations (code, name, level, parent_id, path, dapil) VALUES "
                "('3513010001099', 'TPS 099', 'tps', :p, '/35/3513/351301/3513010001/3513010001099/', '')",
            p=region["3513010001"].id)
    with db.session() as s:
        done = backfill_records(s)
    assert done == {"device": 1}
    code, lines = verify(cli)
    # the chain now misses the deleted entries, and the inserted location stays reported
    assert code == 1 and any(line.startswith("INSERTED: location 3513010001099") for line in lines)
    assert not any("device" in line for line in lines if line.startswith(("INSERTED", "MODIFIED")))


def test_every_record_kind_names_its_table():
    from server.models import Base

    assert {spec.table for spec in RECORD_KINDS} <= set(Base.metadata.tables)
    assert {spec.kind for spec in RECORD_KINDS} >= {"location", "package", "deadline", "label_key",
                                                    "device", "user", "anomaly", "item_type"}
    assert all(len(kind) <= 16 for spec in RECORD_KINDS for kind in spec.kinds)  # ledger_entries.kind
    assert LOCATIONS.kind == "location" and DEVICES.table == "devices"
    assert Location and Device
