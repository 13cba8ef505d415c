"""Both parties with jejak-scan: enrol makes the station's key; confirm signs the handover.

Against the real server in-process.  The giver confirms offline right after closing its
shipment (queued, sent by sync once the shipment is numbered); the receiver confirms its
receipt; the server then shows both confirmations.
"""

from __future__ import annotations

import stat

from sqlalchemy import select

from labels import commands
from scanner.cli import main
from scanner.outbox import Outbox
from server.models import ShipmentConfirmation
from tests.factories import device_token
from tests.scanner.conftest import DISTRICT, ServerDown
from tests.scanner.test_shipments import VILLAGE, station


def test_enrol_makes_a_private_key_file_only_the_owner_reads_and_registers_it_once(
        live, tmp_path, capsys):
    box = tmp_path / "data" / "outbox.sqlite3"
    args = ["--server", live.url, "--token", live.token, "--outbox", str(box)]
    assert main(["enrol", *args], transport=live.transport) == 0
    out = capsys.readouterr().out
    assert "registered (made now)" in out
    key_file = tmp_path / "data" / "device_key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    pem = key_file.read_bytes()
    assert main(["enrol", *args], transport=live.transport) == 0
    assert "already_registered" in capsys.readouterr().out
    assert key_file.read_bytes() == pem  # never replaced


def test_giver_confirms_offline_then_sync_sends_it_and_the_receiver_confirms(
        app, live, tmp_path, capsys):
    receiver_token = device_token(live.session, VILLAGE)
    live.session.commit()
    giver_box_path, receiver_box_path = tmp_path / "g" / "o.sqlite3", tmp_path / "r" / "o.sqlite3"
    giver = ["--server", live.url, "--token", live.token, "--outbox", str(giver_box_path)]
    taker = ["--server", live.url, "--token", receiver_token, "--outbox", str(receiver_box_path)]
    assert main(["enrol", *giver], transport=live.transport) == 0
    assert main(["enrol", *taker], transport=live.transport) == 0

    box = Outbox(giver_box_path)
    sender, _ = station(box, DISTRICT, action="receive", ship_to=VILLAGE)
    sender.handle(commands.SHIPMENT_OPEN)
    for pid in live.plan_ids[:2]:
        sender.handle(live.label(pid))
    sender.handle(commands.SHIPMENT_CLOSE)
    box.close()
    capsys.readouterr()
    # Offline: the confirmation waits in the outbox with the shipment.
    assert main(["confirm", "--last", "--name", "Budi", *giver], transport=ServerDown()) == 0
    assert "queued" in capsys.readouterr().out
    assert main(["sync", *giver], transport=live.transport) == 0
    out = capsys.readouterr().out
    assert "confirmed as the giver (recorded)" in out
    number = next(line for line in out.splitlines() if "confirmed as the giver" in line).split()[0]

    reference = Outbox(giver_box_path).lists("sent")[0].answer["reference"]
    rbox = Outbox(receiver_box_path)
    receiver, _ = station(rbox, VILLAGE, action="inspect")
    receiver.handle(reference)
    receiver.handle(live.label(live.plan_ids[0]))
    receiver.handle(commands.SHIPMENT_CLOSE)
    rbox.close()
    assert main(["sync", *taker], transport=live.transport) == 0
    capsys.readouterr()
    # The station received this shipment: it may not confirm it as the giver.
    assert main(["confirm", number, "--party", "giver", *taker], transport=live.transport) == 2
    assert main(["confirm", number, "--name", "Sari", *taker], transport=live.transport) == 0
    assert f"{number} confirmed as the receiver (recorded)" in capsys.readouterr().out

    with app.extensions["jejak.db"].session() as s:
        rows = {c.party: c.name for c in s.scalars(select(ShipmentConfirmation))}
    assert rows == {"giver": "Budi", "receiver": "Sari"}


def test_confirm_without_enrol_says_to_enrol_first(live, tmp_path, capsys):
    box = Outbox(tmp_path / "o.sqlite3")
    sender, _ = station(box, DISTRICT, action="receive", ship_to=VILLAGE)
    sender.handle(commands.SHIPMENT_OPEN)
    sender.handle(live.label(live.plan_ids[0]))
    sender.handle(commands.SHIPMENT_CLOSE)
    box.close()
    code = main(["confirm", "--last", "--outbox", str(tmp_path / "o.sqlite3")])
    assert code == 1
    assert "jejak-scan enrol" in capsys.readouterr().err


def test_a_confirmation_queued_offline_goes_with_the_next_upload_of_a_scan(live, tmp_path,
                                                                         capsys):
    box_path = tmp_path / "o.sqlite3"
    args = ["--server", live.url, "--token", live.token, "--outbox", str(box_path)]
    assert main(["enrol", *args], transport=live.transport) == 0
    box = Outbox(box_path)
    sender, _ = station(box, DISTRICT, action="receive", ship_to=VILLAGE)
    sender.handle(commands.SHIPMENT_OPEN)
    sender.handle(live.label(live.plan_ids[0]))
    sender.handle(commands.SHIPMENT_CLOSE)
    box.close()
    assert main(["confirm", "--last", "--name", "Budi", "--outbox", str(box_path)]) == 0
    capsys.readouterr()
    # The station scans on (a typed code); its final upload takes the list and the confirmation.
    main(["manual", "pkg-7", "abcd-efgh", "--location", DISTRICT, "--action", "receive", *args],
         transport=live.transport)
    assert "confirmed as the giver (recorded)" in capsys.readouterr().err
    assert [c["state"] for c in Outbox(box_path).confirmations()] == ["sent"]
