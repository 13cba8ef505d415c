"""Labels: print the signed labels of a region's packages (the labels module's PDF)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, request, send_file
from flask_babel import gettext as _
from sqlalchemy import select

from ..db import get_session
from ..models import PATH_END, ItemType, Location, Package
from .guard import current_principal, region_or_abort

bp = Blueprint("labels", __name__, url_prefix="/labels")

TEMPLATE_CHOICES = ("a4-3x8", "a4-2x7")
MAX_LABELS = 50_000  # one request; bigger runs belong to `jejak-labels render`


def _template_names() -> list[str]:
    """Return the label templates the labels module knows (a default list before it loads)."""
    try:
        from labels.templates import TEMPLATES
    except ImportError:
        return list(TEMPLATE_CHOICES)
    return sorted(TEMPLATES)


def package_rows(session, region: Location, item_type: str | None, container: str | None):
    """Return the labels module's rows for the packages bound for a region (or in a container)."""
    from labels.manifest import PackageRow

    q = (select(Package.package_id, Package.item_type, Package.quantity, Location.code,
                Package.dapil, Package.label_version)
         .join(Location, Location.id == Package.destination_id)
         .where(Location.path >= region.path, Location.path < region.path + PATH_END))
    if item_type:
        q = q.where(Package.item_type == item_type)
    if container:
        box = session.scalar(select(Package.id).where(Package.package_id == container))
        if box is None:
            abort(404)
        q = q.where(Package.container_id == box)
    q = q.order_by(Location.path, Package.item_type, Package.package_id).limit(MAX_LABELS + 1)
    return [PackageRow(pid, it, qty, dest, dapil or "", ver or 1)
            for pid, it, qty, dest, dapil, ver in session.execute(q)]


@bp.route("/", methods=["GET", "POST"])
def index():
    """Show the label form; on submit render the labels as one PDF."""
    session = get_session()
    region = region_or_abort(request.values.get("region"))
    types = session.scalars(select(ItemType).order_by(ItemType.code)).all()
    key_file = current_app.config.get("LABEL_KEY_FILE") or ""
    if request.method == "GET":
        return render_template("labels/index.html", region=region, types=types,
                               templates=_template_names(), key_file=key_file)
    if current_principal().role not in ("supervisor", "admin"):
        abort(403)  # printing labels is logistics work, not oversight
    item_type = request.form.get("item_type") or None
    container = (request.form.get("container") or "").strip() or None
    template = request.form.get("template") or "a4-3x8"
    if template not in _template_names():
        abort(400, description="template")
    start = request.form.get("start", "1").strip() or "1"
    if not start.isdigit():
        abort(400, description="start")
    rows = package_rows(session, region, item_type, container)
    problem = None
    if not key_file or not Path(key_file).is_file():
        problem = _("The server has no label signing key: set LABEL_KEY_FILE.")
    elif not rows:
        problem = _("No packages match.")
    elif len(rows) > MAX_LABELS:
        problem = _("Too many labels for one download (at most %(n)d); choose a smaller region "
                    "or item type.", n=MAX_LABELS)
    if problem:
        return render_template("labels/index.html", region=region, types=types,
                               templates=_template_names(), key_file=key_file,
                               problem=problem), 400
    from labels.keys import load_private_key
    from labels.render import render_packages

    key = load_private_key(key_file)
    out = tempfile.NamedTemporaryFile(suffix=".pdf", delete=False)
    out.close()
    render_packages(rows, key, out.name, template=template, start=int(start))
    return send_file(out.name, mimetype="application/pdf", as_attachment=True,
                     download_name=f"labels-{region.code}{'-' + item_type if item_type else ''}.pdf")
