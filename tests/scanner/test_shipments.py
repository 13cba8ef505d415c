"""The surat jalan with jejak-scan: open a shipment, scan its koli, close it; receive it short.

Against the real server in-process; the sender works offline first, and an answer lost on
the way back is retried with the same ids: nothing is recorded twice.
"""

from __future__ import annotations

import io

import httpx
from sqlalchemy import select

from labels import commands
from scanner.cli import main
from scanner.feedback import Feedback
from scanner.outbox import Outbox
from scanner.session import Session
from scanner.station import Station
from scanner.uploader import Uploader, make_client
from tests.scanner.conftest import DISTRICT, TPS_1, ServerDown

VILLAGE = "3513010001"


class LoseOneAnswer(httpx.BaseTransport):
    """Pass requests on; the answer to the first POST of a list is lost on the way back."""

    def __init__(self, inner):
        self.inner, self.lost = inner, False

    def handle_request(self, request):
        response = self.inner.handle_request(request)
        if request.method == "POST" and "/shipments" in request.url.path and not self.lost:
            self.lost = True
            response.read()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


def station(outbox, location, **session):
    """Return a station at a location and its standard error."""
    err = io.StringIO()
    return Station(outbox, Session(location=location, **session), Feedback(io.StringIO(), err)), err


def shipment_anomalies(app):
    """Return (kind, package, place) of the shipment anomalies the server holds."""
    from server.models import Anomaly

    with app.extensions["jejak.db"].session() as s:
        return sorted((a.kind, a.package.package_id, a.location.code) for a in s.scalars(
            select(Anomaly).where(Anomaly.kind.in_(("short_shipment", "not_in_shipment")))))


def test_a_shipment_sent_offline_and_received_short_with_an_extra_koli(app, live, region, tmp_path):
    from tests.factories import make_plan

    live.plan.update(make_plan(live.session, region, tps_codes=[TPS_1],
                               item_types=("BILIK", "TINTA")))
    live.session.commit()
    listed = live.plan_ids + [f"{TPS_1}-BILIK"]
    missing, extra = listed[1], f"{TPS_1}-TINTA"

    sender_box = Outbox(tmp_path / "sender.sqlite3")
    sender, _ = station(sender_box, DISTRICT, action="receive", ship_to=VILLAGE)
    sender.handle(commands.SHIPMENT_OPEN)
    for pid in listed:
        sender.handle(live.label(pid))
    sender.handle(commands.SHIPMENT_CLOSE)
    sender.handle(commands.ACTION_DISPATCH)
    sender.handle(live.label(extra))           # dispatched apart from the surat jalan

    down = Uploader(sender_box, make_client(live.url, live.token, transport=ServerDown()),
                    sleep=lambda s: None)
    assert down.sync(attempts=2).pending == 4
    assert sender_box.lists("pending")[0].number is None
    up = Uploader(sender_box, make_client(live.url, live.token,
                                          transport=LoseOneAnswer(live.transport)),
                  sleep=lambda s: None)
    report = up.sync(attempts=3)
    assert report.pending == 0 and len(report.lists) == 1
    sent = sender_box.lists("sent")[0]
    assert sent.number.startswith("SJ-") and sent.answer["status"] == "already_recorded"
    reference = sent.answer["reference"]

    # The village scans the surat jalan's QR, two of the three koli and the extra one.
    receiver_box = Outbox(tmp_path / "receiver.sqlite3")
    receiver, err = station(receiver_box, VILLAGE, action="inspect")
    receiver.handle(reference)
    assert receiver.session.action == "receive"
    for pid in [p for p in listed if p != missing] + [extra]:
        receiver.handle(live.label(pid))
    receiver.handle(commands.SHIPMENT_CLOSE)
    assert "queued for upload" in err.getvalue()
    report = Uploader(receiver_box, live.client(), sleep=lambda s: None).sync()
    (answer,) = report.lists
    assert answer["short_shipment"] == [missing] and answer["not_in_shipment"] == [extra]
    assert shipment_anomalies(app) == sorted([("short_shipment", missing, VILLAGE),
                                              ("not_in_shipment", extra, VILLAGE)])

    # Everything again (a device restored from a backup): nothing doubles.
    for box in (sender_box, receiver_box):
        box._db.execute("UPDATE lists SET state = 'pending'")
        box._db.execute("UPDATE scans SET state = 'pending'")
        again = Uploader(box, live.client(), sleep=lambda s: None).sync()
        assert again.delivered == 0 and again.rejected == 0
        assert {a["status"] for a in again.lists} == {"already_recorded"}
    assert len(shipment_anomalies(app)) == 2
    assert set(live.scan_rows().values()) == {1}


def test_a_list_left_open_is_taken_up_again_after_a_restart(live, tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")
    first, _ = station(box, DISTRICT, action="receive", ship_to=VILLAGE)
    first.handle(commands.SHIPMENT_OPEN)
    first.handle(live.label(live.plan_ids[0]))
    box.close()
    box = Outbox(tmp_path / "o.sqlite3")
    second, _ = station(box, DISTRICT, action="dispatch", ship_to=VILLAGE)
    second.handle(live.label(live.plan_ids[1]))
    second.handle(commands.SHIPMENT_CLOSE)
    (closed,) = box.lists("pending")
    assert closed.koli == [live.label(p) for p in live.plan_ids[:2]]


def test_open_without_ship_to_or_close_without_a_list_records_nothing(outbox):
    sender, err = station(outbox, DISTRICT, action="receive")
    sender.handle(commands.SHIPMENT_OPEN)
    sender.handle(commands.SHIPMENT_CLOSE)
    sender.handle("JSJ1.SJ-000001.NOT-A-UUID")
    assert "--ship-to" in err.getvalue() and "no shipment or receipt is open" in err.getvalue()
    assert "no valid shipment uuid" in err.getvalue()
    assert outbox.lists() == [] and outbox.counts()["pending"] == 0


def test_cli_lists_shipments_and_downloads_the_surat_jalan(live, tmp_path, capsys):
    box_path = tmp_path / "o.sqlite3"
    box = Outbox(box_path)
    sender, _ = station(box, DISTRICT, action="receive", ship_to=VILLAGE)
    sender.handle(commands.SHIPMENT_OPEN)
    sender.handle(live.label(live.plan_ids[0]))
    sender.handle(commands.SHIPMENT_CLOSE)
    box.close()
    args = ["--server", live.url, "--token", live.token]
    assert main(["sync", *args, "--outbox", str(box_path)], transport=live.transport) == 0
    out = capsys.readouterr().out
    assert "shipment SJ-" in out and "surat-jalan.pdf" in out
    assert main(["shipments", "--outbox", str(box_path)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("SENT\tshipment\tSJ-")
    number = line.split("\t")[2]
    pdf = tmp_path / "sj.pdf"
    assert main(["surat-jalan", number, "-o", str(pdf), *args], transport=live.transport) == 0
    assert pdf.read_bytes().startswith(b"%PDF")
