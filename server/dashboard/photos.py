"""Photos attached to scans, as the dashboard shows them: display copy, thumbnail, original.

Readers see a photo when its scan was made in their region or its package is
bound for it (as a package's timeline and an anomaly are visible); anything
else is 404.  The display copies are upright, resized and free of metadata;
the original is sent as it was uploaded (as a download: it may carry the
camera's GPS position).
"""

from __future__ import annotations

import io

from flask import Blueprint, abort, current_app, send_file

from server.config import photo_dir
from server.dashboard.guard import current_principal
from server.db import get_session
from server.photos.images import EXTENSIONS
from server.photos.records import visible_photo
from server.photos.store import PhotoStore

bp = Blueprint("photos", __name__, url_prefix="/photos")

VARIANTS = ("display", "thumb", "original")


@bp.route("/<row_id:photo_id>/<variant>")
def show(photo_id: int, variant: str):
    """Send a photo's display copy, thumbnail or original (404 outside the reader's region)."""
    if variant not in VARIANTS:
        abort(404)
    photo = visible_photo(get_session(), photo_id, current_principal().region_path)
    if photo is None:
        abort(404)
    store = PhotoStore(photo_dir(current_app))
    if variant == "original":
        data = store.original(photo.sha256, photo.media_type)
        mimetype = photo.media_type
    else:
        data = store.copy(photo.sha256, photo.media_type, variant)
        mimetype = "image/jpeg"
    if data is None:
        abort(404)  # the file is gone from PHOTO_DIR: verify-log names it
    response = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=variant == "original",
                         download_name=f"{photo.sha256}.{EXTENSIONS[photo.media_type]}"
                         if variant == "original" else f"{photo.sha256}-{variant}.jpg")
    # Content-addressed: these bytes never change; only the reader's browser may keep them.
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
