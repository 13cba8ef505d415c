"""Label commands: trust-key, list-keys, print-labels, reprint, import-labels."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select

from labels.keys import KeyFileError, load_private_key, load_public_key, public_pem
from labels.payload import key_id_for
from server.db import get_db
from server.labelling.printing import LabelPrintError, print_labels, reprint
from server.labelling.registry import ImportLabelsError, import_codes
from server.labelling.trust import trusted_keys
from server.ledger.chain import append_records
from server.ledger.records import LABEL_KEYS
from server.models import LabelKey


def _register_import(app: Flask) -> None:
    """Register import-labels."""

    @app.cli.command("import-labels")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    def import_labels_command(file):
        """Register the labels of a `jejak-labels render --format codes` file (all or nothing)."""
        with get_db().session() as session:
            keys = trusted_keys(session)
            if not keys:
                raise click.UsageError("no trusted label keys; run `jejak-server trust-key "
                                       "PUBLIC_KEY_FILE` first")
            try:
                with open(file, encoding="utf-8", errors="replace") as f:
                    read, added = import_codes(session, f, keys)
            except ImportLabelsError as exc:
                session.rollback()
                raise click.UsageError(str(exc)) from None
            session.commit()
        click.echo(f"{read} label(s) verified; {added} newly registered, "
                   f"{read - added} already known")


def _label_options(f):
    """Add --out, --key and the layout options shared with jejak-labels render."""
    # labels.cli, .render, .qr and .templates load reportlab: only for the print commands.
    from labels.cli import layout_options

    f = layout_options(f)
    f = click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False),
                     help="private key PEM")(f)
    return click.option("-o", "--out", required=True, type=click.Path(dir_okay=False),
                        help="output file")(f)


def _run(action, key_path, out, fmt, template, start, offset_x, offset_y, lang, max_per_file, **kw):
    """Load the key, run a print action in a session, and turn user mistakes into exit 2."""
    # labels.cli, .render, .qr and .templates load reportlab: only for the print commands.
    from labels.qr import QrError
    from labels.render import RenderError
    from labels.templates import TemplateError
    try:
        key = load_private_key(key_path)
    except KeyFileError as exc:
        raise click.UsageError(str(exc)) from None
    options = dict(fmt=fmt, template=template, start=start, offset_x=offset_x, offset_y=offset_y,
                   lang=lang, max_per_file=max_per_file)
    with get_db().session() as session:
        try:
            paths = action(session, key, out, **kw, **options)
        except (LabelPrintError, RenderError, TemplateError, QrError) as exc:
            session.rollback()
            raise click.UsageError(str(exc)) from None
    for path in paths:
        click.echo(f"wrote {path}")
    return paths


def _register_printing(app: Flask) -> None:
    """Register print-labels and reprint."""

    @app.cli.command("print-labels")
    @click.option("--region", help="every package bound for this location code or below it")
    @click.option("--package", "package_ids", multiple=True, help="a package id (repeatable)")
    @click.option("--container", help="the packages packed in this container package")
    @_label_options
    def print_labels_command(region, package_ids, container, out, key_path, **opts):
        """Print the current labels of a region, a container or listed packages."""
        if sum(bool(x) for x in (region, package_ids, container)) != 1:
            raise click.UsageError("give exactly one of --region CODE, --package ID..., --container ID")
        _run(print_labels, key_path, out, region=region, package_ids=package_ids,
             container=container, **opts)

    @app.cli.command("reprint")
    @click.argument("package_ids", nargs=-1, required=True)
    @_label_options
    def reprint_command(package_ids, out, key_path, **opts):
        """Issue new label versions for packages (old labels then scan as superseded)."""
        _run(reprint, key_path, out, package_ids=package_ids, **opts)
        click.echo(f"{len(package_ids)} package(s) have a new label version; old labels are superseded")


def _register_keys(app: Flask) -> None:
    """Register trust-key and list-keys."""

    @app.cli.command("trust-key")
    @click.argument("public_key_file", type=click.Path(dir_okay=False))
    @click.option("--name", default="", help="whose key it is, e.g. 'KPU Kab. Probolinggo 2024'")
    def trust_key_command(public_key_file, name):
        """Accept labels signed with the key in PUBLIC_KEY_FILE."""
        try:
            key = load_public_key(public_key_file)
        except KeyFileError as exc:
            raise click.UsageError(str(exc)) from None
        key_id = key_id_for(key)
        with get_db().session() as session:
            row = session.get(LabelKey, key_id)
            if row is None:
                session.add(LabelKey(key_id=key_id, public_key_pem=public_pem(key), name=name))
                verb = "now trusted"
            else:
                row.revoked_at = None
                verb = "already trusted"
            append_records(session, LABEL_KEYS, LabelKey.key_id == key_id, only_changed=True)
            session.commit()
        click.echo(f"label key {key_id} {verb}")

    @app.cli.command("list-keys")
    def list_keys_command():
        """List the trusted label keys."""
        with get_db().session() as session:
            for row in session.scalars(select(LabelKey).order_by(LabelKey.created_at)):
                state = "revoked" if row.revoked_at else "trusted"
                click.echo(f"{row.key_id}\t{state}\t{row.name}")


def register(app: Flask) -> None:
    """Register the label commands: trust-key, list-keys, print-labels, reprint, import-labels."""
    _register_keys(app)
    _register_printing(app)
    _register_import(app)
