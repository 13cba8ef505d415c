#!/usr/bin/env python3
"""Benchmark scanner.decode.read_codes on the shared camera-frame QR benchmark.

Runs the shared runner (shared/bench/decode/run.py, beside the repository) on
`scanner.decode:read_codes` next to the anchors zxing-harder and pyzbar in the same run (figures
drift 10-20 % between runs, so only compare decoders measured together), then prints decode
rate and per-frame time per condition.  The frames are generated with the shared gen.py into a
cache directory the first time (~110 MB, ~40-75 s on 2 cores); `--seed` makes another set of the
same conditions, to check that nothing is tuned to one set's frames.

    python benchmarks/decode.py                        # default seed, everything (~1 min)
    python benchmarks/decode.py --seed 7               # another set
    python benchmarks/decode.py --max-per-level 2      # quick look
    make bench-decode

Not part of the test suite: it takes minutes and needs the shared benchmark checkout.
Results and commands for the figures in docs/decoding.md are documented there.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SEED = 3513  # gen.py's own base seed: the set the shared anchors were measured on
OURS = "read_codes"


def find_bench(explicit: str | None) -> str:
    """Return the directory holding the shared gen.py and run.py."""
    candidates = [explicit] if explicit else [
        os.environ.get("JEJAK_DECODE_BENCH", ""),
        os.path.join(ROOT, "..", "shared", "bench", "decode"),  # CI: fresh clone with shared/ beside it
        "/work/shared/bench/decode",
    ]
    for c in candidates:
        if c and os.path.isfile(os.path.join(c, "run.py")) and os.path.isfile(os.path.join(c, "gen.py")):
            return os.path.abspath(c)
    raise SystemExit("shared decode benchmark not found (looked in: " + ", ".join(c for c in candidates if c)
                     + "); pass --bench DIR")


def default_data_dir(seed: int) -> str:
    """Return the cache directory for the frames of one seed."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    d = os.path.join(base, "jejak", f"decode-bench-seed{seed}")
    try:
        os.makedirs(d, exist_ok=True)
    except OSError:  # read-only or missing home (CI containers): fall back to the temp dir
        d = os.path.join(tempfile.gettempdir(), "jejak", f"decode-bench-seed{seed}")
    return d


def ensure_frames(bench: str, data: str, seed: int | None, python: str) -> int:
    """Generate the frames into `data` unless a complete set (of `seed`, if given) is there; return its seed."""
    gt = os.path.join(data, "gt.json")
    if os.path.isfile(gt):
        with open(gt) as fh:
            meta = json.load(fh)
        missing = [f["file"] for f in meta["frames"] if not os.path.isfile(os.path.join(data, f["file"]))]
        if seed in (None, meta.get("base_seed")) and not missing:
            return meta["base_seed"]
        print(f"# {data}: seed {meta.get('base_seed')}, {len(missing)} frames missing: regenerating",
              file=sys.stderr)
    seed = DEFAULT_SEED if seed is None else seed
    print(f"# generating frames (seed {seed}) into {data} ...", file=sys.stderr, flush=True)
    os.makedirs(data, exist_ok=True)
    subprocess.run([python, os.path.join(bench, "gen.py"), "--out", data, "--seed", str(seed)], check=True)
    return seed


def run_bench(a: argparse.Namespace, bench: str) -> dict:
    """Run the shared runner and return its JSON results."""
    out_json = a.json or os.path.join(tempfile.gettempdir(), f"jejak-decode-seed{a.seed}.json")
    out_md = a.md or os.path.join(tempfile.gettempdir(), f"jejak-decode-seed{a.seed}.md")
    cmd = [a.python, os.path.join(bench, "run.py"), "--data", a.data, "--json", out_json, "--md", out_md,
           "--decoders", a.anchors or "none", "--decoder", f"{OURS}=scanner.decode:read_codes",
           "--plugin-python", a.plugin_python or a.python]
    if a.max_per_level:
        cmd += ["--max-per-level", str(a.max_per_level)]
    if a.conditions:
        cmd += ["--conditions", a.conditions]
    # cwd = repository root: the runner's plugin worker imports `scanner` from its working directory
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL if not a.verbose else None)
    with open(out_json) as fh:
        res = json.load(fh)
    res["_md"] = out_md
    return res


def fmt(m: dict) -> str:
    """Return 'rate median/p95' for one summary."""
    return f"{m['rate']:.2f} {m['ms_median']:5.1f}/{m['ms_p95']:5.1f}"


def report(res: dict) -> str:
    """Return a per-condition table (decode rate, median/p95 ms per frame) and totals."""
    decs = list(res["decoders"])
    w = 18
    lines = [f"frames: {res['frames']} from {res['data']}",
             "condition".ljust(16) + "".join(d.rjust(w) for d in decs),
             "".ljust(16) + "".join("rate  med/p95 ms".rjust(w) for _ in decs)]
    for c in res["condition_order"]:
        lines.append(c.ljust(16) + "".join(fmt(res["results"][d]["by_condition"][c]).rjust(w) for d in decs))
    lines.append("all (micro)".ljust(16) + "".join(fmt(res["results"][d]["overall"]).rjust(w) for d in decs))
    lines.append("macro".ljust(16) + "".join(f"{res['results'][d]['macro_rate']:.3f}".rjust(w) for d in decs))
    lines.append("wrong (f+g)".ljust(16) + "".join(
        f"{res['results'][d]['overall']['wrong_false']}+{res['results'][d]['overall']['wrong_garbled']}".rjust(w)
        for d in decs))
    lines.append("timeouts/errors".ljust(16) + "".join(
        f"{res['results'][d]['overall']['timeouts']}/{res['results'][d]['overall']['errors']}".rjust(w)
        for d in decs))
    lines.append(f"full tables (per level, per resolution): {res['_md']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse options, make the frames if needed, run the benchmark and print the summary."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None,
                    help=f"frame set seed (default: the set already in --data, else {DEFAULT_SEED})")
    ap.add_argument("--data", help="frame directory (default: a per-seed cache dir); generated when missing")
    ap.add_argument("--bench", help="shared benchmark dir with gen.py and run.py (default: ../shared/bench/decode)")
    ap.add_argument("--max-per-level", type=int, default=0, help="quick run: first N frames of each level")
    ap.add_argument("--conditions", default="", help="comma list of conditions (default: all)")
    ap.add_argument("--anchors", default="zxing-harder,pyzbar",
                    help="built-in decoders run beside read_codes (comma list, 'none')")
    ap.add_argument("--python", default=sys.executable, help="interpreter for gen.py and the runner")
    ap.add_argument("--plugin-python", default="", help="interpreter for read_codes (default: --python)")
    ap.add_argument("--json", help="write the runner's full JSON here")
    ap.add_argument("--md", help="write the runner's full markdown tables here")
    ap.add_argument("-v", "--verbose", action="store_true", help="also print the runner's own tables")
    a = ap.parse_args(argv)
    bench = find_bench(a.bench)
    a.data = os.path.abspath(a.data or default_data_dir(DEFAULT_SEED if a.seed is None else a.seed))
    a.seed = ensure_frames(bench, a.data, a.seed, a.python)
    print(f"seed {a.seed}\n" + report(run_bench(a, bench)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
