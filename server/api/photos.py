"""Photos attached to scans: ``POST`` one (the raw JPEG or PNG as the body), ``GET`` the list.

The path names the scan by its uuid, the ``id`` the scanner uploaded it with
(an offline scanner knows it before anything reached the server).  The body is
the image's bytes with ``Content-Type: image/jpeg`` or ``image/png``; what the
bytes are is sniffed (``server.photos.images``), never taken from the header.
Idempotent by SHA-256: the same bytes for the same scan answer 200
``already_recorded`` and change nothing.
"""

from __future__ import annotations

from flask import current_app, jsonify, request

from server.access import READ_ROLES, SCAN_ROLES, require
from server.api.parsing import authenticate, commit_upload, query_args, to_json
from server.config import photo_dir
from server.db import get_session
from server.errors import ApiError
from server.photos.images import MEDIA_TYPES, Limits, PhotoError
from server.photos.records import attach, photo_dict, photos_of_scans, scan_by_uuid
from server.photos.store import PhotoStore

# Declared types a photo may come with; what it is, is read from its bytes.
ACCEPTED_TYPES = MEDIA_TYPES + ("application/octet-stream",)


def _api_error(exc: PhotoError) -> ApiError:
    """Return the API answer to a photo the domain refused."""
    return ApiError(exc.status, str(exc), code=exc.code)


def _links(photo_id: int) -> dict:
    """Return the dashboard addresses of a photo's display copy, thumbnail and original."""
    return {variant: f"/photos/{photo_id}/{variant}" for variant in ("display", "thumb", "original")}


def _body(limit: int) -> bytes:
    """Return the request body: a photo's bytes, refused early when declared too large."""
    mimetype = request.mimetype or ""
    if mimetype not in ACCEPTED_TYPES:
        raise ApiError(415, f"send the photo's bytes as the body with 'Content-Type: image/jpeg' "
                            f"or 'image/png', not {request.content_type or 'no content type'!r}",
                       code="unsupported_media_type")
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"the photo is {request.content_length:,} bytes; at most {limit:,} "
                            f"are accepted (PHOTO_MAX_BYTES)", code="photo_too_large")
    return request.get_data(cache=False)  # 413 above MAX_CONTENT_LENGTH, 400 if cut short


def scan_photos(scan_id: str):
    """Attach a photo to a scan (POST) or list its photos (GET)."""
    return post_photo(scan_id) if request.method == "POST" else list_photos(scan_id)


def post_photo(scan_id: str):
    """Attach a photo (JPEG or PNG bytes) to a recorded scan; 201 new, 200 sent before."""
    principal = authenticate()
    require(principal, SCAN_ROLES, "attach photos")
    query_args(())
    config = current_app.config
    limits = Limits(max_bytes=int(config["PHOTO_MAX_BYTES"]),
                    max_pixels=int(config["PHOTO_MAX_PIXELS"]))
    data = _body(limits.max_bytes)
    store = PhotoStore(photo_dir(current_app))
    # The same bytes raced in by a retry of this upload are read again: recorded once.
    result = commit_upload(lambda session: attach(session, principal, scan_id, data, store,
                                                  limits), PhotoError, _api_error)
    out = {"photo": photo_dict(result.photo, result.photo.scan.uuid),
           "status": "recorded" if result.created else "already_recorded",
           "links": _links(result.photo.id)}
    return jsonify(to_json(out)), 201 if result.created else 200


def list_photos(scan_id: str):
    """List the photos of a scan made in the caller's region (or of a package bound for it)."""
    principal = authenticate()
    require(principal, READ_ROLES, "read photos")
    query_args(())
    session = get_session()
    try:
        scan = scan_by_uuid(session, scan_id)
    except PhotoError as exc:
        raise _api_error(exc) from None
    places = [scan.location, scan.package.destination if scan.package else None]
    if not any(p is not None and principal.covers(p.path) for p in places):
        raise ApiError(404, f"no scan {scan.uuid} in your region {principal.region_code!r}")
    photos = photos_of_scans(session, [scan.uuid]).get(scan.uuid, [])
    for photo in photos:
        photo["links"] = _links(photo["id"])
    return jsonify(to_json({"scan_id": scan.uuid, "photos": photos}))
