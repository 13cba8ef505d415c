"""The label registry: codes learnt from prints, imports and scans; hand-typed codes checked."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from labels.keys import generate, write_key_pair
from labels.payload import Label, parse, sign
from server.ingest.labels import UNCHECKED
from server.ingest.scan import ScanError, parse_time
from server.models import Anomaly, LabelRecord, Package, ScanEvent
from tests.factories import label_text, make_plan, post, scan, trust_key

PID = "3513010001001-SS-DPR"
OTHER = "3513010001001-KOTAK"
TPS = "3513010001001"


@pytest.fixture
def plan(session, region, label_key):
    """Plan the region's packages and trust label_key."""
    packages = make_plan(session, region)
    trust_key(session, label_key)
    session.commit()
    return packages


@pytest.fixture
def key_file(tmp_path, label_key):
    """Return the path of label_key's private PEM."""
    return write_key_pair(label_key, tmp_path / "keys")[0]


def registered(db) -> dict[tuple[str, int], str]:
    """Return {(package id, version): code} of the registry, read fresh."""
    with db.session() as s:
        rows = s.execute(select(Package.package_id, LabelRecord.version,
                                LabelRecord.verification_code)
                         .join(Package, Package.id == LabelRecord.package_id)).all()
    return {(pid, v): code for pid, v, code in rows}


def typed(pid: str, code: str) -> dict:
    """Return a receive scan of a hand-typed entry at the regency warehouse (its first stop)."""
    return scan(f"{pid} {code}", "3513")


def anomalies(session, kind: str) -> list[Anomaly]:
    """Return the stored anomalies of a kind."""
    session.expire_all()
    return list(session.scalars(select(Anomaly).where(Anomaly.kind == kind)))


def test_print_and_reprint_register_the_codes_they_print(runner, plan, key_file, tmp_path, db):
    out = tmp_path / "v1.jsonl"
    result = runner.invoke(args=["print-labels", "--package", PID, "-o", str(out), "--key",
                                 str(key_file), "--format", "codes"])
    assert result.exit_code == 0, result.output
    v1 = parse(json.loads(out.read_text())["code"]).verification_code
    assert registered(db) == {(PID, 1): v1}
    result = runner.invoke(args=["reprint", PID, "-o", str(tmp_path / "v2.jsonl"), "--key",
                                 str(key_file), "--format", "codes"])
    assert result.exit_code == 0, result.output
    v2 = parse(json.loads((tmp_path / "v2.jsonl").read_text())["code"]).verification_code
    assert registered(db) == {(PID, 1): v1, (PID, 2): v2} and v1 != v2


def test_typed_codes_are_checked_against_the_registered_labels(runner, plan, key_file, tmp_path,
                                                               session, label_key):
    for name, args in (("v1", ["print-labels", "--package", PID]), ("v2", ["reprint", PID])):
        result = runner.invoke(args=[*args, "-o", str(tmp_path / f"{name}.jsonl"), "--key",
                                     str(key_file), "--format", "codes"])
        assert result.exit_code == 0, result.output
    v1, v2 = (parse(json.loads((tmp_path / f"{n}.jsonl").read_text())["code"]).verification_code
              for n in ("v1", "v2"))
    wrong = "AAAA-AAAA"
    results = post(session, [typed(PID, v2), typed(PID, v1), typed(PID, wrong)])
    assert [r["status"] for r in results] == ["recorded"] * 3
    assert [r["anomalies"] for r in results] == [[], ["superseded_label"], ["forged_label"]]
    assert "note" not in results[0]
    rows = {r.raw_code: r for r in session.scalars(select(ScanEvent))}
    right = rows[f"{PID} {v2}"]
    assert right.package_id == plan[PID].id and right.label_version == 2 and right.counted
    assert rows[f"{PID} {v1}"].package_id is None
    forged = anomalies(session, "forged_label")
    assert len(forged) == 1 and forged[0].package_id == plan[PID].id
    assert f"hand-typed code {wrong} does not match" in forged[0].detail
    superseded = anomalies(session, "superseded_label")
    assert len(superseded) == 1 and "label version 1, superseded by reprint version 2" in \
        superseded[0].detail


def test_a_typed_code_of_an_unregistered_package_is_recorded_unchecked(plan, session):
    results = post(session, [typed(OTHER, "AAAA-AAAA")])
    assert results[0]["status"] == "recorded" and results[0]["anomalies"] == []
    assert results[0]["note"] == UNCHECKED
    row = session.scalar(select(ScanEvent))
    assert row.package_id == plan[OTHER].id and row.label_version is None


