"""Printing labels from the database: a region, a container's contents or listed packages.

``jejak-server print-labels`` renders the current label version of each
package with :func:`labels.render.render_packages` - the same code as
``jejak-labels render`` - and ``jejak-server reprint`` issues a new label
version: it increments ``Package.label_version`` in the same transaction that
writes the output, so the old label then scans as superseded.  If rendering
fails nothing is committed; if the commit fails the output is removed.  Both
register the verification codes of what they rendered in that transaction
(``server.labelling.registry``), so hand-typed codes of these labels are checked.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import select

from labels.manifest import PackageRow
from labels.payload import key_id_for
from server.errors import DomainError
from server.labelling.registry import register_signed
from server.ledger.chain import append_records
from server.ledger.records import PACKAGES
from server.models import PATH_END, ItemType, LabelKey, Location, Package

MAX_VERSION = 9999  # the payload's version field holds 4 digits


class LabelPrintError(DomainError):
    """The packages to print cannot be found or the key is not one the server trusts."""


def select_packages(session, region: str | None = None, package_ids=(), container: str | None = None,
                    for_update: bool = False) -> list[Package]:
    """Return the packages of a region, a container or a list of ids, in delivery order."""
    query = select(Package).join(Location, Package.destination_id == Location.id)
    if region:
        loc = session.scalar(select(Location).where(Location.code == region))
        if loc is None:
            raise LabelPrintError(f"no location with code {region!r}")
        query = query.where(Location.path >= loc.path, Location.path < loc.path + PATH_END)
    elif container:
        box = session.scalar(select(Package).where(Package.package_id == container.upper()))
        if box is None:
            raise LabelPrintError(f"no container package {container!r}")
        query = query.where(Package.container_id == box.id)
    else:
        wanted = [p.strip().upper() for p in package_ids if p.strip()]
        if not wanted:
            raise LabelPrintError("name a region, a container or at least one package id")
        query = query.where(Package.package_id.in_(wanted))
    if for_update:
        query = query.with_for_update(of=Package)
    packages = list(session.scalars(query.order_by(Location.path, Package.package_id)))
    if not region and not container:
        missing = sorted(set(wanted) - {p.package_id for p in packages})
        if missing:
            raise LabelPrintError(f"unknown package id(s): {', '.join(missing)}")
    if not packages:
        raise LabelPrintError("no packages there to label")
    return packages


def rows_for(session, packages, lang: str = "id") -> tuple[list[PackageRow], dict, dict]:
    """Return (label rows, {destination code: name}, {item type: name}) for packages."""
    rows, names = [], {}
    for p in packages:
        rows.append(PackageRow(p.package_id, p.item_type, p.quantity, p.destination.code,
                               p.dapil or "", p.label_version))
        names[p.destination.code] = p.destination.name
    items = {t.code: (t.name_en if lang == "en" else t.name_id)
             for t in session.scalars(select(ItemType))}
    return rows, names, items


def check_key_trusted(session, private_key) -> str:
    """Return the key id of private_key, refusing a key the server does not trust."""
    key_id = key_id_for(private_key.public_key())
    row = session.get(LabelKey, key_id)
    if row is None or row.revoked_at is not None:
        raise LabelPrintError(f"label key {key_id} is not trusted by this server, so its labels "
                              "would scan as forged; run `jejak-server trust-key PUBLIC_KEY_FILE` first")
    return key_id


def render_to(rows, out, key, options: dict, names: dict, items: dict) -> tuple[list, list[Path]]:
    """Sign and render into a temporary folder next to out; return (signed labels, temporary paths)."""
    # labels.render loads reportlab: only when printing.
    from labels.render import render_packages, sign_all

    out = Path(out)
    signed = sign_all(rows, key)
    folder = Path(tempfile.mkdtemp(prefix=".jejak-labels-", dir=out.parent if str(out.parent) else "."))
    try:
        return signed, render_packages(rows, folder / out.name, key, names=names, item_names=items,
                                       signed=signed, **options)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def publish(temp_paths: list[Path], out) -> list[Path]:
    """Move rendered files from their temporary folder to out's folder; return the final paths."""
    final = []
    target = Path(out).parent
    for path in temp_paths:
        dest = target / path.name
        os.replace(path, dest)
        final.append(dest)
    if temp_paths:
        shutil.rmtree(temp_paths[0].parent, ignore_errors=True)
    return final


def print_labels(session, key, out, *, region=None, package_ids=(), container=None, **options):
    """Render the current labels of the chosen packages; return the paths written."""
    check_key_trusted(session, key)
    packages = select_packages(session, region, package_ids, container)
    rows, names, items = rows_for(session, packages, options.get("lang", "id"))
    signed, temp_paths = render_to(rows, out, key, options, names, items)
    _commit_registered(session, packages, signed, temp_paths)
    return publish(temp_paths, out)


def _commit_registered(session, packages, signed, temp_paths) -> None:
    """Register the rendered labels' codes and commit; on failure remove the output."""
    try:
        register_signed(session, packages, signed)
        session.commit()
    except BaseException:
        session.rollback()
        if temp_paths:
            shutil.rmtree(temp_paths[0].parent, ignore_errors=True)
        raise


def reprint(session, key, out, package_ids, **options) -> list[Path]:
    """Issue new label versions for packages and write them; the old labels become superseded.

    The version bump and the output are one unit: a failed render rolls the
    bump back, a failed commit removes the output.
    """
    check_key_trusted(session, key)
    packages = select_packages(session, package_ids=package_ids, for_update=True)
    for p in packages:
        if p.label_version >= MAX_VERSION:
            raise LabelPrintError(f"package {p.package_id!r} is at label version {p.label_version}, "
                                  "the last one the label format holds")
        p.label_version += 1
    session.flush()
    append_records(session, PACKAGES, Package.id.in_([p.id for p in packages]))
    rows, names, items = rows_for(session, packages, options.get("lang", "id"))
    try:
        signed, temp_paths = render_to(rows, out, key, options, names, items)
    except BaseException:
        session.rollback()
        raise
    _commit_registered(session, packages, signed, temp_paths)
    return publish(temp_paths, out)
