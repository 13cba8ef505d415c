"""Benchmark label rendering: labels/s, PDF size and peak memory, next to a baseline from the same run.

Usage::

    python benchmarks/labels.py                # 10,000 labels per case (a few minutes)
    python benchmarks/labels.py --n 2000       # quicker, same cases
    python benchmarks/labels.py --baseline-n 2000 --ablation-n 3000

Each case runs in its own subprocess, so peak memory (``ru_maxrss``) is that
case's alone.  The baseline is the way most projects draw QR labels:
``qrcode`` -> PIL PNG at 10 px per module -> reportlab ``drawImage``, with the
same error correction (Q), the same payloads and plain Helvetica text.  The
encoder section times ``qrcode``, ``segno`` and zxing-cpp on the same payloads.
Prints a Markdown table (the one in docs/label-format.md came from here).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def packages(n: int):
    """Return n realistic package rows (ballots with dapil, long-ish TPS ids)."""
    from labels.manifest import PackageRow

    types = [("SS-DPR", "DPR-JATIM-2"), ("SS-DPRDK", "DPRDK-3513-1"), ("KOTAK", ""),
             ("SS-PPWP", ""), ("SS-DPRDP", "DPRDP-JATIM-11")]
    rows = []
    for i in range(n):
        tps = f"3513{i // 5 // 12:06d}{i // 5 % 12 + 1:03d}"
        item, dapil = types[i % 5]
        rows.append(PackageRow(f"{tps}-{item}", item, 300, tps, dapil))
    names = {r.destination: f"TPS {int(r.destination[-3:]):03d} Desa Sumber Taman Jaya"
             for r in rows}
    return rows, names


def fixed_key():
    """Return the benchmark's fixed signing key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def case_jejak(n: int, template: str, out: Path) -> list[Path]:
    """Render with labels.render (what jejak-labels render does)."""
    from labels.render import render_packages

    rows, names = packages(n)
    return render_packages(rows, out / "labels.pdf", fixed_key(), template, names=names,
                           progress=False)


def case_baseline(n: int, template: str, out: Path) -> list[Path]:
    """Render with qrcode -> PNG -> drawImage into one PDF."""
    import io

    import qrcode
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    from labels.payload import sign
    from labels.templates import MM, get

    t = get(template)
    rows, names = packages(n)
    key = fixed_key()
    path = out / "baseline.pdf"
    canvas = Canvas(str(path), pagesize=(t.page_w * MM, t.page_h * MM), invariant=1)
    qr_mm = min(t.max_qr_mm, t.label_h - 2 * t.padding)
    for i, row in enumerate(rows):
        position = i % t.per_page
        if i and position == 0:
            canvas.showPage()
        x, y = t.label_origin(position)
        signed = sign(row.label(), key)
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, box_size=10, border=4)
        code.add_data(signed.text)
        code.make(fit=True)
        png = io.BytesIO()
        code.make_image().save(png, format="PNG")
        png.seek(0)
        canvas.drawImage(ImageReader(png), (x + t.padding) * MM, (y + t.padding) * MM,
                         qr_mm * MM, qr_mm * MM)
        tx = x + t.padding + (qr_mm if t.layout == "side" else 0)
        canvas.setFont("Helvetica-Bold", 9)
        canvas.drawString(tx * MM, (y + t.label_h - 6) * MM, row.package_id)
        canvas.setFont("Helvetica", 7)
        for k, text in enumerate((row.item_type, f"Tujuan: {row.destination}",
                                  names.get(row.destination, ""), f"Jumlah: {row.quantity}",
                                  f"Kode: {signed.verification_code}")):
            canvas.drawString(tx * MM, (y + t.label_h - 10 - 3.2 * k) * MM, text)
    canvas.showPage()
    canvas.save()
    return [path]


