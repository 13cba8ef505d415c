"""Attach photos to scans, list them, and check the stored files against their chained hashes.

A photo is attached to a scan by the scan's uuid (the client's idempotency key,
which an offline scanner knows before it uploads anything).  The scan must be
recorded first: a photo whose scan the server has not seen is refused (404),
and the scanners upload a scan before its photos.  Attaching is idempotent by
SHA-256: the same bytes sent again for the same scan answer the row already
recorded, so a retried upload is stored once and counted once.
"""

from __future__ import annotations

import hashlib
import uuid as uuidlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.ledger.chain import append_records
from server.ledger.records import SCAN_PHOTOS
from server.models import Location, ScanEvent, ScanPhoto
from server.photos.images import Limits, PhotoError, inspect
from server.photos.store import PhotoStore, file_sha256
from server.sql import chunks

# The most photos one scan may carry: evidence, not an album.
MAX_PER_SCAN = 20


class PhotoNotFound(PhotoError):
    """No such scan (not uploaded yet, or outside the caller's reach) or no such photo."""

    status = 404
    code = "not_found"


class PhotoForbidden(PhotoError):
    """The caller may not attach photos to a scan at that place."""

    status = 403
    code = "forbidden"


class PhotoConflict(PhotoError):
    """The scan already carries as many photos as it may."""

    status = 409
    code = "conflict"


@dataclass(frozen=True)
class Attached:
    """The photo row and whether this call created it (False: the same bytes were sent before)."""

    photo: ScanPhoto
    created: bool


def scan_by_uuid(session: Session, value: str) -> ScanEvent:
    """Return the scan a uuid names, or raise PhotoError / PhotoNotFound saying what to do."""
    try:
        uuid = str(uuidlib.UUID(value.strip()))
    except ValueError:
        raise PhotoError(f"{value[:60]!r} is not a scan id: use the scan's uuid, the 'id' "
                         f"it was uploaded with") from None
    scan = session.scalar(select(ScanEvent).where(ScanEvent.uuid == uuid))
    if scan is None:
        raise PhotoNotFound(f"no scan {uuid} has been recorded: upload the scan first "
                            f"(POST /api/v1/scans), then its photos")
    return scan


def attach(session: Session, principal, scan_uuid: str, data: bytes, store: PhotoStore,
           limits: Limits) -> Attached:
    """Check a photo, keep its bytes in the store and record (and chain) it on its scan.

    The caller commits.  Only a principal that may scan at the scan's place may
    attach; nothing is written to disk before the photo passed every check.
    """
    scan = scan_by_uuid(session, scan_uuid)
    place = session.get(Location, scan.location_id)
    if not principal.may_scan_at(place.path):
        raise PhotoForbidden(f"scan {scan.uuid} was recorded at {place.code}, outside what "
                             f"this token may scan at; only a scanner there may attach photos")
    info = inspect(data, limits)
    sha256 = hashlib.sha256(data).hexdigest()
    existing = session.scalar(select(ScanPhoto).where(ScanPhoto.scan_id == scan.id,
                                                      ScanPhoto.sha256 == sha256))
    if existing is not None:
        return Attached(existing, False)
    count = len(session.scalars(select(ScanPhoto.id).where(ScanPhoto.scan_id == scan.id)).all())
    if count >= MAX_PER_SCAN:
        raise PhotoConflict(f"scan {scan.uuid} already carries {count} photos; at most "
                            f"{MAX_PER_SCAN}")
    store.put(sha256, info.media_type, data)
    photo = ScanPhoto(scan_id=scan.id, sha256=sha256, media_type=info.media_type,
                      size_bytes=len(data), width=info.width, height=info.height,
                      uploaded_by=principal.name[:100], token_id=principal.token_id,
                      device_id=principal.device_id)
    session.add(photo)
    session.flush()
    append_records(session, SCAN_PHOTOS, ScanPhoto.id == photo.id)
    return Attached(photo, True)


def photo_dict(photo: ScanPhoto, scan_uuid: str) -> dict:
    """Return the JSON form of a photo (the API's and the pages' one shape)."""
    return {"id": photo.id, "scan_id": scan_uuid, "sha256": photo.sha256,
            "media_type": photo.media_type, "size_bytes": photo.size_bytes,
            "width": photo.width, "height": photo.height, "uploaded_by": photo.uploaded_by,
            "created_at": photo.created_at}


def photos_of_scans(session: Session, scan_uuids) -> dict[str, list[dict]]:
    """Return the photos of these scans (by uuid), oldest first, as ``photo_dict``s."""
    out: dict[str, list[dict]] = {}
    for part in chunks(list(dict.fromkeys(scan_uuids)), 500):
        rows = session.execute(select(ScanPhoto, ScanEvent.uuid)
                               .join(ScanEvent, ScanEvent.id == ScanPhoto.scan_id)
                               .where(ScanEvent.uuid.in_(part))
                               .order_by(ScanPhoto.id))
        for photo, uuid in rows:
            out.setdefault(uuid, []).append(photo_dict(photo, uuid))
    return out


def visible_photo(session: Session, photo_id: int, region_path: str) -> ScanPhoto | None:
    """Return a photo if its scan was made in the region or its package is bound for it."""
    photo = session.get(ScanPhoto, photo_id)
    if photo is None:
        return None
    scan = photo.scan
    places = [scan.location, scan.package.destination if scan.package else None]
    if not any(p is not None and p.path.startswith(region_path) for p in places):
        return None
    return photo


def check_files(session: Session, store: PhotoStore, report) -> int:
    """Re-hash every photo's original on disk; report a file gone or whose bytes changed.

    ``report`` is a ``server.ledger.verify.Report``; the rows themselves are
    checked against the ledger by ``verify_records`` (record kind ``scan_photo``).
    Returns how many files were checked.
    """
    checked = 0
    query = select(ScanPhoto.id, ScanPhoto.sha256, ScanPhoto.media_type).order_by(ScanPhoto.id)
    for photo_id, sha256, media_type in session.execute(query):
        path = store.original_path(sha256, media_type)
        checked += 1
        if not path.exists():
            report.add("deleted", None, f"photo {photo_id}: its file {path} is gone",
                       record="photo_file")
        elif (actual := file_sha256(path)) != sha256:
            report.add("modified", None, f"photo {photo_id}: the bytes of {path} no longer match "
                       f"its chained SHA-256 {sha256[:16]}... (they hash to {actual[:16]}...)",
                       record="photo_file")
    return checked
