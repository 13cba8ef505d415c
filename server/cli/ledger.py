"""The ledger's commands: ``verify-log``, ``export-log``, ``checkpoint``, ``chain-backfill``, ``ledger-key``, ``ledger-head``, ``witness``.

``jejak-server verify-log`` checks the database's log (exit 1 and the problems in
log order when something is wrong, exit 0 and a summary otherwise);
the photo files are re-hashed against their chained SHA-256 (``--no-photos``: not);
``jejak-server verify-log --file EXPORT`` checks an export without any database;
``jejak-server export-log --region CODE -o FILE`` signs the head and writes the
region's export; ``jejak-server checkpoint`` signs the head;
``jejak-server ledger-key`` prints the ledger's public key for the oversight
body to pin (``verify-log --public-key``); ``jejak-server chain-backfill`` chains
scans that predate the ledger (bulk loads, databases older than migration 0003).
``jejak-server ledger-head`` prints the newest signed head; ``verify-log --head
FILE`` (repeatable) holds the log to heads kept earlier (TRUNCATED, FORKED);
``jejak-server witness --server URL --token T --dir D`` keeps heads for the
oversight body (``server.ledger.witness``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import httpx
from cryptography.hazmat.primitives import serialization
from flask import Flask, current_app
from sqlalchemy import inspect

from labels.keys import KeyFileError, load_public_key, public_pem
from server.config import ledger_key_path, photo_dir
from server.db import get_db
from server.ledger.chain import backfill, backfill_records, checkpoint
from server.ledger.checkpoints import _public_raw, key_id_of, load_or_create_key
from server.ledger.content import LedgerError
from server.ledger.heads import current_head, read_heads
from server.ledger.verify import public_keys_of, verify_database, verify_export, write_export
from server.ledger.witness import WitnessError, witness
from server.models import Location
from server.photos.records import check_files
from server.photos.store import PhotoStore
from server.reports.bast_seal import BastSealError, check_seal, read_seal
from server.reports.bast_seal import summary as seal_summary


def _pinned(paths) -> set[str] | None:
    """Return the key ids of the ledger public key files given, or None for none."""
    if not paths:
        return None
    ids = set()
    for path in paths:
        try:
            key = load_public_key(path)
        except KeyFileError as exc:
            raise click.UsageError(str(exc)) from None
        ids.add(key_id_of(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)))
    return ids


def _pinned_raw(paths) -> dict[str, bytes]:
    """Return {key id: raw public key} of the ledger public key files given."""
    out = {}
    for path in paths:
        try:
            raw = load_public_key(path).public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw)
        except KeyFileError as exc:
            raise click.UsageError(str(exc)) from None
        out[key_id_of(raw)] = raw
    return out


# The HTTP transport the witness uses (tests put a WSGI transport over the app here).
TRANSPORT = None


def _http_fetch(server_url: str, token: str):
    """Return fetch(path, params) -> JSON over HTTP with the bearer token; errors raise."""
    client = httpx.Client(base_url=server_url.rstrip("/"), transport=TRANSPORT, timeout=60,
                          headers={"Authorization": f"Bearer {token}"})

    def fetch(path: str, params: dict):
        """GET one API path and return its JSON, refusing anything but a 200 JSON answer."""
        response = client.get(path, params=params)
        if response.status_code != 200:
            raise WitnessError(f"GET {path} answered {response.status_code}: "
                               f"{response.text[:200]}")
        try:
            return response.json()
        except ValueError:
            raise WitnessError(f"GET {path} did not answer JSON") from None

    return fetch


def _print_report(report, what: str) -> None:
    """Print a verification report and exit 1 when it found problems."""
    if report.ok:
        click.echo(f"{what} verifies: {report.summary()}")
        return
    for problem in report.problems:
        click.echo(str(problem))
    more = report.problem_count - len(report.problems)
    if more > 0:
        click.echo(f"... and {more} more problems")
    click.echo(f"{what} does NOT verify: {report.problem_count} problems; first: {report.problems[0]}")
    click.echo(report.summary())
    raise SystemExit(1)


def _ledger_key(create: bool = True):
    """Return the app's ledger key, turning key file errors into usage errors."""
    try:
        return load_or_create_key(ledger_key_path(current_app), create=create)
    except LedgerError as exc:
        raise click.UsageError(str(exc)) from None


