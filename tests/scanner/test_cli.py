"""jejak-scan end to end: the wedge pipe, SIGKILL mid-run, sync to the real server, usage errors."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.outbox import Outbox
from tests.scanner.conftest import DISTRICT, make_label

SCAN = [sys.executable, "-m", "scanner.cli"]
ROOT = Path(__file__).resolve().parents[2]


def _dead_server() -> str:
    """Return the URL of a port nothing listens on (the network is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _start(outbox: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("JEJAK_SERVER", None)
    env.pop("JEJAK_TOKEN", None)
    return subprocess.Popen(
        SCAN + ["run", "--wedge", "--server", _dead_server(), "--token", "t", "--location",
                DISTRICT, "--action", "receive", "--sound", "none", "--outbox", str(outbox),
                *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)


def _readline(proc: subprocess.Popen, timeout: float = 20.0) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "no line on standard output within the timeout"
    return proc.stdout.readline().decode()


def _send(proc: subprocess.Popen, text: str) -> None:
    proc.stdin.write((text + "\n").encode())
    proc.stdin.flush()


def test_wedge_pipe_prints_one_line_per_scan_as_it_is_accepted(tmp_path, label_key):
    proc = _start(tmp_path / "outbox.sqlite3", "--repeat-window", "30")
    acked = []
    for i in range(3):
        _send(proc, make_label(label_key, f"PKG-{i}"))
        acked.append(_readline(proc))            # the line comes before the next code is sent
    _send(proc, make_label(label_key, "PKG-2"))   # double trigger: no second line
    _send(proc, "JJK-CMD.ACTION.DISPATCH")        # a command: no line
    _send(proc, make_label(label_key, "PKG-0"))
    out, err = proc.communicate(timeout=60)
    lines = acked + out.decode().splitlines(keepends=True)
    assert proc.returncode == 0
    assert [line.split("\t")[1] for line in lines] == ["PKG-0", "PKG-1", "PKG-2", "PKG-0"]
    assert [line.split("\t")[2] for line in lines] == ["receive"] * 3 + ["dispatch"]
    assert all(line.split("\t")[5] == "offline" for line in lines)
    assert "action is now dispatch" in err.decode()
    assert "upload failed" in err.decode()       # one upload was tried at end of input
    box = Outbox(tmp_path / "outbox.sqlite3")
    assert box.counts()["pending"] == 4
    box.close()


def test_sigkill_mid_run_then_sync_holds_every_accepted_scan_exactly_once(
        tmp_path, live, label_key, monkeypatch, capsys):
    path = tmp_path / "outbox.sqlite3"
    codes = [make_label(label_key, f"PKG-{i}") for i in range(24)]
    accepted: list[str] = []                      # uuids the person was told "accepted"

    proc = _start(path)
    for code in codes[:10]:
        _send(proc, code)
        accepted.append(_readline(proc).split("\t")[6])
    for code in codes[10:14]:                    # typed, then the power goes mid-way
        _send(proc, code)
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    proc = _start(path)                          # restarted; the person rescans what had no beep
    for code in codes[10:]:
        _send(proc, code)
        accepted.append(_readline(proc).split("\t")[6])
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0

    monkeypatch.setenv("JEJAK_SERVER", live.url)
    monkeypatch.setenv("JEJAK_TOKEN", live.token)
    assert main(["sync", "--outbox", str(path)], transport=live.transport) == 0
    assert main(["sync", "--outbox", str(path)], transport=live.transport) == 0   # idempotent
    held = live.scan_rows()
    box = Outbox(path)
    local = {s.uuid for s in box.scans()}
    assert box.counts() == {"pending": 0, "sent": len(local), "rejected": 0}
    box.close()
    assert set(accepted) <= set(held)            # every accepted scan reached the server...
    assert set(held) == local                    # ...nothing else did...
    assert set(held.values()) == {1}             # ...and each exactly once
    assert len(accepted) == 24


def test_manual_command_records_the_verification_code_entry(tmp_path, capsys):
    path = tmp_path / "o.sqlite3"
    code = main(["manual", "pkg-7", "abcd-efgh", "--location", DISTRICT, "--action", "receive",
                 "--outbox", str(path)])
    assert code == 0
    line = capsys.readouterr().out.split("\t")
    # Never synced: nothing to check the code against, so amber, not green.
    assert line[:2] == ["WARNING", "PKG-7"] and "never synced" in line[7]
    box = Outbox(path)
    assert [s.code for s in box.scans()] == ["PKG-7 ABCD-EFGH"]
    box.close()


@pytest.mark.parametrize("args, message", [
    (["run", "--location", DISTRICT, "--action", "receive"], "exactly one source"),
    (["run", "--wedge", "--video", "x.avi", "--location", DISTRICT, "--action", "receive"],
     "got --wedge, --video"),
    (["run", "--serial", "/dev/ttyS0", "--device", "/dev/input/event0", "--location", DISTRICT,
      "--action", "receive"], "--device goes with --wedge"),
    (["run", "--wedge", "--location", DISTRICT, "--action", "sell"], "sell"),
    (["manual", "PKG-1", "12", "--location", DISTRICT, "--action", "receive"], "PACKAGE-ID XXXX-XXXX"),
    (["sync"], "--server and --token"),
    (["sync", "--server", "jejak.example", "--token", "t"], "http://"),
])
def test_user_mistakes_are_usage_errors(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.delenv("JEJAK_SERVER", raising=False)
    monkeypatch.delenv("JEJAK_TOKEN", raising=False)
    assert main(args + ["--outbox", str(tmp_path / "o.sqlite3")]) == 2
    assert message in capsys.readouterr().err


def test_status_of_an_outbox_that_is_not_sqlite_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "o.sqlite3"
    bad.write_text("not a database at all" * 100)
    assert main(["status", "--outbox", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "cannot open outbox" in err and "Traceback" not in err


def test_run_online_marks_scans_online_and_uploads_them(tmp_path, live, monkeypatch, capsys):
    import io

    path = tmp_path / "o.sqlite3"
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(live.label(p) + "\n"
                                                         for p in live.plan_ids)))
    assert main(["run", "--wedge", "--server", live.url, "--token", live.token, "--location",
                 DISTRICT, "--action", "receive", "--sound", "none", "--outbox", str(path)],
                transport=live.transport) == 0
    captured = capsys.readouterr()
    lines = [line.split("\t") for line in captured.out.splitlines()]
    assert [(line[1], line[5]) for line in lines] == [(p, "online") for p in live.plan_ids]
    box = Outbox(path)
    assert box.counts() == {"pending": 0, "sent": len(live.plan_ids), "rejected": 0}
    assert set(live.scan_rows()) == {s.uuid for s in box.scans()}
    box.close()


def test_sigkill_at_random_instants_loses_no_accepted_scan(tmp_path, label_key):
    import random

    rng = random.Random(11)
    path = tmp_path / "outbox.sqlite3"
    accepted: list[str] = []
    for round_ in range(4):
        proc = _start(path)
        payload = "".join(make_label(label_key, f"R{round_}-{i}") + "\n" for i in range(200))
        proc.stdin.write(payload.encode())   # the whole burst at once: scans are being written
        proc.stdin.flush()
        accepted.append(_readline(proc).split("\t")[6])   # writing has begun: kill at any instant
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        out = proc.stdout.read().decode()
        # Only whole lines were "accepted" (a line cut by the kill was never fully shown).
        accepted += [line.split("\t")[6] for line in out.split("\n")[:-1]]
        box = Outbox(path)                   # opens cleanly after every kill
        held = {s.uuid for s in box.scans()}
        box.close()
        assert set(accepted) <= held
    assert len(accepted) == len(set(accepted)) > 4


def test_what_the_server_makes_of_a_scanning_session(tmp_path, live, monkeypatch, capsys):
    import io

    from labels import commands
    from labels.payload import parse

    path = tmp_path / "o.sqlite3"
    box_id, ballots_id = sorted(live.plan_ids, key=lambda p: "KOTAK" not in p)
    sig = parse(live.label(ballots_id)).verification_code
    lines = [live.label(ballots_id),                      # received
             commands.DISPOSITION_DAMAGED, live.label(box_id),   # received damaged
             f"{ballots_id} {sig}",                        # typed by hand: a re-scan
             commands.ACTION_PACK, live.label(box_id),     # opens the container
             live.label(ballots_id), commands.END_CONTAINER]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["run", "--wedge", "--location", DISTRICT, "--action", "receive",
                 "--sound", "none", "--device-name", "laptop-ppk-sukapura",
                 "--outbox", str(path)]) == 0          # offline: no server
    shown = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    # Offline from the start, the station never synced: nothing is green, and the damaged box
    # says so before anything else.
    assert [(s[0], s[1], s[2], s[4]) for s in shown] == [
        ("WARNING", ballots_id, "receive", "ok"), ("WARNING", box_id, "receive", "damaged"),
        ("WARNING", ballots_id, "receive", "ok"), ("WARNING", ballots_id, "pack", "ok")]
    assert shown[1][7] == "recorded as damaged"
    assert shown[2][7].startswith("not checked: never synced")
    assert main(["sync", "--server", live.url, "--token", live.token, "--outbox", str(path)],
                transport=live.transport) == 0
    rows = live.rows()
    by_order = [rows[s[6]] for s in shown]
    assert all(r["matched"] and r["offline"] for r in by_order)
    assert {r["device"] for r in by_order} == {"laptop-ppk-sukapura"}
    assert by_order[1]["disposition"] == "damaged"
    assert by_order[2]["raw_code"] == f"{ballots_id} {sig}" and by_order[2]["counted"] is False
    assert by_order[3]["action"] == "pack" and by_order[3]["container_matched"]
    box = Outbox(path)
    assert "duplicate_scan" in box.get(shown[2][6]).anomalies
    assert "damaged" in box.get(shown[1][6]).anomalies
    box.close()


def test_location_the_server_does_not_know_stops_the_run(tmp_path, live, capsys):
    code = main(["run", "--wedge", "--server", live.url, "--token", live.token, "--location",
                 "9999", "--action", "receive", "--outbox", str(tmp_path / "o.sqlite3")],
                transport=live.transport)
    assert code == 1
    assert "does not know location '9999'" in capsys.readouterr().err


def test_outbox_defaults_to_the_users_data_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("JEJAK_OUTBOX", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert main(["manual", "PKG-1", "ABCD-EFGH", "--location", DISTRICT,
                 "--action", "receive"]) == 0
    assert (tmp_path / "data" / "jejak" / "outbox.sqlite3").exists()
    monkeypatch.setenv("JEJAK_OUTBOX", str(tmp_path / "elsewhere.sqlite3"))
    assert main(["status"]) == 0
    assert "elsewhere.sqlite3: 0 pending" in capsys.readouterr().out


def test_sync_with_the_server_down_exits_1_and_keeps_the_scans(tmp_path, capsys):
    from tests.scanner.conftest import ServerDown

    path = str(tmp_path / "o.sqlite3")
    assert main(["manual", "PKG-1", "ABCD-EFGH", "--location", DISTRICT, "--action", "receive",
                 "--outbox", path]) == 0
    assert main(["sync", "--server", "http://jejak.test", "--token", "t", "--outbox", path,
                 "--retries", "1"], transport=ServerDown()) == 1
    err = capsys.readouterr().err
    assert "1 scans not delivered: cannot reach the server" in err and "Traceback" not in err
    assert Outbox(path).counts()["pending"] == 1


def test_scanner_and_server_processes_over_real_http(tmp_path, live, database_url):
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, JEJAK_DATABASE_URL=database_url,
               JEJAK_INSTANCE_PATH=str(tmp_path / "instance"))
    server = subprocess.Popen([str(Path(sys.executable).with_name("jejak-server")), "run",
                               "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        scan = subprocess.run(
            SCAN + ["run", "--wedge", "--server", url, "--token", live.token, "--location",
                    DISTRICT, "--action", "receive", "--sound", "none",
                    "--outbox", str(tmp_path / "o.sqlite3")],
            input="".join(live.label(p) + "\n" for p in live.plan_ids), capture_output=True,
            text=True, cwd=ROOT, timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert scan.returncode == 0, scan.stderr
    lines = [line.split("\t") for line in scan.stdout.splitlines()]
    assert [(line[0], line[5]) for line in lines] == [("ACCEPTED", "online")] * len(live.plan_ids)
    assert "cached 1 trusted keys" in scan.stderr and "uploaded:" in scan.stderr
    assert set(live.scan_rows()) == {line[6] for line in lines}


def test_images_that_cannot_be_read_or_hold_no_code_are_named_and_fail(tmp_path, capsys):
    import cv2
    import numpy as np

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 255, dtype=np.uint8))
    code = main(["run", "--image", str(tmp_path / "missing.jpg"), str(blank), "--location",
                 DISTRICT, "--action", "receive", "--sound", "none",
                 "--outbox", str(tmp_path / "o.sqlite3")])
    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot read image {str(tmp_path / 'missing.jpg')!r}" in err
    assert f"no code found in image {str(blank)!r}" in err


def test_manual_takes_the_documented_sound_option(tmp_path, capsys):
    assert main(["manual", "P-1", "ABCD-EFGH", "--location", DISTRICT, "--action", "receive",
                 "--sound", "none", "--outbox", str(tmp_path / "o.sqlite3")]) == 0


def _documented_scanner_options() -> dict[str, set[str]]:
    """Return {subcommand: options} of every `jejak-scan ...` line of docs/scanner.md and README.md.

    A command line continues on the following lines indented deeper than it.
    """
    import re

    root = Path(__file__).resolve().parents[2]
    found: dict[str, set[str]] = {}
    for doc in (root / "docs" / "scanner.md", root / "README.md"):
        lines = doc.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            match = re.search(r"jejak-scan (run|manual|photo|status|sync|refresh|shipments|surat-jalan|enrol|confirm)\b(.*)", line)
            if not match:
                continue
            text = match.group(2)
            indent = len(line) - len(line.lstrip())
            for more in lines[i + 1:]:
                deeper = len(more) - len(more.lstrip()) > indent
                if not more.strip() or not deeper or "jejak-scan" in more:
                    break
                text += " " + more
            found.setdefault(match.group(1), set()).update(re.findall(r"--[a-z][a-z-]*", text))
    # The SOURCE table of docs/scanner.md: options of `run`.
    scanner_md = (root / "docs" / "scanner.md").read_text(encoding="utf-8")
    table = scanner_md.split("SOURCE is exactly one of")[1]
    found["run"].update(re.findall(r"--[a-z][a-z-]*", table.split("\n\n", 2)[1]))
    return found


def test_every_option_the_docs_show_is_accepted():
    from scanner.cli import cli

    documented = _documented_scanner_options()
    assert set(documented) == set(cli.commands)
    for name, options in documented.items():
        params = cli.commands[name].params
        accepted = {o for p in params for o in [*p.opts, *getattr(p, "secondary_opts", [])]}
        assert options - accepted == set(), f"jejak-scan {name} refuses what the docs show"
    assert {"--sound", "--device-name", "--outbox"} <= documented["manual"]
    assert {"--camera", "--wedge", "--device", "--serial", "--baud", "--image", "--video"} \
        <= documented["run"]
