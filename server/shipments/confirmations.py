"""Both parties: a shipment's digest, and each side's signed confirmation of it.

The digest is the SHA-256 of the shipment's canonical content
(``server.ledger.content.canonical``): its number, uuid, giver and receiver
places, the koli with their planned quantities, and - once received - the
receipt: its place, its koli with the counted and damaged figures the receiver's
scans recorded there, and the discrepancies (``short_shipment``,
``not_in_shipment``, ``quantity_mismatch``, ``damaged``).  The figures come from
the scans, not from anomaly rows (whose status changes), so the digest changes
only when what was handed over or counted changes.

The giver confirms the shipment (the digest covers the receipt when it was
received already); the receiver confirms its closed receipt.  Each signs
``labels.confirmation.confirmation_message`` with the Ed25519 key its device
registered (``server.access.register_device_key``).  The server checks the
device is the caller's, that it sits at that side's place, that the digest is the
current one and that the signature verifies; the confirmation is then stored and
chained in the ledger (record kind ``confirmation``), at most one per party.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from labels.confirmation import (
    PARTIES,
    ConfirmationError,
    confirmation_message,
    public_key_raw,
    verify,
)
from server.ingest.scan import ScanError, parse_time
from server.ledger.chain import append_records
from server.ledger.content import _time, digest_of
from server.ledger.records import CONFIRMATIONS
from server.sql import chunks
from server.models import (
    COUNT_ACTIONS,
    Device,
    Package,
    ScanEvent,
    Shipment,
    ShipmentConfirmation,
    ShipmentReceipt,
    utc_now,
)
from server.shipments.records import (
    MAX_OPERATOR,
    OutOfReach,
    ShipmentConflict,
    ShipmentError,
    compare,
    find_shipment,
    koli_of,
    planned as planned_column,
    receipt_of,
)

FORMAT = "jejak-handover-v1"


def _counts(session: Session, receipt: ShipmentReceipt, package_ids: list[str]
            ) -> dict[str, dict]:
    """Return what the receiver's scans at the receipt's place say of each koli.

    ``counted`` and ``damaged``: the latest figure recorded (receive, unpack or
    inspect); ``condition``: the worst disposition seen there.
    """
    out: dict[str, dict] = {}
    worst = {"ok": 0, "damaged": 1, "seal_broken": 2}
    for part in chunks(package_ids):
        rows = session.execute(
            select(Package.package_id, ScanEvent.counted_quantity, ScanEvent.damaged_quantity,
                   ScanEvent.disposition)
            .join(Package, Package.id == ScanEvent.package_id)
            .where(Package.package_id.in_(part), ScanEvent.location_id == receipt.location_id,
                   ScanEvent.action.in_(COUNT_ACTIONS))
            .order_by(ScanEvent.scanned_at, ScanEvent.id))
        for pid, counted, damaged, disposition in rows:
            seen = out.setdefault(pid, {"counted": None, "damaged": None, "condition": "ok"})
            if counted is not None:
                seen["counted"] = counted
            if damaged is not None:
                seen["damaged"] = damaged
            if worst.get(disposition, 0) > worst[seen["condition"]]:
                seen["condition"] = disposition
    return out


def handover_content(session: Session, shipment: Shipment, with_receipt: bool = True) -> dict:
    """Return the canonical content of a shipment (and of its receipt, when received and asked)."""
    sent = koli_of(session, shipment)
    receipt = receipt_of(session, shipment) if with_receipt else None
    received = koli_of(session, shipment, receipt) if receipt is not None else []
    planned = planned_column(session, sorted(set(sent) | set(received)), Package.quantity)
    content = {"type": "handover", "format": FORMAT, "shipment": shipment.number,
               "id": shipment.uuid, "from": shipment.origin.code, "to": shipment.destination.code,
               "closed_at": _time(shipment.closed_at),
               "koli": [{"package": p, "quantity": planned.get(p)} for p in sent],
               "receipt": None}
    if receipt is None:
        return content
    counts = _counts(session, receipt, received)
    lines, mismatch, damaged = [], [], []
    for p in received:
        seen = counts.get(p, {"counted": None, "damaged": None, "condition": "ok"})
        lines.append({"package": p, "quantity": planned.get(p), **seen})
        if seen["counted"] is not None and planned.get(p) is not None \
                and seen["counted"] != planned[p]:
            mismatch.append(p)
        if (seen["damaged"] or 0) > 0 or seen["condition"] != "ok":
            damaged.append(p)
    diffs = compare(sent, received)
    content["receipt"] = {
        "id": receipt.uuid, "location": receipt.location.code,
        "closed_at": _time(receipt.closed_at), "koli": lines,
        "short_shipment": [d.package_id for d in diffs if d.kind == "short_shipment"],
        "not_in_shipment": [d.package_id for d in diffs if d.kind == "not_in_shipment"],
        "quantity_mismatch": mismatch, "damaged": damaged}
    return content


@dataclass(frozen=True)
class Digest:
    """A shipment's digest as a party signs it: the content, its hex SHA-256, what it covers."""

    content: dict
    digest: str
    covers_receipt: bool


def current_digest(session: Session, shipment: Shipment, with_receipt: bool = True) -> Digest:
    """Return the shipment's digest now (covering its receipt when received and asked)."""
    content = handover_content(session, shipment, with_receipt)
    return Digest(content, digest_of(content).hex(), content["receipt"] is not None)


def confirmations_of(session: Session, shipment: Shipment) -> dict[str, ShipmentConfirmation]:
    """Return a shipment's confirmations by party."""
    return {c.party: c for c in session.scalars(
        select(ShipmentConfirmation).where(ShipmentConfirmation.shipment_id == shipment.id))}


