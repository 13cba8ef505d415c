"""Labels: print the signed labels of a region's packages or a container's contents as one PDF.

The page calls ``server.labelling.printing.print_labels`` - the code behind
``jejak-server print-labels`` and ``jejak-labels render`` - with the server's
signing key from the ``LABEL_KEY_FILE`` setting.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, request, send_file
from flask_babel import gettext as _
from sqlalchemy import func, select

from labels.keys import KeyFileError, load_private_key
from server.dashboard.guard import current_principal, region_or_abort
from server.dashboard.language import select_locale
from server.db import get_session
from server.labelling.printing import LabelPrintError, print_labels
from server.models import PATH_END, Location, Package

bp = Blueprint("labels", __name__, url_prefix="/labels")

MAX_LABELS = 20_000  # one download; bigger runs belong to `jejak-server print-labels`


def _template_names() -> list[str]:
    """Return the PDF label templates the labels module knows."""
    # labels.templates loads reportlab: only on the labels page.
    from labels.templates import TEMPLATES

    return sorted(name for name in TEMPLATES if not name.startswith("thermal")) + \
        sorted(name for name in TEMPLATES if name.startswith("thermal"))


def signing_key_file() -> str:
    """Return the label key file: LABEL_KEY_FILE, else the demo's key on a demo instance."""
    configured = current_app.config.get("LABEL_KEY_FILE")
    if configured:
        return configured
    demo_keys = sorted((Path(current_app.instance_path) / "demo-keys").glob("*-private.pem"))
    return str(demo_keys[0]) if len(demo_keys) == 1 else ""


def _page(region, problem=None, status=200):
    """Render the label form."""
    return render_template("labels/index.html", region=region, templates=_template_names(), problem=problem,
                           key_file=signing_key_file()), status


def _count(session, region: Location, container: str | None) -> int:
    """Return how many labels a request would print (one indexed count)."""
    q = select(func.count(Package.id)).join(Location, Location.id == Package.destination_id) \
        .where(Location.path >= region.path, Location.path < region.path + PATH_END)
    if container:
        box = session.scalar(select(Package.id).where(Package.package_id == container.upper()))
        q = q.where(Package.container_id == (box or -1))
    return session.scalar(q) or 0


@bp.route("/", methods=["GET", "POST"])
def index():
    """Show the label form; on submit send the labels as one PDF."""
    region = region_or_abort(request.values.get("region"))
    if request.method == "GET":
        return _page(region)
    if not current_principal().may_resolve:
        abort(403)  # printing labels is logistics work, not oversight
    session = get_session()
    container = (request.form.get("container") or "").strip() or None
    template = request.form.get("template") or "a4-3x8"
    if template not in _template_names():
        abort(400, description="template")
    start = (request.form.get("start") or "0").strip()
    if not start.isdigit() or len(start) > 4:
        abort(400, description="start")
    key_file = signing_key_file()
    if not key_file:
        return _page(region, _("The server has no label signing key: set LABEL_KEY_FILE."), 400)
    if container:
        box = session.scalar(select(Package).where(Package.package_id == container.upper()))
        if box is None or not box.destination.path.startswith(region.path):
            abort(404)  # a container of another region is not the user's to print
    count = _count(session, region, container)
    if count > MAX_LABELS:
        return _page(region, _("Too many labels for one download (at most %(n)d); choose a "
                               "smaller region.", n=MAX_LABELS), 400)
    try:
        key = load_private_key(key_file)
    except KeyFileError:
        return _page(region, _("The server has no label signing key: set LABEL_KEY_FILE."), 400)
    folder = Path(tempfile.mkdtemp(prefix="jejak-labels-"))
    out = folder / f"labels-{region.code}{'-' + container if container else ''}.pdf"
    try:
        paths = print_labels(session, key, out, region=None if container else region.code,
                             container=container, template=template, start=int(start),
                             lang=select_locale(), max_per_file=MAX_LABELS)
    except LabelPrintError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return _page(region, _("Not printed: %(reason)s", reason=str(exc)), 400)
    response = send_file(paths[0], mimetype="application/pdf", as_attachment=True,
                         download_name=out.name)
    response.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    return response
