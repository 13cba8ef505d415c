"""Forged, superseded, unexpected and misrouted labels get the red signal offline."""

from __future__ import annotations

import io

from labels.payload import verification_code
from scanner.checks import Checker
from scanner.cli import main
from tests.scanner.conftest import DISTRICT, TPS_1, TPS_OTHER_DISTRICT, ServerDown, make_label


def _lines(capsys):
    return [line.split("\t") for line in capsys.readouterr().out.splitlines()]


def test_forged_superseded_and_unexpected_labels_are_red_offline(
        cached_outbox, label_key, forger_key, monkeypatch, capsys):
    good = make_label(label_key, "P-1")
    tampered = good.replace(".300.", ".900.")
    texts = [
        good,
        make_label(forger_key, "P-3"),                # key not trusted
        tampered,                                       # signature does not match
        make_label(label_key, "P-2", version=1),      # reprinted as version 2
        make_label(label_key, "P-9"),                  # not in the plan
        make_label(label_key, "P-8", destination=TPS_OTHER_DISTRICT),  # another district
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(texts) + "\n"))
    network = ServerDown()
    code = main(["run", "--wedge", "--server", "http://jejak.test", "--token", "t",
                 "--location", DISTRICT, "--action", "receive", "--sound", "none",
                 "--outbox", str(cached_outbox.path)], transport=network)
    assert code == 0 and network.calls > 0
    lines = _lines(capsys)
    assert [line[0] for line in lines] == ["ACCEPTED"] + ["PROBLEM"] * 5
    reasons = [line[7] for line in lines]
    assert "not trusted" in reasons[1]
    assert "signature does not match" in reasons[2]
    assert "superseded label: version 1, current is 2" in reasons[3]
    assert "P-9 is not expected here" in reasons[4]
    assert f"wrong route: destination {TPS_OTHER_DISTRICT} is not under {DISTRICT}" in reasons[5]
    assert all(line[5] == "offline" for line in lines)
    # Red scans are still recorded, for the server to keep as evidence.
    assert cached_outbox.counts()["pending"] == 6


def test_text_that_is_no_label_is_red_and_still_recorded(cached_outbox):
    verdict = Checker(cached_outbox).check("https://example.com/promo", DISTRICT, "receive")
    assert verdict.signal == "problem" and "not a Jejak label" in verdict.reason
    assert verdict.code == "https://example.com/promo"


def test_a_device_that_never_synced_is_amber_never_green(outbox, forger_key):
    # A forged label would pass unchecked here: the person must not read "accepted".
    verdict = Checker(outbox).check(make_label(forger_key, "P-1"), DISTRICT, "receive")
    assert verdict.signal == "warning"
    assert verdict.reason == "not checked: never synced (no keys or no expected list cached yet)"


def test_a_scan_recorded_damaged_or_with_a_broken_seal_is_amber(cached_outbox, label_key):
    checker = Checker(cached_outbox)
    damaged = checker.check(make_label(label_key, "P-1"), DISTRICT, "receive", "damaged")
    broken = checker.check(make_label(label_key, "P-1"), DISTRICT, "inspect", "seal_broken")
    assert (damaged.signal, damaged.reason) == ("warning", "recorded as damaged")
    assert (broken.signal, broken.reason) == ("warning", "recorded with the seal broken")


def test_a_count_that_differs_from_the_plan_is_amber(cached_outbox, label_key):
    verdict = Checker(cached_outbox).check(make_label(label_key, "P-1", quantity=250), DISTRICT,
                                           "receive")
    assert verdict.signal == "warning"
    assert verdict.reason == "count differs: label says 250, the plan says 300"