def run_case(kind: str, n: int, template: str, variant: str) -> dict:
    """Run one case in this process and return its figures."""
    if variant == "path":
        # The previous drawing: one vector path of run rectangles per code.
        from labels import qr, render

        def path_symbol(text):
            """Return (modules with quiet zone, one-path operators) for a payload."""
            matrix = qr.encode(text)
            return qr.modules_with_quiet_zone(matrix), qr.pdf_path(matrix)

        render._symbol = path_symbol
    if variant == "no-rl-accel":
        sys.modules["_rl_accel"] = None  # make reportlab fall back to pure Python
    if variant == "a85":
        from labels import render

        render._configure_reportlab = lambda: None
        from reportlab import rl_config

        rl_config.useA85 = 1
    out = Path(tempfile.mkdtemp(prefix="jejak-bench-"))
    start, cpu = time.perf_counter(), time.process_time()
    paths = (case_baseline if kind == "baseline" else case_jejak)(n, template, out)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    size = sum(p.stat().st_size for p in paths)
    for p in paths:
        p.unlink()
    out.rmdir()
    return {"kind": kind, "template": template, "variant": variant, "n": n,
            "seconds": elapsed, "labels_per_s": n / elapsed, "labels_per_cpu_s": n / cpu, "mb": size / 1e6, "files": len(paths),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def spawn(kind: str, n: int, template: str, variant: str = "") -> dict:
    """Run one case in a fresh subprocess and return its figures."""
    cmd = [sys.executable, __file__, "--case", kind, "--n", str(n), "--template", template,
           "--variant", variant]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def encoders(samples: int = 200) -> list[tuple[str, float, int]]:
    """Time one QR encoding (ECC Q) per library on label payloads: (name, ms, version)."""
    import qrcode
    import segno
    import zxingcpp

    from labels.payload import sign

    rows, _ = packages(samples)
    texts = [sign(r.label(), fixed_key()).text for r in rows]
    fmt = zxingcpp.BarcodeFormat.QRCode

    def qrcode_encode(t):
        """Encode with qrcode; return the version."""
        q = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, border=0)
        q.add_data(t)
        q.make(fit=True)
        return q.version

    def zxing_version(**kw):
        """Return an encoder with zxing-cpp and these options."""
        def encode(t):
            """Encode with zxing-cpp; return the version."""
            image = zxingcpp.create_barcode(t, fmt, ec_level="Q", **kw).to_image(
                scale=1, add_quiet_zones=False)
            return (image.shape[0] - 17) // 4
        return encode

    cases = [("qrcode (auto mask)", qrcode_encode),
             ("segno (auto mask)", lambda t: segno.make_qr(t, error="q", boost_error=False).version),
             ("zxing-cpp (auto mask)", zxing_version()),
             ("zxing-cpp (fixed mask 0, used)", zxing_version(data_mask=0))]
    results = []
    for name, encode in cases:
        count = samples if "zxing" in name else samples // 4
        start = time.perf_counter()
        versions = {encode(t) for t in texts[:count]}
        results.append((name, (time.perf_counter() - start) / count * 1e3, max(versions)))
    return results


def main() -> int:
    """Run every case (or one, with --case) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--baseline-n", type=int, default=None, help="default: --n")
    parser.add_argument("--ablation-n", type=int, default=3000)
    parser.add_argument("--case", choices=["jejak", "baseline"])
    parser.add_argument("--template", default="a4-3x8")
    parser.add_argument("--variant", default="")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.n, args.template, args.variant)))
        return 0
    base_n = args.baseline_n or args.n
    print(f"# Label rendering, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print("| case | template | labels | labels/s (per CPU-s) | x baseline | PDF MB (files) | peak MB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for template in ("a4-3x8", "thermal-100x150", "thermal-50x30"):
        base = spawn("baseline", base_n, template)
        path = spawn("jejak", args.n, template, "path")
        ours = spawn("jejak", args.n, template)
        for r in (base, path, ours):
            name = ("baseline qrcode->PNG->drawImage" if r["kind"] == "baseline" else
                    "jejak, one path per code (before)" if r["variant"] == "path" else
                    "jejak, module font (used)")
            ratio = r["labels_per_s"] / base["labels_per_s"]
            print(f"| {name} | {template} | {r['n']:,} | {r['labels_per_s']:,.0f} "
                  f"({r['labels_per_cpu_s']:,.0f}) | {ratio:.1f} | "
                  f"{r['mb']:.1f} ({r['files']}) | {r['peak_mb']:.0f} |", flush=True)
    for variant in ("a85", "no-rl-accel"):
        ref = spawn("jejak", args.ablation_n, "a4-3x8")
        alt = spawn("jejak", args.ablation_n, "a4-3x8", variant)
        print(f"| jejak, {variant} vs default | a4-3x8 | {args.ablation_n:,} | "
              f"{alt['labels_per_s']:,.0f} vs {ref['labels_per_s']:,.0f} | | "
              f"{alt['mb']:.1f} vs {ref['mb']:.1f} | {alt['peak_mb']:.0f} vs {ref['peak_mb']:.0f} |",
              flush=True)
    print("\n| encoder (ECC Q, label payloads) | ms per code | QR version |")
    print("|---|---:|---:|")
    for name, ms, version in encoders():
        print(f"| {name} | {ms:.2f} | {version} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
