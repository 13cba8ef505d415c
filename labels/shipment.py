"""The text of a surat jalan's QR code: which shipment this paper is.

Imported by the scanner, so it imports nothing heavy.  The text uses the
wedge-safe alphabet of labels (A-Z, 0-9, '.', '-'):

    JSJ1.<number>.<uuid>        e.g. JSJ1.SJ-000042.3F2B...-...

``number`` is what the server gave the shipment (printed on the paper);
``uuid`` is what the sending scanner chose when it opened it (122 random bits):
a QR naming a number with the wrong uuid names no shipment, so the paper
cannot be made up from a number seen elsewhere.  ``make_shipment_ref()``
returns the text; rendering it is ``labels.qr``'s business.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from dataclasses import dataclass

PREFIX = "JSJ1."

_NUMBER = re.compile(r"^SJ-[0-9]{6,12}$")


class ShipmentRefError(ValueError):
    """A text is not the QR of a surat jalan (the message quotes it)."""


@dataclass(frozen=True)
class ShipmentRef:
    """What a surat jalan's QR says: the shipment's number and uuid."""

    number: str
    uuid: str


def make_shipment_number(row_id: int) -> str:
    """Return the number of the shipment with this server row id, e.g. ``SJ-000042``."""
    return f"SJ-{row_id:06d}"


def make_shipment_ref(number: str, uuid: str) -> str:
    """Return the QR text of a shipment's surat jalan."""
    if not _NUMBER.match(number):
        raise ShipmentRefError(f"shipment number {number!r} is not like SJ-000042")
    return f"{PREFIX}{number}.{str(uuidlib.UUID(uuid)).upper()}"


def is_shipment_ref(text) -> bool:
    """Tell whether a scanned text claims to be a surat jalan's QR (a quick prefix test)."""
    return isinstance(text, str) and text.strip().upper().startswith(PREFIX)


def parse_shipment_ref(text: str) -> ShipmentRef:
    """Return the shipment a surat jalan's QR names, else raise ShipmentRefError."""
    cleaned = text.strip().upper() if isinstance(text, str) else ""
    parts = cleaned.split(".")
    if len(parts) != 3 or parts[0] + "." != PREFIX or not _NUMBER.match(parts[1]):
        raise ShipmentRefError(f"{str(text)[:80]!r} is not a surat jalan QR "
                               f"(expected {PREFIX}SJ-000042.<uuid>)")
    try:
        uuid = str(uuidlib.UUID(parts[2]))
    except ValueError:
        raise ShipmentRefError(f"{str(text)[:80]!r} has no valid shipment uuid") from None
    return ShipmentRef(number=parts[1], uuid=uuid)
