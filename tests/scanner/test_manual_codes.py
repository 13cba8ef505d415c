"""Hand-typed verification codes: checked offline from the server's expected list, and again by it."""

from __future__ import annotations

import io
import json

from sqlalchemy import select

from labels.payload import parse
from scanner.cli import main
from tests.scanner.conftest import DISTRICT, ServerDown


def _lines(capsys):
    return [line.split("\t") for line in capsys.readouterr().out.splitlines()]


def test_a_wrong_typed_code_is_red_offline_once_the_cache_holds_the_printed_codes(
        live, outbox, tmp_path, monkeypatch, capsys):
    from server.labelling.printing import print_labels
    from server.models import Anomaly

    pid = live.plan_ids[0]
    out = tmp_path / "printed.jsonl"
    print_labels(live.session, live.key, out, package_ids=[pid], fmt="codes")
    code = parse(json.loads(out.read_text())["code"]).verification_code
    assert main(["refresh", "--server", live.url, "--token", live.token, "--location", DISTRICT,
                 "--outbox", str(outbox.path)], transport=live.transport) == 0
    capsys.readouterr()
    assert outbox.expected_package(DISTRICT, pid)["verification_code"] == code

    typed = [f"{pid} {code}", f"{pid} AAAA-AAAA"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(typed) + "\n"))
    assert main(["run", "--wedge", "--server", live.url, "--token", live.token, "--location",
                 DISTRICT, "--action", "receive", "--sound", "none", "--outbox",
                 str(outbox.path)], transport=ServerDown()) == 0
    lines = _lines(capsys)
    assert [line[0] for line in lines] == ["ACCEPTED", "PROBLEM"]
    assert "verification code AAAA-AAAA does not match" in lines[1][7]

    # Uploaded later, the server reaches the same verdict from its registry.
    assert main(["sync", "--server", live.url, "--token", live.token, "--outbox",
                 str(outbox.path)], transport=live.transport) == 0
    live.session.expire_all()
    forged = live.session.scalars(select(Anomaly).where(Anomaly.kind == "forged_label")).all()
    assert [a.claimed_package for a in forged] == [pid]
    assert sorted(r["raw_code"] for r in live.rows().values() if r["matched"]) == [typed[0]]
