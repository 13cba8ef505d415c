"""The README's "A handoff from start to finish", run literally, as a newcomer would.

The repository is cloned (``git clone`` of this checkout's committed HEAD, so what is tested
is what a newcomer gets) into a temporary folder. ``make run`` is stood in for by what it
does once set up - ``jejak-server init-db``, ``jejak-server demo`` (the small scale, to keep
this under a minute), ``jejak-server run`` - with the server in the background on a free port,
its database the clone's own ``instance/jejak.sqlite3``. ``make`` itself is not run: it would
reinstall into the shared virtual environment. The clone reuses this checkout's ``.venv``
through a symlink, so nothing is installed; because that environment's editable install
points at this checkout's sources, ``PYTHONPATH`` puts the clone's sources first, so the
clone's code is what runs.

The blocks marked ``<!-- handoff -->`` in that README section are joined in order and run in
one ``bash`` (as if pasted into one terminal), from the top of the clone, with only
``JEJAK_SERVER`` set beforehand (the README says to set it for a server on another port),
``HOME`` a temporary folder, and ``set -eo pipefail`` so that any failing command fails here.
Then it checks what a person would: every command's exit status, the scans recorded, the
damaged box listed as an anomaly, and the BAST the README points at, logged in as the
supervisor the README creates.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## A handoff from start to finish"
MARK = "<!-- handoff -->"

pytestmark = pytest.mark.slow


def handoff_blocks(readme: str) -> list[str]:
    """Return the code blocks marked for the handoff in the README's handoff section, in order."""
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    section = readme[start:end if end != -1 else None]
    return re.findall(re.escape(MARK) + r"\n```sh\n(.*?)```", section, flags=re.S)


def _free_port() -> int:
    """Return a TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args, cwd, env, **kw) -> subprocess.CompletedProcess:
    """Run a command, failing with its output when it fails."""
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, **kw)
    assert result.returncode == 0, \
        f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def _clone(tmp_path: Path) -> Path:
    """Clone this repository at HEAD and give it this checkout's virtual environment."""
    # The environment running these tests is the one `make test` set up: the clone uses it.
    venv = Path(sys.prefix)
    assert (venv / "bin" / "jejak-server").exists(), \
        f"{venv} has no jejak-server: run the tests with the project's venv (make test)"
    clone = tmp_path / "jejak"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    (clone / ".venv").symlink_to(venv)
    return clone


def _environment(clone: Path, home: Path) -> dict:
    """Return the environment of a fresh shell: no JEJAK_* settings, the clone's code first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JEJAK_", "XDG_"))}
    env.update(HOME=str(home), PYTHONPATH=str(clone), LC_ALL="C.UTF-8")
    # A fresh shell has no virtual environment on PATH: the README must put it there.
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(sys.prefix)) or "/usr/bin:/bin"
    return env


def _wait_until_up(url: str, server: subprocess.Popen) -> None:
    """Wait for the served health endpoint, failing if the server process ends."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited: {server.stderr.read()}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server at {url} did not answer within 30 s")


def _figures(text: str, code: str) -> list[int]:
    """Return the figures of a BAST table row by item type code, as pdftotext lays them out."""
    line = next(line for line in text.splitlines() if f"({code})" in line)
    return [int(n.replace(".", "")) for n in re.findall(r"(?<!\S)[\d.]+(?!\S)", line)]


def _login(url: str, username: str, password: str) -> httpx.Client:
    """Return a dashboard client logged in as a user, the way a browser does it."""
    client = httpx.Client(base_url=url, timeout=30)
    form = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = client.post("/login", data={"username": username, "password": password,
                                         "csrf_token": csrf})
    assert answer.status_code == 302, answer.text
    return client


def test_the_readme_handoff_works_pasted_into_a_fresh_shell_after_make_run(tmp_path):
    clone = _clone(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    env = _environment(clone, home)
    blocks = handoff_blocks((clone / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 6, "the handoff section lost its marked blocks"

    # What `make run` does once set up: the demo in the clone's instance folder, then serve.
    served = dict(env, PATH=f"{clone / '.venv' / 'bin'}{os.pathsep}{env['PATH']}",
                  JEJAK_INSTANCE_PATH=str(clone / "instance"))
    _run(["jejak-server", "init-db"], clone, served)
    _run(["jejak-server", "demo", "--scale", "small"], clone, served)
    url = f"http://127.0.0.1:{_free_port()}"
    server = subprocess.Popen(["jejak-server", "run", "--port", url.rsplit(":", 1)[1]],
                              cwd=clone, env=served, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        _wait_until_up(url, server)
        script = "set -eo pipefail\n" + "".join(
            f"echo '### handoff block {i}' >&2\n{block}\n" for i, block in enumerate(blocks, 1))
        shell = subprocess.run(["bash", "-c", script], cwd=clone, env=dict(env, JEJAK_SERVER=url),
                               capture_output=True, text=True, timeout=240)
        out, err = shell.stdout, shell.stderr
        assert shell.returncode == 0, f"exit {shell.returncode}\n{out}\n{err}"

        # The plan, with generated ids, and labels printed from it.
        assert "4 package ids generated" in out
        work = clone / "handoff"
        assert (work / "labels.pdf").read_bytes().startswith(b"%PDF")
        codes = (work / "codes.txt").read_text().split()
        assert len(codes) == 4 and all(c.startswith("J1.") for c in codes)
        # The warehouse's scans went up online; the PPK's waited offline, then sync sent them.
        lines = [line.split("\t") for line in out.splitlines() if line.count("\t") >= 7]
        assert [(l[2], l[3], l[5]) for l in lines].count(("dispatch", "3520", "online")) == 4
        ppk = [l for l in lines if l[3] == "352001"]
        assert [(l[0], l[4], l[5]) for l in ppk if not l[0].startswith("PENDING")] == [
            ("WARNING", "damaged", "offline")] + [("ACCEPTED", "ok", "offline")] * 3
        assert "trusted keys and 4 packages expected at 352001" in out  # refresh
        assert "4 recorded, 0 already recorded, 0 rejected; 0 pending" in out
        # The damaged box is an anomaly, at Poncol, shown in the API answers.
        assert '"kind": "damaged"' in out and '"package_id": "3520012001001-KOTAK-1"' in out
        assert "created supervisor 'magetan' for region 3520" in out
        assert '"valid": true' in out

        # What the README points at in the dashboard, as its supervisor.
        password = re.search(r"echo '([^']+)' \| jejak-server create-user magetan", out + script)
        dashboard = _login(url, "magetan", password.group(1))
        assert "3520012001001-KOTAK-1" in dashboard.get("/anomalies/").text
        assert dashboard.get("/packages/3520012001001-KOTAK-1").status_code == 200
        bast = dashboard.get("/reports/bast.pdf", params={"to": "352001"})
        assert bast.status_code == 200 and bast.content.startswith(b"%PDF")
        (tmp_path / "bast.pdf").write_bytes(bast.content)
        text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "bast.pdf"), "-"],
                              check=True, capture_output=True, text=True).stdout
        # dispatched, short, extra, received, damaged, problem, good, quantity
        assert _figures(text, "KOTAK") == [2, 0, 0, 2, 1, 0, 1, 2]
        assert _figures(text, "SS-DPR") == [2, 0, 0, 2, 0, 0, 2, 580]
    finally:
        server.terminate()
        server.wait(timeout=10)
    shutil.rmtree(clone / "handoff", ignore_errors=True)
