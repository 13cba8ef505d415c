"""The ``jejak-labels`` command: keygen, render, verify, command-sheet.

Every user mistake (bad manifest, unknown template, unreadable key) ends with
a clear message and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys

import click

from . import i18n
from .keys import KeyFileError, generate, load_private_key, load_public_keys, write_key_pair
from .payload import BadSignature, PayloadError, UnknownKey, parse, verify


@click.group(help="Jejak labels: keys, signed QR labels, verification, command sheets.")
def cli():
    """Group the label commands."""


@cli.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="directory for the two key files")
def keygen(out_dir):
    """Write a new Ed25519 key pair (private file mode 0600) and print both paths."""
    try:
        private_path, public_path = write_key_pair(generate(), out_dir)
    except (KeyFileError, OSError) as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"private key: {private_path}  (keep it with whoever prints labels)")
    click.echo(f"public key:  {public_path}  (give it to the server: jejak-server trust-key)")


def _private_key(path):
    """Load the signing key, turning a bad file into a usage error."""
    try:
        return load_private_key(path)
    except KeyFileError as exc:
        raise click.UsageError(str(exc)) from None


# The layout options of `jejak-labels render`, shared with the server's print-labels and
# reprint so the two spell them, and their defaults, the same way.
_LAYOUT_OPTIONS = (
    click.option("--template", default=None,
                 help="a4-3x8 (pdf default), a4-2x7, thermal-100x150 (zpl default), thermal-50x30"),
    click.option("--format", "fmt", default="pdf", show_default=True,
                 type=click.Choice(["pdf", "zpl", "codes"])),
    click.option("--start", default=0, show_default=True,
                 help="skip the first N positions of the first sheet"),
    click.option("--offset-x", default=0.0, show_default=True, help="shift right, mm (printer calibration)"),
    click.option("--offset-y", default=0.0, show_default=True, help="shift down, mm (printer calibration)"),
    click.option("--lang", default=i18n.DEFAULT_LANGUAGE, show_default=True,
                 type=click.Choice(list(i18n.LANGUAGES))),
    click.option("--max-per-file", default=5000, show_default=True,
                 help="split bigger PDF runs into OUT-part001.pdf, ..."),
)


def layout_options(f):
    """Add --template, --format, --start, --offset-x/-y, --lang and --max-per-file to a command."""
    for option in reversed(_LAYOUT_OPTIONS):
        f = option(f)
    return f


@cli.command()
@click.argument("packages", type=click.Path(dir_okay=False))
@click.option("-o", "--out", required=True, help="output file ('-' = stdout for zpl/codes)")
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False),
              help="private key PEM (from keygen)")
@layout_options
@click.option("--locations", type=click.Path(dir_okay=False),
              help="locations CSV/XLSX (code,name,...) for destination names")
def render(packages, out, key_path, template, fmt, start, offset_x, offset_y, locations, lang,
           max_per_file):
    """Sign and render labels for every package in PACKAGES (.csv or .xlsx)."""
    from .manifest import ManifestError, read_location_table, read_packages
    from .qr import QrError
    from .render import RenderError, render_packages
    from .templates import TemplateError

    key = _private_key(key_path)
    try:
        names, dapils = read_location_table(locations) if locations else ({}, {})
        rows = read_packages(packages, dapils)
        paths = render_packages(rows, out, key, template, fmt, start=start, offset_x=offset_x,
                                offset_y=offset_y, names=names, lang=lang,
                                max_per_file=max_per_file)
    except (ManifestError, RenderError, TemplateError, QrError) as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        raise click.UsageError(f"cannot write {out!r}: {exc.strerror}") from None
    for path in paths:
        click.echo(f"wrote {path}", err=True)
    click.echo(f"{len(rows)} label(s), {fmt}", err=True)


def verify_code(code: str, keys: dict) -> dict:
    """Return the verify JSON record of one scanned code."""
    record = {"code": code, "valid": False, "package_id": None, "error": None}
    try:
        label = verify(code, keys)
    except UnknownKey as exc:
        record.update(_fields(code), error=f"unknown key: {exc}")
    except BadSignature as exc:
        record.update(_fields(code), error=f"altered or forged: {exc}")
    except PayloadError as exc:
        record["error"] = f"malformed: {exc}"
    else:
        record.update(_fields(label), valid=True)
    return record


def _fields(code_or_label) -> dict:
    """Return the label's fields as JSON-ready values (what it claims, even if invalid)."""
    label = parse(code_or_label) if isinstance(code_or_label, str) else code_or_label
    return {"package_id": label.package_id, "item_type": label.item_type,
            "destination": label.destination, "dapil": label.dapil,
            "quantity": label.quantity, "label_version": label.version, "key_id": label.key_id,
            "verification_code": label.verification_code}


@cli.command("verify")
@click.option("--public-key", "public_keys", required=True, multiple=True,
              type=click.Path(dir_okay=False), help="public key PEM (repeat for several)")
@click.argument("codes", nargs=-1)
def verify_command(public_keys, codes):
    """Check label codes (arguments, or stdin one a line); print one JSON line per code."""
    try:
        keys = load_public_keys(public_keys)
    except KeyFileError as exc:
        raise click.UsageError(str(exc)) from None
    source = codes if codes else (line.rstrip("\r\n") for line in sys.stdin)
    all_valid = True
    seen = False
    for code in source:
        if not code.strip():
            continue
        seen = True
        record = verify_code(code.strip(), keys)
        all_valid &= record["valid"]
        click.echo(json.dumps(record, ensure_ascii=False))
    if not seen:
        raise click.UsageError("no codes given (pass them as arguments or on stdin, one a line)")
    sys.exit(0 if all_valid else 1)


@cli.command("command-sheet")
@click.option("-o", "--out", required=True, help="output PDF")
@click.option("--lang", default=i18n.DEFAULT_LANGUAGE, show_default=True,
              type=click.Choice(list(i18n.LANGUAGES)))
def command_sheet(out, lang):
    """Print the A4 sheet of QR codes that switch a scanner's mode."""
    from .command_sheet import render_command_sheet

    try:
        render_command_sheet(out, lang)
    except OSError as exc:
        raise click.UsageError(f"cannot write {out!r}: {exc.strerror}") from None
    click.echo(f"wrote {out}", err=True)


def main(args=None) -> int:
    """Run jejak-labels and return its exit status."""
    try:
        cli.main(args=args, prog_name="jejak-labels", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