def test_a_genuine_scan_registers_its_label_so_later_typed_codes_are_checked(plan, session,
                                                                             label_key, db):
    text = label_text(plan[PID], label_key)
    code = parse(text).verification_code
    post(session, [scan(text, "3513"), scan(text, "351301", "dispatch")])
    assert registered(db) == {(PID, 1): code}
    # The district receives what the warehouse dispatched: typed, not scanned.
    results = post(session, [scan(f"{PID} {code}", "351301"),
                             scan(f"{PID} BBBB-BBBB", "351301")])
    assert [r["anomalies"] for r in results] == [[], ["forged_label"]]
    assert "note" not in results[0] and "note" not in results[1]


def test_a_forged_label_scan_registers_nothing(plan, session, db):
    forged = sign(Label(PID, "SS-DPR", TPS, 300, plan[PID].dapil, 1), generate()).text
    results = post(session, [scan(forged, "3513")])
    assert results[0]["anomalies"] == ["forged_label"]
    assert registered(db) == {}


def test_the_api_answers_an_unchecked_typed_code_with_a_note(client, plan, session):
    from tests.factories import token

    tok = token(session, "admin", "3513")
    session.commit()
    response = client.post("/api/v1/scans", json={"scans": [typed(OTHER, "AAAA-AAAA")]},
                           headers={"Authorization": f"Bearer {tok}"})
    assert response.status_code == 200
    assert response.get_json()["results"][0]["note"] == UNCHECKED


# import-labels ---------------------------------------------------------------------

def codes_file(tmp_path, lines: list, name: str = "codes.jsonl"):
    """Write JSON lines (dicts are dumped, strings written as they are) and return the path."""
    path = tmp_path / name
    path.write_text("".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines))
    return path


def test_import_labels_registers_a_rendered_codes_file_once(runner, plan, label_key, tmp_path, db):
    from labels.manifest import PackageRow
    from labels.render import render_packages

    rows = [PackageRow(p.package_id, p.item_type, p.quantity, p.destination.code, p.dapil or "",
                       p.label_version) for p in plan.values()]
    render_packages(rows, tmp_path / "codes.jsonl", label_key, fmt="codes")
    path = tmp_path / "codes.jsonl"
    result = runner.invoke(args=["import-labels", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{len(plan)} newly registered" in result.output
    texts = {json.loads(line)["package_id"]: json.loads(line)["code"]
             for line in path.read_text().splitlines()}
    assert registered(db) == {(pid, 1): parse(t).verification_code for pid, t in texts.items()}
    again = runner.invoke(args=["import-labels", str(path)])
    assert again.exit_code == 0 and "0 newly registered" in again.output
    assert len(registered(db)) == len(plan)


def test_import_labels_rejects_the_whole_file_listing_every_bad_line(runner, plan, label_key,
                                                                     tmp_path, db):
    good = {"package_id": PID, "code": label_text(plan[PID], label_key)}
    tampered = label_text(plan[OTHER], label_key).replace(".300.", ".301.")
    forger = sign(Label(OTHER, "KOTAK", TPS, 300, "", 1), generate()).text
    unknown = sign(Label("NO-SUCH-PKG", "KOTAK", TPS, 1, "", 1), label_key).text
    newer = label_text(plan[OTHER], label_key, version=3)
    path = codes_file(tmp_path, [
        good, "{not json", {"package_id": OTHER},
        {"package_id": OTHER, "code": tampered}, {"package_id": OTHER, "code": forger},
        {"package_id": "NO-SUCH-PKG", "code": unknown}, {"package_id": OTHER, "code": newer},
        {"package_id": PID, "code": newer}])
    result = runner.invoke(args=["import-labels", str(path)])
    assert result.exit_code == 2
    out = result.output
    assert "7 bad line(s) of 8; nothing was imported" in out
    for line, reason in ((2, "malformed"), (3, "malformed"), (4, "bad signature"),
                         (5, "unknown key"), (6, "unknown package NO-SUCH-PKG"),
                         (7, "version newer than the plan's"), (8, "malformed")):
        assert f"line {line}: {reason}" in out, (line, out)
    assert "line 1:" not in out
    assert registered(db) == {}


def test_import_labels_without_trusted_keys_is_a_usage_error(runner, region, tmp_path):
    result = runner.invoke(args=["import-labels", str(codes_file(tmp_path, []))])
    assert result.exit_code == 2 and "trust-key" in result.output


def test_parse_time_past_year_9999_in_utc_is_a_scan_error():
    with pytest.raises(ScanError, match="out of range"):
        parse_time("9999-12-31T23:59:59-01:00")
    assert parse_time("9999-12-31T23:59:59+01:00").year == 9999