def still_valid(session: Session, shipment: Shipment, c: ShipmentConfirmation) -> bool:
    """Tell whether a confirmation's digest is the shipment's digest now, for what it covered."""
    return current_digest(session, shipment, c.covers_receipt).digest == c.digest


def _text(body: dict, name: str, limit: int) -> str:
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise ShipmentError(f"field {name!r} must be text of at most {limit} characters")
    return value.strip()


def _same(c: ShipmentConfirmation, device_id: int, digest: str, signature: str) -> bool:
    return c.device_id == device_id and c.digest == digest and c.signature == signature


def record_confirmation(session: Session, principal, number: str, body: dict
                        ) -> tuple[ShipmentConfirmation, bool]:
    """Record one party's signed confirmation of a shipment; return it and whether it is new.

    ``body``: ``party`` (giver or receiver), ``device`` (the caller's device id),
    ``digest`` (hex, as ``GET .../digest`` answered it), ``signature`` (hex Ed25519
    over ``confirmation_message``), ``name`` (who confirms), ``confirmed_at``.
    """
    shipment = find_shipment(session, principal, number)
    party = body.get("party")
    if party not in PARTIES:
        raise ShipmentError(f"field 'party' must be 'giver' or 'receiver', not {party!r}")
    if principal.device_id is None:
        raise OutOfReach("only a device's token confirms a handover: this token has no device "
                         "(and so no device key); enrol a device with jejak-server create-device")
    device_field = body.get("device")
    if device_field is not None and str(device_field) != str(principal.device_id):
        raise OutOfReach(f"device {str(device_field)[:20]!r} is not this token's device "
                         f"({principal.device_id})")
    digest, signature = body.get("digest"), body.get("signature")
    if not isinstance(digest, str) or len(digest) != 64:
        raise ShipmentError("field 'digest' must be the 64 hex digits GET "
                            f"/api/v1/shipments/{shipment.number}/digest answers")
    if not isinstance(signature, str) or len(signature) != 128:
        raise ShipmentError("field 'signature' must be 128 hex digits (an Ed25519 signature)")
    digest, signature = digest.lower(), signature.lower()
    name = _text(body, "name", MAX_OPERATOR) or principal.name
    try:
        confirmed_at = parse_time(body.get("confirmed_at")) if body.get("confirmed_at") \
            else utc_now()
    except ScanError as exc:
        raise ShipmentError(str(exc).replace("scanned_at", "confirmed_at")) from None
    device = session.get(Device, principal.device_id)
    existing = confirmations_of(session, shipment).get(party)
    if existing is not None:
        if _same(existing, device.id, digest, signature):
            return existing, False
        raise ShipmentConflict(f"the {party} confirmed {shipment.number} already, at "
                               f"{_time(existing.recorded_at)[:16]} UTC with device "
                               f"{existing.device_id}; a confirmation never changes")
    if not device.public_key:
        raise ShipmentConflict(f"device {device.id} has no registered key: register it first "
                               f"(POST /api/v1/devices/key)")
    receipt = receipt_of(session, shipment)
    if party == "giver":
        place = shipment.origin
    else:
        if receipt is None:
            raise ShipmentConflict(f"{shipment.number} has no closed receipt yet: the receiver "
                                   f"confirms after closing the receipt")
        place = receipt.location
    if device.location_id != place.id:
        raise OutOfReach(f"device {device.id} ({device.name}) is at {device.location.code}, not "
                         f"at the {party}'s place {place.code} of {shipment.number}")
    now = current_digest(session, shipment)
    if digest != now.digest:
        raise ShipmentConflict(f"digest {digest[:16]}... is not the current digest of "
                               f"{shipment.number} ({now.digest[:16]}...): the shipment or its "
                               f"receipt changed since; fetch the digest again and confirm that")
    try:
        key = public_key_raw(device.public_key)
        message = confirmation_message(shipment.number, party, digest)
    except ConfirmationError as exc:  # a stored key is always well formed; a bug if not
        raise AssertionError(str(exc)) from None
    if not verify(key, message, signature):
        raise ShipmentError(f"the signature does not verify with device {device.id}'s "
                            f"registered key over {shipment.number}'s digest as the {party}")
    row = ShipmentConfirmation(shipment_id=shipment.id, party=party, device_id=device.id,
                               token_id=principal.token_id, location_id=place.id, name=name,
                               digest=digest, covers_receipt=now.covers_receipt,
                               signature=signature, confirmed_at=confirmed_at,
                               recorded_at=utc_now())
    session.add(row)
    session.flush()
    append_records(session, CONFIRMATIONS, ShipmentConfirmation.id == row.id)
    return row, True


def confirmation_dict(session: Session, shipment: Shipment, c: ShipmentConfirmation | None
                      ) -> dict | None:
    """Return a confirmation in the API's shape (None: not confirmed)."""
    if c is None:
        return None
    return {"party": c.party, "name": c.name, "device": c.device_id,
            "device_name": c.device.name, "location": c.location.code, "digest": c.digest,
            "covers_receipt": c.covers_receipt, "signature": c.signature,
            "confirmed_at": c.confirmed_at, "recorded_at": c.recorded_at,
            "current": still_valid(session, shipment, c)}


def confirmations_dict(session: Session, shipment: Shipment) -> dict:
    """Return both parties' confirmations of a shipment (None for a party that has not)."""
    mine = confirmations_of(session, shipment)
    return {p: confirmation_dict(session, shipment, mine.get(p)) for p in PARTIES}
