"""The BAST names both parties and their confirmations, and its QR checks against the log offline.

A handover through the real API (a shipment dispatched, received with a koli
short, one extra and one counted short, both sides confirming on their own
devices); the BAST is drawn, its QR read back from the rendered PDF, and
``jejak-server verify-log --bast`` answers OK - or names what no longer matches.
"""

from __future__ import annotations

import io
import json
import subprocess

import pytest
from sqlalchemy import select, text

from server.config import ledger_key_path
from server.ledger.checkpoints import load_or_create_key
from server.ledger.content import digest_of
from server.models import LedgerEntry, Location
from server.reports.bast import bast_data, bast_pdf
from server.reports.bast_seal import PREFIX, read_seal, seal_text
from tests.factories import scan
from tests.server.shipments.test_confirmations import Phone
from tests.server.shipments.test_shipments import (
    DISTRICT,
    T0,
    VILLAGE,
    dispatch,
    post_scans,
    receive,
    world,  # noqa: F401  (the fixture)
)


@pytest.fixture
def handover(app, client, session, world):  # noqa: F811
    """Return the shipment's number and package ids after both parties confirmed it."""
    labels, auth = world["labels"], world["auth"]
    giver, receiver = Phone(session, DISTRICT), Phone(session, VILLAGE)
    session.commit()
    giver.register(client), receiver.register(client)
    ids = sorted(labels)
    _, shipment = dispatch(client, auth, labels, ids[:5])
    number = shipment["number"]
    assert giver.confirm(client, number, "giver", name="Budi Santoso").status_code == 201
    receive(client, auth, shipment, labels, ids[1:6])
    post_scans(client, auth, [scan(labels[ids[2]], VILLAGE, "inspect", T0, counted_quantity=290,
                                   damaged_quantity=3)])
    assert receiver.confirm(client, number, "receiver", name="Sari Dewi").status_code == 201
    return {"number": number, "ids": ids, "giver": giver, "receiver": receiver, "world": world}


def make_bast(app, db, tmp_path, name="bast.pdf"):
    """Draw the district -> village BAST, sealed with the server's ledger key; return its path."""
    with db.session() as s:
        sender = s.scalar(select(Location).where(Location.code == DISTRICT))
        receiver = s.scalar(select(Location).where(Location.code == VILLAGE))
        data = bast_data(s, sender, receiver)
        data.seal = seal_text(s, data, load_or_create_key(ledger_key_path(app)), tz=None)
        out = io.BytesIO()
        bast_pdf(data, out, lang="en")
    path = tmp_path / name
    path.write_bytes(out.getvalue())
    return path, data


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-raw", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def verify_bast(runner, path):
    result = runner.invoke(args=["verify-log", "--bast", str(path)])
    return result.exit_code, result.output


def test_the_bast_names_both_parties_their_confirmations_counts_and_discrepancies(
        app, db, tmp_path, handover):
    path, data = make_bast(app, db, tmp_path)
    ids = handover["ids"]
    [part] = data.shipments
    assert (part.number, part.sent, part.received) == (handover["number"], 5, 5)
    assert part.short_shipment == [ids[0]] and part.not_in_shipment == [ids[5]]
    assert part.quantity_mismatch == [(ids[2], 300, 290)]
    assert part.damaged == [(ids[2], 3, "ok")]
    giver, receiver = part.confirmations["giver"], part.confirmations["receiver"]
    assert (giver.name, giver.location, giver.covers_receipt) == ("Budi Santoso", DISTRICT, False)
    assert (receiver.name, receiver.location, receiver.covers_receipt) == ("Sari Dewi", VILLAGE,
                                                                           True)
    assert giver.current and receiver.current and giver.seq < receiver.seq
    words = " ".join(pdf_text(path).split())
    for expected in (handover["number"], "Budi Santoso", "Sari Dewi", f"short shipment: {ids[0]}",
                     f"not in shipment: {ids[5]}", "counted 290, label says 300",
                     "3 units damaged", f"ledger seq {giver.seq}", "verify-log --bast"):
        assert expected in words, expected
    assert "not confirmed" not in words


