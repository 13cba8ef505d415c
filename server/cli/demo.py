"""`jejak-server demo`: load the demo region and print how to log in."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask

from server.db import get_db
from server.demo.load import DEMO_PASSWORD, USERS, VOTING_DAY, DemoError, DemoResult, load_demo
from server.demo.region import SCALES
from server.demo.scans import DEMO_NOW


def _login_text(result: DemoResult, instance: Path) -> str:
    """Return the demo-login.txt text: who to log in as, and what the demo is about."""
    lines = ["Jejak demo: Kabupaten Probolinggo, mid-distribution "
             f"(demo time {DEMO_NOW.strftime('%Y-%m-%d %H:%M')} WIB; voting day {VOTING_DAY})",
             # The address is the server's to say (make run prints the one it serves).
             "log in as one of:"]
    for username, role, region in USERS:
        lines.append(f"  {username} / {DEMO_PASSWORD}   ({role}, region {region})")
    lines.append(f"label signing key {result.key_id}: private key in {instance / 'demo-keys'}")
    lines.append(f"planted problems: {instance / 'demo-planted.json'}")
    return "\n".join(lines) + "\n"


def register(app: Flask) -> None:
    """Register the demo command."""

    @app.cli.command("demo")
    @click.option("--seed", type=int, default=2024, show_default=True,
                  help="random seed: the same seed loads the same region and scans")
    @click.option("--scale", type=click.Choice(sorted(SCALES)), default="full", show_default=True,
                  help="full: all 24 kecamatan; small: two kecamatan (for tests)")
    def demo_command(seed, scale):
        """Load the Kabupaten Probolinggo demo into an empty database."""
        instance = Path(app.instance_path)
        instance.mkdir(parents=True, exist_ok=True)
        with get_db().session() as session:
            try:
                result = load_demo(session, instance, seed, scale, echo=click.echo)
            except DemoError as exc:
                raise click.UsageError(str(exc)) from None
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(result.anomalies.items()))
        click.echo(f"recorded {result.statuses['recorded']} of {result.scans} scans "
                   f"({dict(result.statuses)}); anomalies raised while scanning: {kinds or 'none'}; "
                   f"missing as of {DEMO_NOW:%Y-%m-%d %H:%M} WIB: {result.missing}")
        click.echo(f"planted problems ({len(result.planted)}):")
        for p in result.planted:
            shown = ", ".join(p.packages[:3]) + (f" +{len(p.packages) - 3}" if len(p.packages) > 3 else "")
            click.echo(f"  {p.kind or '(no anomaly)':16} {shown}: {p.note}")
        login = _login_text(result, instance)
        (instance / "demo-login.txt").write_text(login, encoding="utf-8")
        click.echo(login.rstrip())
        click.echo(f"demo loaded in {result.seconds:.1f} s")
