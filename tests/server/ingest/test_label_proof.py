"""A label text the server printed or verified is proven by the registry's MAC; nothing else is.

Ingest skips the Ed25519 check of a text whose keyed MAC (under a key derived from the
ledger key, off the database) is in ``label_registry.text_mac``. These tests hold the
rules exact around that: altered, re-MACed, revoked and unregistered texts are judged as
before, and rows from before migration 0015 get their MAC on the first scan.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json

import pytest
from sqlalchemy import select, update

from labels.keys import write_key_pair
from labels.payload import BadSignature
from server.ingest import labels as ingest_labels
from server.models import Anomaly, LabelKey, LabelRecord, Package, ScanEvent
from tests.factories import label_text, make_plan, post, scan, trust_key

PID = "3513010001001-SS-DPR"


@pytest.fixture
def plan(session, region, label_key):
    """Plan the region's packages and trust label_key."""
    packages = make_plan(session, region)
    trust_key(session, label_key)
    session.commit()
    return packages


@pytest.fixture
def printed(runner, plan, label_key, tmp_path) -> str:
    """Print PID's label with `jejak-server print-labels --format codes`; return its text."""
    key_file = write_key_pair(label_key, tmp_path / "keys")[0]
    out = tmp_path / "labels.jsonl"
    result = runner.invoke(args=["print-labels", "--package", PID, "-o", str(out), "--key",
                                 str(key_file), "--format", "codes"])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())["code"]


@pytest.fixture
def no_signature_checks(monkeypatch) -> list[str]:
    """Make every Ed25519 check fail (and forget the ones already done); return the texts checked."""
    checked: list[str] = []

    def refuse(label, keys):
        checked.append(label.text)
        raise BadSignature(f"signature of {label.package_id} not checked in this test")

    monkeypatch.setattr(ingest_labels, "_VERIFIED", set())
    monkeypatch.setattr(ingest_labels, "verify", refuse)
    return checked


def kinds(session) -> list[str]:
    """Return the kinds of the stored anomalies."""
    session.expire_all()
    return sorted(session.scalars(select(Anomaly.kind)))


def macs(session) -> list[bytes | None]:
    """Return PID's registered text MACs."""
    session.expire_all()
    return list(session.scalars(select(LabelRecord.text_mac).join(Package)
                                .where(Package.package_id == PID)))


def test_print_labels_registers_a_mac_of_the_exact_text(printed, session):
    assert [len(m) for m in macs(session)] == [32]


def test_a_printed_label_is_genuine_without_a_signature_check(printed, session, no_signature_checks):
    results = post(session, [scan(printed, "3513")])
    assert results[0]["status"] == "recorded" and results[0]["anomalies"] == []
    assert no_signature_checks == []
    assert session.scalar(select(ScanEvent.package_id)) is not None


def test_a_printed_label_altered_in_one_field_is_still_forged(printed, session):
    # Same signature, quantity 300 -> 301: the registry vouches for the printed text only.
    altered = printed.replace(".300.", ".301.")
    assert altered != printed
    results = post(session, [scan(altered, "3513")])
    assert results[0]["anomalies"] == ["forged_label"]
    assert session.scalar(select(Anomaly.facts_json)).count("bad_signature") == 1


def test_a_mac_written_without_the_ledger_key_proves_nothing(printed, session):
    # A database administrator writes the MAC of an altered text under a key of their own.
    altered = printed.replace(".300.", ".301.")
    forged_mac = hmac.digest(b"not the server's key", altered.encode(), "sha256")
    session.execute(update(LabelRecord).values(text_mac=forged_mac))
    session.commit()
    results = post(session, [scan(altered, "3513")])
    assert results[0]["anomalies"] == ["forged_label"]


def test_a_printed_label_of_a_revoked_key_is_forged(printed, session):
    session.execute(update(LabelKey).values(revoked_at=dt.datetime(2024, 2, 1)))
    session.commit()
    results = post(session, [scan(printed, "3513")])
    assert results[0]["anomalies"] == ["forged_label"]
    assert '"unknown_key"' in session.scalar(select(Anomaly.facts_json))


def test_a_label_registered_before_its_mac_gets_it_on_its_first_scan(printed, session,
                                                                      monkeypatch):
    session.execute(update(LabelRecord).values(text_mac=None))  # a row from before migration 0015
    session.commit()
    post(session, [scan(printed, "3513")])  # checked by its signature, as before
    assert [len(m) for m in macs(session)] == [32]
    checked: list[str] = []
    monkeypatch.setattr(ingest_labels, "_VERIFIED", set())
    monkeypatch.setattr(ingest_labels, "verify", lambda label, keys: checked.append(label.text))
    post(session, [scan(printed, "3513", action="dispatch",
                        at=dt.datetime(2024, 2, 10, 9, tzinfo=dt.timezone.utc))])
    assert checked == [] and kinds(session) == []


def test_a_label_printed_elsewhere_is_checked_once_then_proven(plan, session, label_key,
                                                             no_signature_checks, monkeypatch):
    text = label_text(session.scalar(select(Package).where(Package.package_id == PID)), label_key)
    results = post(session, [scan(text, "3513")])
    assert no_signature_checks == [text]  # not registered: its signature is checked (and here fails)
    assert results[0]["anomalies"] == ["forged_label"]
    monkeypatch.undo()
    post(session, [scan(text, "351301")])  # checked for real and registered with its MAC
    assert [len(m) for m in macs(session)] == [32]
    monkeypatch.setattr(ingest_labels, "_VERIFIED", set())
    monkeypatch.setattr(ingest_labels, "verify", lambda label, keys: pytest.fail("checked again"))
    results = post(session, [scan(text, "3513010001")])
    assert results[0]["status"] == "recorded" and "forged_label" not in results[0]["anomalies"]


def test_import_labels_registers_macs_that_prove_the_imported_texts(runner, plan, label_key, tmp_path,
                                                                     session, no_signature_checks):
    from labels.manifest import PackageRow
    from labels.render import render_packages

    pkg = plan[PID]
    render_packages([PackageRow(pkg.package_id, pkg.item_type, pkg.quantity, pkg.destination.code,
                                pkg.dapil or "", pkg.label_version)], tmp_path / "codes.jsonl",
                    label_key, fmt="codes")
    # import-labels checks each line's signature itself (server.labelling.registry, not patched).
    result = runner.invoke(args=["import-labels", str(tmp_path / "codes.jsonl")])
    assert result.exit_code == 0, result.output
    assert [len(m) for m in macs(session)] == [32]
    text = json.loads((tmp_path / "codes.jsonl").read_text())["code"]
    results = post(session, [scan(text, "3513")])
    assert results[0]["anomalies"] == [] and no_signature_checks == []
