"""Uploads: server down -> pending -> server up -> each scan delivered exactly once."""

from __future__ import annotations

import json
import random

import httpx
import pytest

from scanner.cli import main
from scanner.uploader import AuthError, Backoff, Uploader, make_client
from tests.scanner.conftest import DISTRICT, ServerDown, make_label


def _add(outbox, code, **extra):
    fields = dict(code=code, location=DISTRICT, action="receive", disposition="ok",
                  offline=True, signal="accepted")
    fields.update(extra)
    return outbox.add(**fields)


class Counting(httpx.BaseTransport):
    """Pass requests to another transport, keeping the batch sizes of POST /scans."""

    def __init__(self, inner, lose_answers: int = 0):
        self.inner = inner
        self.batches: list[int] = []
        self.lose_answers = lose_answers

    def handle_request(self, request):
        if request.method == "POST":
            self.batches.append(len(json.loads(request.read())["scans"]))
        response = self.inner.handle_request(request)
        if self.lose_answers and request.method == "POST":
            # The server did the work; the answer is lost on the way back.
            self.lose_answers -= 1
            response.read()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


def test_server_down_then_up_delivers_every_scan_exactly_once(live, outbox, label_key):
    scans = [_add(outbox, live.label(p), package_id=p) for p in live.plan_ids]
    scans.append(_add(outbox, make_label(label_key, "NOT-PLANNED"), package_id="NOT-PLANNED"))
    down = Uploader(outbox, make_client(live.url, live.token, transport=ServerDown()),
                    sleep=lambda s: None)
    report = down.sync(attempts=3)
    assert report.pending == len(scans) and "cannot reach the server" in report.error
    assert {s.attempts for s in outbox.scans("pending")} == {3}
    assert down.connectivity.online is False

    up = Uploader(outbox, live.client(), sleep=lambda s: None)
    report = up.sync()
    assert (report.delivered, report.pending, report.error) == (len(scans), 0, None)
    assert live.scan_rows() == {s.uuid: 1 for s in scans}
    assert up.sync().delivered == 0                      # nothing left to send
    assert live.scan_rows() == {s.uuid: 1 for s in scans}


def test_lost_answer_is_retried_with_the_same_ids_and_counted_once(live, outbox, label_key):
    scans = [_add(outbox, live.label(p), package_id=p) for p in live.plan_ids]
    transport = Counting(live.transport, lose_answers=1)
    uploader = Uploader(outbox, make_client(live.url, live.token, transport=transport),
                        sleep=lambda s: None)
    report = uploader.sync(attempts=2)
    assert report.already == len(scans) and report.pending == 0
    assert live.scan_rows() == {s.uuid: 1 for s in scans}
    assert {s.server_status for s in outbox.scans("sent")} == {"already_recorded"}


def test_backlog_goes_in_batches_of_at_most_500(live, outbox, label_key):
    label = live.label(live.plan_ids[0])
    scans = [_add(outbox, label, package_id=live.plan_ids[0]) for _ in range(501)]
    transport = Counting(live.transport)
    report = Uploader(outbox, make_client(live.url, live.token, transport=transport)).sync()
    assert transport.batches == [500, 1]
    assert report.delivered == 501 and report.pending == 0
    assert len(live.scan_rows()) == len(scans)


def test_rejected_scan_is_kept_aside_and_listed_by_status(live, outbox, label_key, capsys):
    good = _add(outbox, live.label(live.plan_ids[0]), package_id=live.plan_ids[0])
    bad = _add(outbox, "J1.X", operator="x" * 500)      # the server cannot store this operator
    report = Uploader(outbox, live.client()).sync()
    assert (report.delivered, report.rejected, report.pending) == (1, 1, 0)
    assert outbox.get(bad.uuid).state == "rejected" and "operator" in outbox.get(bad.uuid).error
    assert outbox.get(good.uuid).state == "sent"
    assert main(["status", "--outbox", str(outbox.path)]) == 0
    out = capsys.readouterr().out
    assert "1 rejected" in out and bad.uuid in out and "operator" in out