def test_the_qr_read_from_the_pdf_checks_ok_against_the_log(app, db, runner, tmp_path,
                                                            handover):
    path, data = make_bast(app, db, tmp_path)
    seal, source = read_seal(path)
    assert source == "QR" and seal == data.seal and seal.startswith(PREFIX)
    code, output = verify_bast(runner, path)
    assert code == 0, output
    assert f"OK: BAST {path} matches the log" in output
    assert "1 shipments, 2 confirmations" in output
    # The QR's text alone (typed from a phone's reader) checks the same.
    (tmp_path / "qr.txt").write_text(seal)
    assert verify_bast(runner, tmp_path / "qr.txt")[0] == 0


def test_a_party_that_has_not_confirmed_is_named_not_confirmed(app, client, db, tmp_path, world,
                                                             session):  # noqa: F811
    labels, auth = world["labels"], world["auth"]
    giver = Phone(session, DISTRICT)
    session.commit()
    giver.register(client)
    _, shipment = dispatch(client, auth, labels, sorted(labels)[:2])
    assert giver.confirm(client, shipment["number"], "giver").status_code == 201
    path, data = make_bast(app, db, tmp_path)
    assert data.shipments[0].confirmations["receiver"] is None
    words = " ".join(pdf_text(path).split())
    assert "Second party (receives): not confirmed" in words
    assert "not received yet" in words


def test_a_count_changed_after_the_bast_is_named_as_a_digest_mismatch(
        app, client, db, runner, tmp_path, handover):
    path, _ = make_bast(app, db, tmp_path)
    labels, auth = handover["world"]["labels"], handover["world"]["auth"]
    post_scans(client, auth, [scan(labels[handover["ids"][3]], VILLAGE, "inspect", T0,
                                   counted_quantity=1)])
    code, output = verify_bast(runner, path)
    assert code == 1
    assert f"MISMATCH digest: shipment {handover['number']} is" in output
    assert "MISMATCH digest: the receiver's confirmation" in output
    assert "the giver's confirmation" not in output  # the giver signed before the receipt


def test_an_altered_qr_text_fails_its_signature(app, db, runner, tmp_path, handover):
    path, data = make_bast(app, db, tmp_path)
    head, body, sig = data.seal.split(".")
    forged = tmp_path / "forged.txt"
    forged.write_text(f"{head}.{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{sig}")
    code, output = verify_bast(runner, forged)
    assert code != 0
    assert "signature" in output or "damaged" in output


def test_a_confirmation_removed_from_the_log_is_named_missing(app, db, runner, tmp_path,
                                                              handover):
    path, data = make_bast(app, db, tmp_path)
    seq = data.shipments[0].confirmations["giver"].seq
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET kind = 'scan' WHERE seq = :seq"), {"seq": seq})
    code, output = verify_bast(runner, path)
    assert code == 1
    assert f"MISMATCH the giver's confirmation of {handover['number']}: missing from log at " \
           f"seq {seq}" in output


def test_a_swapped_device_key_is_named(app, db, runner, tmp_path, handover):
    path, data = make_bast(app, db, tmp_path)
    seq = data.shipments[0].confirmations["receiver"].seq
    with db.session() as s:
        entry = s.get(LedgerEntry, seq)
        content = json.loads(entry.content)
        content["public_key"] = handover["giver"].public  # another device's key
        entry.content = json.dumps(content)
        entry.digest = digest_of(content)
        s.commit()
    code, output = verify_bast(runner, path)
    assert code == 1
    assert "receiver's confirmation" in output and "signature does not verify" in output
    assert "a swapped key" in output


def test_without_pdftoppm_the_copy_embedded_in_the_pdf_is_read(app, db, tmp_path, handover,
                                                                monkeypatch):
    path, data = make_bast(app, db, tmp_path)
    monkeypatch.setattr("server.reports.bast_seal.shutil.which", lambda name: None)
    assert read_seal(path) == (data.seal, "embedded copy")
