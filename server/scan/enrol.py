"""Enrol a phone: an admin registers a device at a location and shows its enrolment QR.

The QR holds ``<base>/scan#token=<device token>``.  The phone opens it, the page stores the
token in IndexedDB and removes the fragment from the address bar; a fragment is never sent in
an HTTP request, so the token never appears in a server or proxy log.  The token is shown once,
like ``jejak-server create-device`` (which prints the same address with ``--url``).

The page reuses the dashboard's login, CSRF check and layout; its few strings carry their own
Indonesian/English table so the dashboard's catalogues need no change.
"""

from __future__ import annotations

import segno
from flask import Flask, abort, current_app, make_response, render_template, request, url_for
from sqlalchemy import select

from server.access import AccessError, create_device
from server.dashboard import BLUEPRINTS, guard
from server.dashboard.clock import as_of, zone_label
from server.dashboard.language import LANGUAGES, select_locale
from server.db import get_session
from server.models import Location
from server.scan.pages import bp, enrolment_url

TEXT = {
    "id": {"title": "Daftarkan ponsel pemindai", "nav": "Ponsel",
           "intro": "Buat perangkat pemindai untuk sebuah lokasi, lalu pindai kode QR ini dengan "
                    "kamera ponsel petugas. Ponsel menyimpan tokennya dan bisa memindai tanpa "
                    "sinyal.",
           "location": "Kode lokasi", "name": "Nama perangkat (boleh kosong)",
           "create": "Buat perangkat dan tampilkan QR",
           "done": "Perangkat %(name)s di %(location)s. Pindai QR ini dengan ponsel "
                   "(hanya ditampilkan sekali):",
           "local": "Alamat ini hanya bisa dibuka di komputer ini: buka dasbor lewat alamat "
                    "yang dapat dijangkau ponsel.",
           "bad": "Lokasi %(code)s tidak dikenal atau di luar wilayah Anda."},
    "en": {"title": "Enrol a scanning phone", "nav": "Phones",
           "intro": "Create a scanning device for a location, then scan this QR code with the "
                    "staff member's phone camera. The phone keeps its token and scans offline.",
           "location": "Location code", "name": "Device name (optional)",
           "create": "Create the device and show its QR",
           "done": "Device %(name)s at %(location)s. Scan this QR with the phone "
                   "(shown only once):",
           "local": "This address only opens on this computer: open the dashboard at an "
                    "address the phone can reach.",
           "bad": "Location %(code)s is unknown or outside your region."},
}


def _texts() -> dict:

    return TEXT.get(select_locale(), TEXT["id"])


def _admin():

    guard.check_csrf()
    redirect = guard.login_required()
    if redirect is not None:
        return None, redirect
    principal = guard.current_principal()
    if principal.role != "admin":
        abort(403)
    return principal, None


def _render(**context):

    return render_template("scan/enrol.html", t=_texts(), principal=guard.current_principal(),
                           csrf_token=guard.csrf_token, lang=select_locale(),
                           languages=LANGUAGES, as_of=as_of(), zone=zone_label(), **context)


@bp.route("/scan/enrol", methods=["GET", "POST"])
def enrol():
    """Show the form, or create the device and show its enrolment QR (admins only)."""
    principal, redirect = _admin()
    if redirect is not None:
        return redirect
    if request.method == "GET":
        return _render(code=principal.region_code)

    code = (request.form.get("location") or "").strip()
    name = (request.form.get("name") or "").strip()[:100]
    session = get_session()
    loc = session.scalar(select(Location).where(Location.code == code)) if code else None
    if loc is None or not principal.covers(loc.path):
        return _render(code=code, name=name, problem=_texts()["bad"] % {"code": code}), 400

    ttl = current_app.config["TOKEN_TTL_DAYS"]
    try:
        device, token = create_device(session, loc.code, name, ttl_days=ttl or None)
    except AccessError as exc:
        session.rollback()
        return _render(code=code, name=name, problem=str(exc)), 400
    session.commit()
    url = enrolment_url(request.url_root, token)
    qr = segno.make(url, error="m")
    local = request.host.split(":")[0] in ("127.0.0.1", "localhost", "::1", "[::1]")
    response = _render(code=loc.code, device=device, location=loc, url=url, local=local,
                       qr_svg=qr.svg_inline(scale=6, dark="#000", light="#fff"))

    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"  # the token is in the page
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def init_app(app: Flask) -> None:
    """Offer admins a link to this page in the dashboard's menu (the `scan_enrol_link` global)."""

    @app.context_processor
    def _scan_enrol_link():

        if request.blueprint not in BLUEPRINTS and request.endpoint != "scan.enrol":
            return {}
        principal = guard.current_principal()
        if principal is None or principal.role != "admin":
            return {"scan_enrol_link": None}

        return {"scan_enrol_link": {"url": url_for("scan.enrol"), "label": _texts()["nav"]}}
