"""The ledger's content: the canonical JSON of a scan, its digest and the link (records: ``records``)."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import aliased

# The canonical bytes of a record (sorted keys, no spaces, ASCII only): one rule for the ledger
# and for what a device signs when it confirms a handover (labels/, which the scanners share).
from labels.confirmation import canonical
from server.errors import DomainError
from server.models import Location, Package, ScanEvent

GENESIS = bytes(32)


FORMAT = "jejak-ledger-v1"


class LedgerError(DomainError):
    """The ledger cannot be appended to or checked as asked (bad key file, empty log...)."""




def digest_of(content: dict) -> bytes:
    """Return the sha256 digest of a record's canonical content."""
    return hashlib.sha256(canonical(content)).digest()


def link(prev_chain: bytes, digest: bytes) -> bytes:
    """Return the chain value following prev_chain for an entry with this digest."""
    return hashlib.sha256(prev_chain + digest).digest()


def _time(value: dt.datetime | None) -> str | None:
    """Return a datetime as fixed-width naive-UTC ISO text (microseconds always shown)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


_Pkg = aliased(Package, name="ledger_pkg")


_Box = aliased(Package, name="ledger_box")


# What a scan's digest covers: everything the device and the server recorded about it,
# not the derived `counted` flag (reconciliation may revise it).
SCAN_COLUMNS = (
    ScanEvent.id, ScanEvent.uuid, _Pkg.package_id.label("package"), ScanEvent.claimed_package,
    ScanEvent.label_version, ScanEvent.raw_code, Location.code.label("location"), ScanEvent.action,
    ScanEvent.disposition, _Box.package_id.label("container"), ScanEvent.container_raw,
    ScanEvent.seal, ScanEvent.operator, ScanEvent.device_id, ScanEvent.client_device, ScanEvent.token_id,
    ScanEvent.scanned_at, ScanEvent.received_at, ScanEvent.offline,
    ScanEvent.counted_quantity, ScanEvent.damaged_quantity,
)


# Covered only when set, so the digests of scans made before counting existed stay the same.
OPTIONAL_SCAN_FIELDS = ("counted_quantity", "damaged_quantity")


SCAN_FIELDS = tuple(c.key for c in SCAN_COLUMNS)


def scan_select():
    """Return a SELECT of the columns a scan's content is made of (join it to what you need)."""
    return (select(*SCAN_COLUMNS, Location.path.label("location_path"))
            .select_from(ScanEvent)
            .outerjoin(Location, Location.id == ScanEvent.location_id)
            .outerjoin(_Pkg, _Pkg.id == ScanEvent.package_id)
            .outerjoin(_Box, _Box.id == ScanEvent.container_id))


def scan_content(row, offset: int = 0) -> dict:
    """Return the canonical content of a scan from a row whose SCAN_COLUMNS start at offset."""
    content = dict(zip(SCAN_FIELDS, tuple(row)[offset:offset + len(SCAN_FIELDS)]))
    for name in ("scanned_at", "received_at"):
        content[name] = _time(content[name])
    content["offline"] = bool(content["offline"])
    content["type"] = "scan"
    for name in OPTIONAL_SCAN_FIELDS:
        if content[name] is None:
            del content[name]
    return content