def test_whole_batch_refused_is_split_until_the_bad_scan_is_alone(outbox):
    for i in range(7):
        _add(outbox, "POISON" if i == 4 else f"CODE-{i}")

    def handler(request):
        scans = json.loads(request.read())["scans"]
        if any(s["code"] == "POISON" for s in scans):
            return httpx.Response(400, json={"error": {"status": 400, "message": "bad scan"}})
        return httpx.Response(200, json={"results": [
            {"id": s["id"], "status": "recorded", "anomalies": []} for s in scans]})

    client = make_client("http://x", "t", transport=httpx.MockTransport(handler))
    report = Uploader(outbox, client).sync()
    assert (report.delivered, report.rejected, report.pending) == (6, 1, 0)
    [rejected] = outbox.scans("rejected")
    assert rejected.code == "POISON" and rejected.error == "bad scan"


def test_scan_the_server_left_unanswered_stays_pending_and_goes_in_the_next_pass(outbox):
    for i in range(5):
        _add(outbox, f"CODE-{i}")
    posted: list[list[str]] = []

    def handler(request):
        scans = json.loads(request.read())["scans"]
        posted.append([s["code"] for s in scans])
        # The first answer leaves CODE-0 out; every later one answers everything.
        answered = scans[1:] if len(posted) == 1 else scans
        return httpx.Response(200, json={"results": [
            {"id": s["id"], "status": "recorded", "anomalies": []} for s in answered]})

    client = make_client("http://x", "t", transport=httpx.MockTransport(handler))
    uploader = Uploader(outbox, client, batch_size=2)
    first = uploader.upload_once()
    assert (first.delivered, first.pending) == (4, 1)
    assert posted == [["CODE-0", "CODE-1"], ["CODE-2", "CODE-3"], ["CODE-4"]]
    second = uploader.upload_once()
    assert (second.delivered, second.pending) == (1, 0)
    assert posted[3:] == [["CODE-0"]]
    assert [s.code for s in outbox.scans("sent")] == [f"CODE-{i}" for i in range(5)]


def test_refused_token_stops_the_upload_and_keeps_the_scans(outbox):
    _add(outbox, "CODE")
    client = make_client("http://x", "t", transport=httpx.MockTransport(
        lambda r: httpx.Response(401, json={"error": {"status": 401, "message": "bad token"}})))
    with pytest.raises(AuthError, match="bad token"):
        Uploader(outbox, client).sync()
    assert outbox.counts()["pending"] == 1


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap():
    backoff = Backoff(base=1.0, cap=8.0, rng=random.Random(3))
    delays = [backoff.next_delay() for _ in range(6)]
    for delay, full in zip(delays, [1, 2, 4, 8, 8, 8]):
        assert full * 0.5 <= delay <= full
    assert len(set(delays)) == len(delays)           # jittered, not lock-step


def test_busy_server_is_retried_after_the_time_it_asks_for(outbox):
    scan = _add(outbox, "CODE")
    answers = [httpx.Response(503, headers={"Retry-After": "7"},
                              json={"error": {"status": 503, "message": "database unavailable"}})]

    def handler(request):
        if answers:
            return answers.pop()
        return httpx.Response(200, json={"results": [
            {"id": scan.uuid, "status": "recorded", "anomalies": ["unknown_package"]}]})

    slept = []
    client = make_client("http://x", "t", transport=httpx.MockTransport(handler))
    report = Uploader(outbox, client, sleep=slept.append).sync()
    assert slept and slept[0] >= 7
    assert report.delivered == 1 and outbox.get(scan.uuid).anomalies == ["unknown_package"]


def test_wrong_server_address_keeps_scans_pending_not_rejected(outbox):
    for i in range(3):
        _add(outbox, f"CODE-{i}")
    client = make_client("http://x/not-jejak", "t", transport=httpx.MockTransport(
        lambda r: httpx.Response(404, text="<html>Not Found</html>")))
    report = Uploader(outbox, client, sleep=lambda s: None).sync(attempts=2)
    assert outbox.counts() == {"pending": 3, "sent": 0, "rejected": 0}
    assert "check --server" in report.error
