"""Reports: streamed CSV/XLSX of the scan log and anomalies, and the BAST handover PDF."""

from __future__ import annotations

import datetime as dt
import io

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_file,
    stream_with_context,
)
from flask_babel import gettext
from sqlalchemy import select

from server.config import ledger_key_path, photo_dir
from server.dashboard import domain
from server.dashboard.clock import as_of, display_zone
from server.dashboard.formatting import anomaly_text
from server.dashboard.guard import current_principal, region_or_abort
from server.dashboard.language import select_locale
from server.dashboard.scans import filter_from_args
from server.db import get_db, get_read_session, replica_read
from server.ledger.checkpoints import load_or_create_key
from server.models import ANOMALY_KINDS, ANOMALY_STATUSES, Location
from server.photos.store import PhotoStore
from server.reports import bast
from server.reports.bast import bast_data, receipt_days
from server.reports.bast_seal import seal_text
from server.reports.scanlog import SCAN_HEADER, scan_log_csv, scan_log_rows
from server.reports.tables import ANOMALY_HEADER, anomaly_rows, csv_chunks, xlsx_chunks
from server.sql import PrimaryNeeded

bp = Blueprint("exports", __name__, url_prefix="/reports")

# Anomalies read per query of an export.
ANOMALY_PAGE = 1000

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _closing(chunks, session):
    """Yield the chunks, then end the database session they were read with.

    The request's teardown runs when the view returns, before the body is
    sent; the generator then reads on with the same session (in a new
    transaction), so it must close that itself or leave a connection idle in
    a transaction (holding locks) until garbage collection.
    """
    try:
        yield from chunks
    finally:
        session.close()


def _download(chunks, filename: str, mimetype: str) -> Response:
    """Stream chunks as a file download (the request context lives until the last chunk)."""
    # get_read_session() now, in the view: it is the session the chunks read with.
    response = Response(stream_with_context(_closing(chunks, get_read_session())), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Accel-Buffering"] = "no"  # let a proxy pass chunks on as they come
    return response


def _stamp() -> str:
    """Return a compact local timestamp for file names."""
    return dt.datetime.now(display_zone()).strftime("%Y%m%d-%H%M")


@bp.route("/")
def index():
    """Show the downloads and the BAST form."""
    region = region_or_abort(request.args.get("region"))
    return render_template("exports/index.html", region=region, kinds=ANOMALY_KINDS,
                           statuses=ANOMALY_STATUSES)


@bp.route("/scans.csv")
@replica_read
def scans_csv():
    """Stream the filtered scan log as CSV."""
    f, shown = filter_from_args(request.args)
    return _download(scan_log_csv(get_read_session(), f, tz=display_zone()),
                     f"jejak-scans-{shown['region'].code}-{_stamp()}.csv", "text/csv")


@bp.route("/scans.xlsx")
@replica_read
def scans_xlsx():
    """Stream the filtered scan log as an XLSX workbook."""
    f, shown = filter_from_args(request.args)
    rows = scan_log_rows(get_read_session(), f)
    return _download(xlsx_chunks(SCAN_HEADER, rows, "scans", tz=display_zone()),
                     f"jejak-scans-{shown['region'].code}-{_stamp()}.xlsx", XLSX)


def _anomaly_rows():
    """Return the region code and a generator of the filtered anomalies' rows."""
    region = region_or_abort(request.args.get("region"))
    kind = request.args.get("kind") or None
    status = request.args.get("status") or None
    if kind is not None and kind not in ANOMALY_KINDS:
        abort(400, description="kind")
    if status == "all":
        status = None
    if status is not None and status not in ANOMALY_STATUSES:
        abort(400, description="status")
    moment = as_of()
    state = {"session": get_read_session(), "opened": None}

    def page(after, limit):
        try:
            return domain.list_anomalies(state["session"], region, kind=kind, status=status,
                                         as_of=moment, after_id=after, limit=limit)
        except PrimaryNeeded:
            if after is None:
                raise  # still in the view: replica_read reads it all on the primary
            # A sweep came due mid-download (a deadline passed): the rest comes from the primary.
            state["session"].rollback()
            state["session"] = state["opened"] = get_db().session()
            return domain.list_anomalies(state["session"], region, kind=kind, status=status,
                                         as_of=moment, after_id=after, limit=limit)

    # The first page in the view: a sweep due before it is met here, not in the stream.
    first = page(None, ANOMALY_PAGE)

    def rows():
        pages = iter([first])
        try:
            yield from anomaly_rows(lambda after, limit: next(pages, None) or page(after, limit),
                                    page=ANOMALY_PAGE, words=anomaly_text)
        finally:
            if state["opened"] is not None:
                state["opened"].close()

    return region.code, rows()


@bp.route("/anomalies.csv")
@replica_read
def anomalies_csv():
    """Stream the filtered anomalies as CSV."""
    code, rows = _anomaly_rows()
    return _download(csv_chunks(ANOMALY_HEADER, rows, tz=display_zone()),
                     f"jejak-anomalies-{code}-{_stamp()}.csv", "text/csv")


@bp.route("/anomalies.xlsx")
@replica_read
def anomalies_xlsx():
    """Stream the filtered anomalies as an XLSX workbook."""
    code, rows = _anomaly_rows()
    return _download(xlsx_chunks(ANOMALY_HEADER, rows, "anomalies",
                                         tz=display_zone()),
                     f"jejak-anomalies-{code}-{_stamp()}.xlsx", XLSX)


def _location(code: str) -> Location:
    """Return a location in the user's region by code, 404 otherwise."""
    loc = get_read_session().scalar(select(Location).where(Location.code == (code or "").strip()))
    if loc is None or not current_principal().covers(loc.path):
        abort(404)
    return loc


@bp.route("/bast")
@replica_read
def bast_form():
    """Ask for the receiving place (the sender defaults to the level above) and the date."""
    session = get_read_session()
    receiver = _location(request.args["to"]) if request.args.get("to") else None
    sender = receiver.parent if receiver is not None else None
    days = receipt_days(session, receiver, display_zone()) if receiver is not None else []
    return render_template("exports/bast.html", receiver=receiver, sender=sender, days=days)


@bp.route("/bast.pdf")
@replica_read
def bast_pdf():
    """Make the BAST of a handoff from the scans and send it as a PDF."""
    receiver = _location(request.args.get("to", ""))
    sender_code = request.args.get("from") or (receiver.parent.code if receiver.parent else "")
    # The sender may sit above the user's region (the regency hands over to a district user).
    sender = get_read_session().scalar(select(Location).where(Location.code == sender_code.strip()))
    if sender is None:
        abort(404)
    day = None
    if request.args.get("date"):
        try:
            day = dt.date.fromisoformat(request.args["date"])
        except ValueError:
            abort(400, description="date")
    # The seal names the log's seq and chain as of the same read as the figures.
    data = bast_data(get_read_session(), sender, receiver, day, tz=display_zone())
    data.seal = seal_text(get_read_session(), data,
                          load_or_create_key(ledger_key_path(current_app)), display_zone())
    out = io.BytesIO()
    store = PhotoStore(photo_dir(current_app))
    bast.bast_pdf(data, out, translate=gettext, lang=select_locale(), tz=display_zone(),
                  photo=lambda sha256, media_type: store.copy(sha256, media_type, "thumb"))
    out.seek(0)
    name = f"BAST-{sender.code}-{receiver.code}-{day.isoformat() if day else 'all'}.pdf"
    return send_file(out, mimetype="application/pdf", as_attachment=True, download_name=name)