def _verify_bast(path: str, pinned: set[str] | None) -> None:
    """Check a BAST's seal against the database's log: OK, or each thing that does not match."""
    own = ledger_key_path(current_app)
    trusted = set(pinned or ())
    if own.exists():
        trusted |= set(public_keys_of([_ledger_key(create=False)]))
    try:
        text, source = read_seal(path)
        with get_db().session() as session:
            payload, problems = check_seal(session, text, trusted or None)
    except BastSealError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"read from the {source}: {seal_summary(payload)}")
    if not trusted:
        click.echo("note: no ledger key to trust here (no key file, no --public-key): the "
                   "signature was checked with the key the QR carries")
    if problems:
        for problem in problems:
            click.echo(f"MISMATCH {problem}")
        click.echo(f"BAST {path} does NOT match the log: {len(problems)} problems")
        raise SystemExit(1)
    click.echo(f"OK: BAST {path} matches the log")


def register(app: Flask) -> None:
    """Register the ledger commands."""
    @app.cli.command("verify-log")
    @click.option("--file", "export_file", type=click.Path(dir_okay=False),
                  help="check this export offline instead of the database")
    @click.option("--public-key", "public_keys", multiple=True, type=click.Path(dir_okay=False),
                  help="ledger public key (PEM) checkpoints must be signed with; repeatable")
    @click.option("--head", "head_files", multiple=True, type=click.Path(dir_okay=False),
                  help="a signed head (JSON, or a witness's heads.jsonl) the log must still "
                       "hold: TRUNCATED or FORKED when it does not; repeatable")
    @click.option("--photos/--no-photos", "photos", default=True,
                  help="re-hash every photo file in PHOTO_DIR against its chained SHA-256 "
                       "(default); --no-photos checks the photo records only")
    @click.option("--bast", "bast_file", type=click.Path(dir_okay=False),
                  help="check a BAST (its PDF, or its QR's text in a file) against the log")
    def verify_log_command(export_file, public_keys, head_files, photos, bast_file):
        """Check the tamper-evident log and name the first record that was changed."""
        pinned = _pinned(public_keys)
        if bast_file:
            _verify_bast(bast_file, pinned)
            return
        heads = []
        for path in head_files:
            try:
                heads += read_heads(path)
            except LedgerError as exc:
                raise click.UsageError(str(exc)) from None
        if export_file:
            try:
                with open(export_file, encoding="utf-8") as fh:  # bad UTF-8: a format problem
                    report = verify_export(fh, pinned, heads=heads)
            except OSError as exc:
                raise click.UsageError(f"cannot read {export_file!r}: {exc.strerror}") from None
            _print_report(report, f"export {export_file}")
            return
        path = ledger_key_path(current_app)
        head_keys = _pinned_raw(public_keys)
        if path.exists():
            own = public_keys_of([_ledger_key(create=False)])
            pinned = (pinned or set()) | set(own)
            head_keys.update(own)
        db = get_db()
        if "ledger_entries" not in inspect(db.engine).get_table_names():
            raise click.UsageError("this database has no ledger yet: run `jejak-server init-db` "
                                   "(then `chain-backfill` for the scans it already holds)")
        with db.session() as session:
            report = verify_database(session, pinned, heads=heads, head_keys=head_keys)
            what = "log"
            if photos:
                checked = check_files(session, PhotoStore(photo_dir(current_app)), report)
                what = f"log (photo files re-hashed: {checked})"
        _print_report(report, what)

    @app.cli.command("ledger-head")
    @click.option("-o", "--output", type=click.Path(dir_okay=False),
                  help="also write the head to this file (for verify-log --head)")
    def ledger_head_command(output):
        """Print the ledger's newest signed head as JSON (seq, chain, signed_at, key_id, signature)."""
        key = _ledger_key()
        with get_db().session() as session:
            head = current_head(session, key)
        text = json.dumps(head, sort_keys=True)
        if output:
            try:
                Path(output).write_text(text + "\n", encoding="utf-8")
            except OSError as exc:
                raise click.UsageError(f"cannot write {output!r}: {exc.strerror}") from None
        click.echo(text)

    @app.cli.command("witness")
    @click.option("--server", "server_url", required=True, help="the Jejak server, e.g. https://jejak.example")
    @click.option("--token", required=True, help="an API token (an observer's is enough)")
    @click.option("--dir", "directory", required=True, type=click.Path(file_okay=False),
                  help="where the witness keeps the heads (on a machine the server cannot reach)")
    @click.option("--public-key", "public_key", type=click.Path(dir_okay=False),
                  help="the ledger public key (PEM) to pin; default: the server's, on first use")
    def witness_command(server_url, token, directory, public_key):
        """Fetch the signed head, check it extends the one kept before, and keep it (for cron)."""
        given = None
        if public_key:
            try:
                given = load_public_key(public_key).public_bytes(serialization.Encoding.Raw,
                                                                 serialization.PublicFormat.Raw)
            except KeyFileError as exc:
                raise click.UsageError(str(exc)) from None
        fetch = _http_fetch(server_url, token)
        try:
            result = witness(fetch, directory, given)
        except WitnessError as exc:
            click.echo(f"witness: {exc}", err=True)
            raise SystemExit(3) from None
        except httpx.HTTPError as exc:
            click.echo(f"witness: cannot fetch from {server_url}: {exc}", err=True)
            raise SystemExit(3) from None
        if result.pinned_now:
            click.echo(f"pinned ledger key {result.head['key_id'] if result.head else ''} in "
                       f"{directory}; compare it with `jejak-server ledger-key` out of band")
        if not result.ok:
            for problem in result.problems:
                click.echo(problem)
            raise SystemExit(1)
        head = result.head
        since = (f", {result.entries_checked} entries since seq {result.previous['seq']} checked"
                 if result.previous else "")
        click.echo(f"head seq {head['seq']} chain {head['chain'][:16]}... signed {head['signed_at']} "
                   f"by {head['key_id']} kept{since}")

    @app.cli.command("export-log")
    @click.option("--region", "region_code", required=True, help="region code, e.g. 3513")
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
                  help="file to write (JSON lines)")
    def export_log_command(region_code, output):
        """Sign the log's head and write a region's export for offline checking."""
        key = _ledger_key()
        with get_db().session() as session:
            region = session.query(Location).filter_by(code=region_code).one_or_none()
            if region is None:
                raise click.UsageError(f"no location with code {region_code!r}")
            checkpoint(session, key)
            session.commit()
            tmp = Path(f"{output}.tmp{os.getpid()}")
            try:
                with open(tmp, "w", encoding="utf-8") as fh:
                    report = write_export(session, region, fh, public_keys_of([key]))
                os.replace(tmp, output)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise click.UsageError(f"cannot write {output!r}: {exc.strerror}") from None
        click.echo(f"wrote {output}: {report.entries} entries, {report.region_records} records of "
                   f"{region_code}, {report.checkpoints} checkpoints, head {report.head.hex()}")

    @app.cli.command("checkpoint")
    def checkpoint_command():
        """Sign the log's current head with the ledger key."""
        key = _ledger_key()
        with get_db().session() as session:
            content = checkpoint(session, key)
            session.commit()
        if content is None:
            click.echo("the log is empty: nothing to sign")
        else:
            click.echo(f"checkpoint: seq {content['covers_seq']} head {content['head']} "
                       f"signed by ledger key {content['key_id']}")

    @app.cli.command("chain-backfill")
    def chain_backfill_command():
        """Chain scans and records that predate the ledger (bulk loads, older databases)."""
        with get_db().session() as session:
            records = backfill_records(session, progress=lambda kind, n: click.echo(
                f"{n} {kind} records chained", err=True))
            count = backfill(session, progress=lambda n: click.echo(f"{n} scans chained", err=True)
                             if n % 500_000 == 0 else None)
        chained = "".join(f"{n} {kind}, " for kind, n in records.items() if n)
        click.echo(f"{chained}{count} scans chained; run `jejak-server checkpoint` to sign the new head")

    @app.cli.command("ledger-key")
    def ledger_key_command():
        """Print the ledger key's id and public key (PEM), for the oversight body to pin."""
        key = _ledger_key()
        click.echo(f"ledger key {key_id_of(_public_raw(key))} ({ledger_key_path(current_app)})")
        click.echo(public_pem(key.public_key()).rstrip())
