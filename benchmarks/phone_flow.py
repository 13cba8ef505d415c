"""Benchmark of the phone scanner's flow in headless Chromium (not a test).

    .venv/bin/python benchmarks/phone_flow.py [--labels 6] [--repeat 2]

Serves the test world (tests/browser/scan_world.py: a plan, labels rendered by `jejak-labels`,
a device) and shows N labels one after another to Chromium's fake camera (1280x720 MJPEG at
30 fps: 1.2 s label, 2.5 s nothing). Reports:

* decoded frames per second in the page (worker answers / wall time) and the worker's median
  decode time per 1280x720 frame;
* label in view -> scan in the IndexedDB outbox: the moment a label appears is its place in the
  video mapped to page time through requestVideoFrameCallback's mediaTime; the outbox time is when
  the IndexedDB transaction (durability "strict") completed, i.e. when the person gets the signal;
* decoded frame -> outbox (the page's own share: checks + Ed25519 + IndexedDB write).
Targets of issue 12: >= 15 decoded frames/s, a label recorded within 1 s of appearing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.browser.live import CHROMIUM, CHROMIUM_ARGS, serving  # noqa: E402
from tests.browser.scan_world import camera_args, standalone_world, write_mjpeg  # noqa: E402

LEAD, SHOWN, GAP = 4.0, 1.2, 2.5


def run_once(p, base, token, labels, ids, tmp: Path, n: int) -> dict:
    video = tmp / f"flow-{time.monotonic_ns()}.mjpeg"
    segments, onsets, t = [(None, LEAD)], [], LEAD
    for pid in ids[:n]:
        onsets.append(t)
        segments += [(labels.images[pid], SHOWN), (None, GAP)]
        t += SHOWN + GAP
    write_mjpeg(video, segments + [(None, 30.0)])
    ctx = p.chromium.launch_persistent_context(
        str(tmp / f"profile-{time.monotonic_ns()}"), executable_path=CHROMIUM, headless=True,
        args=CHROMIUM_ARGS + ["--disable-quic"] + camera_args(video), permissions=["camera"],
        viewport={"width": 390, "height": 844})
    try:
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.goto(f"{base}/scan#token={token}")
        page.wait_for_function("() => window.jejakScan && window.jejakScan.ready")
        deadline = time.monotonic() + t + 10
        while time.monotonic() < deadline:
            if page.evaluate("window.jejakScan.events.length") >= n:
                break
            time.sleep(0.2)
        time.sleep(0.5)
        probe = page.evaluate("""() => { const j = window.jejakScan, s = j.stats;
            return {events: j.events, frames: s.frames, decoded: s.decoded, decodeMs: s.decodeMs,
                    startedAt: s.startedAt, now: performance.now(), mediaOffset: s.mediaOffset,
                    info: s.info}; }""")
    finally:
        ctx.close()
    events = [e for e in probe["events"] if e["source"] == "camera"]
    by_text = {e["text"]: e for e in events}
    latencies = []
    for pid, onset in zip(ids[:n], onsets):
        e = by_text.get(labels.texts[pid])
        if e is not None and probe["mediaOffset"] is not None:
            latencies.append(e["storedAt"] - (probe["mediaOffset"] + onset * 1000))
    seconds = (probe["now"] - probe["startedAt"]) / 1000
    return {"recorded": len(events), "expected": n, "latencies": latencies,
            "frame_to_outbox": [e["storedAt"] - e["frameTime"] for e in events],
            "fps": probe["decoded"] / seconds, "camera_fps": probe["frames"] / seconds,
            "decode_ms": probe["decodeMs"], "info": probe["info"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        app, token, labels = standalone_world(tmp)
        ids = list(labels.images)
        n = min(args.labels, len(ids))
        runs = []
        with serving(app) as base, sync_playwright() as p:
            for _ in range(args.repeat):
                runs.append(run_once(p, base, token, labels, ids, tmp, n))
    lat = [x for r in runs for x in r["latencies"]]
    f2o = [x for r in runs for x in r["frame_to_outbox"]]
    dec = [x for r in runs for x in r["decode_ms"]]
    print(f"decoder: {runs[0]['info']}")
    print(f"labels recorded: {sum(r['recorded'] for r in runs)} of {sum(r['expected'] for r in runs)} "
          f"({args.repeat} runs x {n} labels, each recorded once)")
    print(f"decoded frames/s in the page: {statistics.median(r['fps'] for r in runs):.1f} "
          f"(camera frames/s {statistics.median(r['camera_fps'] for r in runs):.1f}); "
          f"worker decode per 1280x720 frame: median {statistics.median(dec):.1f} ms, "
          f"p95 {sorted(dec)[int(0.95 * (len(dec) - 1))]:.1f} ms")
    if lat:
        print(f"label in view -> scan in the outbox: median {statistics.median(lat):.0f} ms, "
              f"max {max(lat):.0f} ms (n={len(lat)})")
    print(f"decoded frame -> scan in the outbox: median {statistics.median(f2o):.0f} ms, "
          f"max {max(f2o):.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
