#!/usr/bin/env python3
"""Benchmark the phone scanner's decode worker (server/static/scan/decode-worker.js) in headless Chromium.

Runs the shared browser harness (shared/bench/phone/run_browser.py) with our worker mounted beside
the zxing-wasm peers, in ONE run (browser figures drift 10-20 % between runs, so only compare
decoders measured together), on the shared camera-like frames (shared/bench/decode/gen.py), then
prints decode rate, wrong decodes and time per condition and the ratios ours / each peer.

The shared harness folder is read-only: it is copied to a scratch directory (--scratch) and its
pinned npm peers are installed there with `npm ci` (once). The worker is served from the app's
static folder at its real URL (/static/scan/decode-worker.js) with its vendored zxing-wasm files
(server/static/scan/vendor/, made by the app's install step); when they are absent, a temporary
copy of the static folder gets them from the harness's node_modules (same pinned zxing-wasm).

    PY=/tmp/phonevenv/bin/python     # playwright, numpy, opencv, segno: see the shared README
    $PY benchmarks/phone_decode.py --shared ../shared/bench --data /tmp/decode-data \\
        --json /tmp/phone.json --md /tmp/phone.md             # full run, ~3 min
    $PY benchmarks/phone_decode.py --shared ../shared/bench --data /tmp/decode-data --max-per-level 1
    $PY benchmarks/phone_decode.py --shared ../shared/bench --data /tmp/decode-data-s7 --seed 7

Not part of the test suite (minutes, a browser, the shared checkout). Figures: docs/decoding-phone.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = "jejak-worker"
WORKER_URL = "/static/scan/decode-worker.js"
VENDOR_FILES = {  # vendor path under static/scan/vendor/ -> path in node_modules/zxing-wasm/dist/
    "zxing-wasm/share.js": "es/share.js",
    "zxing-wasm/reader/index.js": "es/reader/index.js",
    "zxing-wasm/reader/zxing_reader.wasm": "reader/zxing_reader.wasm",
}


def find_shared(explicit: str | None) -> str:
    """Return the shared bench directory (holding phone/run_browser.py and decode/gen.py)."""
    cands = [explicit] if explicit else [os.environ.get("JEJAK_SHARED_BENCH", ""),
                                         os.path.join(ROOT, "..", "shared", "bench"), "/work/shared/bench"]
    for c in cands:
        if c and os.path.isfile(os.path.join(c, "phone", "run_browser.py")) \
                and os.path.isfile(os.path.join(c, "decode", "gen.py")):
            return os.path.abspath(c)
    raise SystemExit("shared bench not found (looked in: " + ", ".join(c for c in cands if c) + "); pass --shared DIR")


def ensure_frames(shared: str, data: str, seed: int | None, python: str) -> None:
    """Generate the frames into `data` with gen.py unless a set (of `seed`, if given) is there."""
    gt = os.path.join(data, "gt.json")
    if os.path.isfile(gt):
        with open(gt) as fh:
            have = json.load(fh).get("base_seed")
        if seed is None or seed == have:
            return
        raise SystemExit(f"{data} holds seed {have}, not {seed}: pass another --data")
    cmd = [python, os.path.join(shared, "decode", "gen.py"), "--out", data]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    print(f"# generating frames into {data} ...", file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)


def ensure_scratch(shared: str, scratch: str) -> None:
    """Copy the read-only harness to `scratch` and `npm ci` its pinned peers (once per lock file)."""
    src = os.path.join(shared, "phone")
    lock = os.path.join(src, "package-lock.json")
    stamp = os.path.join(scratch, ".lock-installed")
    with open(lock, "rb") as fh:
        want = fh.read()
    if os.path.isfile(stamp) and open(stamp, "rb").read() == want and os.path.isdir(os.path.join(scratch, "node_modules")):
        for f in ("run_browser.py",):  # refresh the runner and page in case the shared copy moved on
            shutil.copy(os.path.join(src, f), os.path.join(scratch, f))
        shutil.copytree(os.path.join(src, "web"), os.path.join(scratch, "web"), dirs_exist_ok=True)
        return
    print(f"# copying {src} to {scratch} and installing its peers (npm ci) ...", file=sys.stderr, flush=True)
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(src, scratch)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=scratch, check=True, stdout=subprocess.DEVNULL)
    with open(stamp, "wb") as fh:
        fh.write(want)


def static_dir(static: str, scratch: str, tmp: str) -> str:
    """Return a static folder holding scan/decode-worker.js and its zxing-wasm vendor files.

    The app's own folder when its vendor files are there; otherwise a temporary copy with the vendor
    files taken from the harness's node_modules (the same pinned zxing-wasm), so the repository is
    never written to.
    """
    vendor = os.path.join(static, "scan", "vendor")
    if all(os.path.isfile(os.path.join(vendor, v)) for v in VENDOR_FILES):
        return static
    out = os.path.join(tmp, "static")
    shutil.copytree(static, out, ignore=shutil.ignore_patterns("vendor"))
    dist = os.path.join(scratch, "node_modules", "zxing-wasm", "dist")
    for v, d in VENDOR_FILES.items():
        os.makedirs(os.path.dirname(os.path.join(out, "scan", "vendor", v)), exist_ok=True)
        shutil.copy(os.path.join(dist, d), os.path.join(out, "scan", "vendor", v))
    print(f"# {vendor} incomplete: serving a copy with zxing-wasm from {dist}", file=sys.stderr)
    return out


def ms(v) -> str:
    return "-" if v is None else (f"{v:.1f}" if v < 10 else f"{v:.0f}")


def report(res: dict) -> str:
    """Return the summary tables (markdown) of one run: ours and each peer, and ours / peer ratios."""
    R = res["results"]
    decs = [d for d in R if d != OURS] + ([OURS] if OURS in R else [])
    lines = ["| decoder | rate | macro | wrong (false+garbled) | frames fully decoded | ms median | ms p95 "
             "| ms median 1280x720 | ms p95 1280x720 | page ms median / p95 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for d in decs:
        o, r720, F = R[d]["overall"], R[d]["by_resolution"].get("1280x720", {}), R[d]["full_ms"]
        lines.append(f"| {d} | {o['rate']:.3f} | {R[d]['macro_rate']:.3f} | {o['wrong_false']}+{o['wrong_garbled']} "
                     f"| {o['frames_complete']}/{o['frames']} | {ms(o['ms_median'])} | {ms(o['ms_p95'])} "
                     f"| {ms(r720.get('ms_median'))} | {ms(r720.get('ms_p95'))} | {ms(F['median'])} / {ms(F['p95'])} |")
    if OURS in R and len(decs) > 1:
        lines += ["", "| ours / peer | rate | macro | ms median | ms p95 | page ms median |", "|---|---:|---:|---:|---:|---:|"]
        o = R[OURS]
        for d in decs[:-1]:
            p = R[d]
            lines.append(f"| {OURS} / {d} | {o['overall']['rate'] / p['overall']['rate']:.3f} "
                         f"| {o['macro_rate'] / p['macro_rate']:.3f} "
                         f"| {o['overall']['ms_median'] / p['overall']['ms_median']:.2f} "
                         f"| {o['overall']['ms_p95'] / p['overall']['ms_p95']:.2f} "
                         f"| {o['full_ms']['median'] / p['full_ms']['median']:.2f} |")
    lines += ["", "| condition | frames | " + " | ".join(decs) + " |", "|---|---:|" + "---:|" * len(decs)]
    for c in res["condition_order"]:
        n = R[decs[0]]["by_condition"][c]["frames"]
        lines.append(f"| {c} | {n} | " + " | ".join(
            f"{R[d]['by_condition'][c]['rate']:.2f} / {ms(R[d]['by_condition'][c]['ms_median'])} / "
            f"{ms(R[d]['by_condition'][c]['ms_p95'])}" for d in decs) + " |")
    lines.append("\n(per condition: rate / median ms / p95 ms of the decode call in the worker)")
    v = res.get("versions", {})
    lines.append(f"\nzxing-wasm {v.get('zxing-wasm')}; {v.get('chromium')}; {v.get('cpu')}; "
                 f"{res['frames']} frames from {res['data']}; wall {res.get('wall_s', 0):.0f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse options, prepare the harness and the frames, run it and print the comparison."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", help="shared bench dir holding phone/ and decode/ (default: ../shared/bench)")
    ap.add_argument("--data", required=True, help="frame directory (gen.py output); generated when missing")
    ap.add_argument("--seed", type=int, default=None, help="seed for gen.py when --data must be generated")
    ap.add_argument("--scratch", default=os.path.join(tempfile.gettempdir(), "jejak-phonebench"),
                    help="writable copy of shared/phone with its node_modules (default: %(default)s)")
    ap.add_argument("--static", default=os.path.join(ROOT, "server", "static"), help="the app's static folder")
    ap.add_argument("--peers", default="zxing-wasm,zxing-wasm-harder", help="harness peers run beside ours")
    ap.add_argument("--max-per-level", type=int, default=0, help="quick run: first N frames of each level")
    ap.add_argument("--conditions", default="", help="comma list of conditions (default: all)")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter with playwright/numpy/opencv/segno for the harness and gen.py")
    ap.add_argument("--json", default=os.path.join(tempfile.gettempdir(), "jejak-phone-decode.json"))
    ap.add_argument("--md", default=os.path.join(tempfile.gettempdir(), "jejak-phone-decode.md"))
    ap.add_argument("-v", "--verbose", action="store_true", help="also print the harness's own tables")
    a = ap.parse_args(argv)

    shared = find_shared(a.shared)
    data = os.path.abspath(a.data)
    ensure_frames(shared, data, a.seed, a.python)
    scratch = os.path.abspath(a.scratch)
    ensure_scratch(shared, scratch)
    with tempfile.TemporaryDirectory(prefix="jejak-phone-") as tmp:
        static = static_dir(os.path.abspath(a.static), scratch, tmp)
        cmd = [a.python, os.path.join(scratch, "run_browser.py"), "--data", data,
               "--decode-dir", os.path.join(shared, "decode"), "--node-modules", os.path.join(scratch, "node_modules"),
               "--decoders", a.peers or "none", "--mount", f"/static={static}", "--worker", f"{OURS}={WORKER_URL}",
               "--chromium", a.chromium, "--port", str(a.port), "--json", os.path.abspath(a.json),
               "--md", os.path.abspath(a.md)]
        if a.max_per_level:
            cmd += ["--max-per-level", str(a.max_per_level)]
        if a.conditions:
            cmd += ["--conditions", a.conditions]
        subprocess.run(cmd, cwd=scratch, check=True, stdout=None if a.verbose else subprocess.DEVNULL)
    with open(a.json) as fh:
        res = json.load(fh)
    if OURS in res.get("skipped", {}):
        print(f"our worker did not start: {res['skipped'][OURS]}", file=sys.stderr)
        return 1
    print(report(res))
    print(f"\nfull tables: {a.md}; per-frame results: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