def test_the_worst_reason_is_the_one_given(cached_outbox, label_key):
    checker = Checker(cached_outbox)
    tampered = make_label(label_key, "P-1").replace(".300.", ".900.")
    checker.outbox.add(code=tampered, package_id="P-1", location=DISTRICT, action="receive",
                       container="", disposition="ok", seal="", operator="", device="",
                       offline=True, rescan=False, signal="problem", reason="")
    verdict = checker.check(tampered, DISTRICT, "receive", "damaged")
    assert verdict.signal == "problem"
    assert verdict.reason == "forged label: signature does not match"
    assert verdict.reasons[1:] == ["recorded as damaged", "already scanned here (receive)"]


def test_wrong_route_is_caught_even_without_an_expected_list(outbox, forger_key):
    verdict = Checker(outbox).check(make_label(forger_key, "P-1", destination=TPS_OTHER_DISTRICT),
                                    DISTRICT, "receive")
    assert verdict.signal == "problem" and "wrong route" in verdict.reason


def test_manual_entry_is_sent_in_canonical_form_and_checked_against_the_plan(cached_outbox,
                                                                              label_key):
    checker = Checker(cached_outbox)
    signature = make_label(label_key, "P-1").rsplit(".", 1)[1]
    code = verification_code(signature)
    verdict = checker.check(f"p-1 {code.lower()}", DISTRICT, "receive")
    assert verdict.signal == "accepted" and verdict.code == f"P-1 {code}"
    assert checker.check(f"P-404 {code}", DISTRICT, "receive").signal == "problem"


def test_manual_entry_with_a_wrong_code_is_red_when_the_plan_knows_the_code(cached_outbox):
    cached_outbox.store_expected(DISTRICT, [{"package_id": "P-1", "destination": TPS_1,
                                             "label_version": 1, "verification_code": "AAAA-BBBB"}])
    verdict = Checker(cached_outbox).check("P-1 CCCC-DDDD", DISTRICT, "receive")
    assert verdict.signal == "problem" and "does not match" in verdict.reason


def test_cache_filled_by_the_real_server_flags_labels_offline(live, outbox, forger_key,
                                                             monkeypatch, capsys):
    planned = live.plan_ids[0]
    live.plan[planned].label_version = 2           # a reprint replaced version 1
    live.session.commit()
    assert main(["refresh", "--server", live.url, "--token", live.token, "--location", DISTRICT,
                 "--outbox", str(outbox.path)], transport=live.transport) == 0
    assert "1 trusted keys" in capsys.readouterr().out
    texts = [live.label(live.plan_ids[1]), live.label(planned, version=2),
             live.label(planned, version=1), make_label(forger_key, live.plan_ids[1]),
             make_label(live.key, "NOT-IN-PLAN")]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(texts) + "\n"))
    assert main(["run", "--wedge", "--server", live.url, "--token", live.token, "--location",
                 DISTRICT, "--action", "receive", "--sound", "none", "--outbox",
                 str(outbox.path)], transport=ServerDown()) == 0
    lines = _lines(capsys)
    assert [line[0] for line in lines] == ["ACCEPTED", "ACCEPTED", "PROBLEM", "PROBLEM", "PROBLEM"]
    assert "superseded label: version 1, current is 2" in lines[2][7]
    assert "not trusted" in lines[3][7]
    assert "not expected here" in lines[4][7]


def test_ballot_of_another_dapil_is_red_at_the_tps(cached_outbox, label_key):
    outbox = cached_outbox
    outbox.store_expected(TPS_1, [{"package_id": "P-1", "destination": TPS_1, "label_version": 1}],
                          {"code": TPS_1, "level": "tps", "dapil": ["DPR-JATIM-2", "DPRD-X-1"]})
    checker = Checker(outbox)
    wrong = checker.check(make_label(label_key, "P-1", dapil="DPR-JATIM-5"), TPS_1, "receive")
    right = checker.check(make_label(label_key, "P-1"), TPS_1, "receive")
    assert wrong.signal == "problem" and "wrong dapil: ballot of DPR-JATIM-5" in wrong.reason
    assert right.signal == "accepted", right.reasons
