"""Record shipments and their receipts; judge a receipt against its shipment when it closes.

A shipment arrives closed: the sending scanner opened it (choosing its uuid,
offline if need be), scanned its koli and closed it; the upload is the whole
list.  The same uuid sent again with the same content answers the same
shipment (``already_recorded``); with other content it is refused
(``ShipmentConflict``): a shipment's list never changes once recorded.
A receipt is the same for the receiving side, at most one per shipment.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from labels.shipment import (
    ShipmentRefError,
    make_shipment_number,
    make_shipment_ref,
    parse_shipment_ref,
)
from server.errors import DomainError
from server.ingest.labels import claimed_id
from server.ingest.scan import ScanError, parse_time
from server.ledger.chain import append_anomalies
from server.reconcile.details import describe, dumps, instant, place as place_facts
from server.sql import chunks
from server.models import (
    PATH_END,
    Anomaly,
    Location,
    Package,
    ScanEvent,
    Shipment,
    ShipmentKoli,
    ShipmentReceipt,
    utc_now,
)

# The most koli one shipment (or receipt) may list: a truck of a regency's district.
MAX_KOLI = 5000
MAX_CODE = 2000  # a label text, as server.ingest.scan
MAX_OPERATOR = 100


class ShipmentError(DomainError):
    """A shipment or receipt that cannot be recorded as sent (the message quotes why)."""

    status = 400


class ShipmentConflict(ShipmentError):
    """The uuid was recorded before with other content, or the shipment was received already."""

    status = 409


class ShipmentNotFound(ShipmentError):
    """No shipment has this number (or the reference's uuid is not its uuid)."""

    status = 404


class OutOfReach(ShipmentError):
    """The caller may not record at this place."""

    status = 403


@dataclass
class Closed:
    """A closed list as a scanner sent it: its uuid, place(s), koli and device time."""

    uuid: str
    koli: list[str]  # claimed package ids, de-duplicated, in scan order
    closed_at: dt.datetime
    operator: str = ""
    texts: dict[str, str] = field(default_factory=dict)


def _uuid(value, name: str = "id") -> str:
    """Return a uuid field in canonical form, else raise ShipmentError."""
    if not isinstance(value, str):
        raise ShipmentError(f"field {name!r} must be a UUID string")
    try:
        return str(uuidlib.UUID(value.strip()))
    except ValueError:
        raise ShipmentError(f"{name} {value[:60]!r} is not a UUID") from None


def read_closed(body: dict) -> Closed:
    """Return the uuid, koli, device time and operator of a closed shipment or receipt body."""
    uuid = _uuid(body.get("id"))
    koli = body.get("koli")
    if not isinstance(koli, list):
        raise ShipmentError("field 'koli' must be an array of scanned codes (label texts or "
                            "package ids)")
    if len(koli) > MAX_KOLI:
        raise ShipmentError(f"{len(koli)} koli in one list; at most {MAX_KOLI}")
    claimed: list[str] = []
    texts: dict[str, str] = {}
    for i, text in enumerate(koli):
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_CODE:
            raise ShipmentError(f"koli[{i}] must be a non-empty scanned code of at most "
                                f"{MAX_CODE} characters")
        if "\x00" in text:
            raise ShipmentError(f"koli[{i}] holds a NUL character")
        package_id, _label = claimed_id(text)
        if not package_id:
            raise ShipmentError(f"koli[{i}] {text[:60]!r} names no package")
        if package_id not in texts:  # a koli scanned twice is on the list once
            texts[package_id] = text
            claimed.append(package_id)
    try:
        closed_at = parse_time(body.get("closed_at"))
    except ScanError as exc:
        raise ShipmentError(str(exc).replace("scanned_at", "closed_at")) from None
    operator = body.get("operator", "")
    if not isinstance(operator, str) or len(operator) > MAX_OPERATOR or "\x00" in operator:
        raise ShipmentError(f"field 'operator' must be text of at most {MAX_OPERATOR} characters")
    return Closed(uuid=uuid, koli=claimed, closed_at=closed_at, operator=operator, texts=texts)


def location(session: Session, code, name: str) -> Location:
    """Return the location a field names, else raise ShipmentError."""
    if not isinstance(code, str) or not code.strip() or len(code) > 32 or "\x00" in code:
        raise ShipmentError(f"field {name!r} must be a location code")
    loc = session.scalar(select(Location).where(Location.code == code.strip()))
    if loc is None:
        raise ShipmentNotFound(f"{name} {code!r} is no known location")
    return loc


def planned(session: Session, package_ids: list[str], column=Package.id) -> dict[str, object]:
    """Return ``column`` (default the row id) of each package id that is in the plan."""
    found: dict[str, object] = {}
    for part in chunks(package_ids):
        found.update(session.execute(
            select(Package.package_id, column).where(Package.package_id.in_(part))).all())
    return found


def _add_lines(session: Session, shipment: Shipment, receipt: ShipmentReceipt | None,
               claimed: list[str]) -> None:
    """Store a list's koli lines."""
    ids = planned(session, claimed)
    session.add_all(ShipmentKoli(shipment_id=shipment.id,
                                 receipt_id=receipt.id if receipt is not None else None,
                                 package_id=ids.get(c), claimed_package=c, position=i)
                    for i, c in enumerate(claimed))


def koli_of(session: Session, shipment: Shipment, receipt: ShipmentReceipt | None = None
            ) -> list[str]:
    """Return the package ids on a shipment's list (or on its receipt's), in scan order."""
    cond = (ShipmentKoli.receipt_id == receipt.id) if receipt is not None \
        else ShipmentKoli.receipt_id.is_(None)
    return list(session.scalars(select(ShipmentKoli.claimed_package)
                                .where(ShipmentKoli.shipment_id == shipment.id, cond)
                                .order_by(ShipmentKoli.position)))


def record_shipment(session: Session, principal, body: dict) -> tuple[Shipment, bool]:
    """Record a closed shipment and give it a number; return it and whether it is new.

    ``body``: ``id`` (uuid), ``from`` and ``to`` (location codes), ``koli``,
    ``closed_at``, ``operator``.  The caller must be able to scan at ``from``.
    """
    origin = location(session, body.get("from"), "from")
    destination = location(session, body.get("to"), "to")
    closed = read_closed(body)
    if origin.id == destination.id:
        raise ShipmentError(f"a shipment goes somewhere else: from and to are both "
                            f"{origin.code!r}")
    if not principal.may_scan_at(origin.path):
        raise OutOfReach(f"you may not dispatch from {origin.code!r}")
    existing = session.scalar(select(Shipment).where(Shipment.uuid == closed.uuid))
    if existing is not None:
        same = (existing.origin_id == origin.id and existing.destination_id == destination.id
                and koli_of(session, existing) == closed.koli)
        if not same:
            raise ShipmentConflict(f"shipment {closed.uuid} was recorded before as "
                                   f"{existing.number} with other content; a shipment's list "
                                   f"never changes: open a new shipment")
        return existing, False
    shipment = Shipment(uuid=closed.uuid, origin_id=origin.id, destination_id=destination.id,
                        operator=closed.operator or principal.name, device_id=principal.device_id,
                        token_id=principal.token_id, closed_at=closed.closed_at,
                        recorded_at=utc_now())
    session.add(shipment)
    session.flush()
    shipment.number = make_shipment_number(shipment.id)
    _add_lines(session, shipment, None, closed.koli)
    session.flush()
    return shipment, True


def find_shipment(session: Session, principal, number: str) -> Shipment:
    """Return the shipment with this number, if it leaves or reaches the caller's region."""
    shipment = None
    if isinstance(number, str) and len(number) <= 32 and "\x00" not in number:
        shipment = session.scalar(select(Shipment).where(Shipment.number == number.upper()))
    if shipment is None or not (principal.covers(shipment.origin.path)
                                or principal.covers(shipment.destination.path)):
        # 404 outside the region too: numbers must not leak which shipments exist.
        raise ShipmentNotFound(f"no shipment {str(number)[:40]!r} in your region")
    return shipment


def receipt_of(session: Session, shipment: Shipment) -> ShipmentReceipt | None:
    """Return a shipment's receipt, None while it is not received."""
    return session.scalar(select(ShipmentReceipt)
                          .where(ShipmentReceipt.shipment_id == shipment.id))


def record_receipt(session: Session, principal, number: str, body: dict
                   ) -> tuple[ShipmentReceipt, bool, list[Anomaly]]:
    """Record the receipt of a shipment and raise what differs, at once.

    ``body``: ``id`` (the receipt's uuid), ``reference`` (the surat jalan's QR
    text), ``location``, ``koli``, ``closed_at``, ``operator``.  Returns the
    receipt, whether it is new, and the anomalies it raised (none on a retry).
    """
    shipment = find_shipment(session, principal, number)
    closed = read_closed(body)
    try:
        ref = parse_shipment_ref(body.get("reference"))
    except ShipmentRefError as exc:
        raise ShipmentError(str(exc)) from None
    if ref.number != shipment.number or ref.uuid != shipment.uuid:
        raise ShipmentError(f"reference {str(body.get('reference'))[:80]!r} is not the surat "
                            f"jalan of {shipment.number}")
    place = location(session, body.get("location"), "location")
    if not principal.may_scan_at(place.path):
        raise OutOfReach(f"you may not receive at {place.code!r}")
    existing = session.scalar(select(ShipmentReceipt).where(ShipmentReceipt.uuid == closed.uuid))
    if existing is not None:
        if (existing.shipment_id != shipment.id or existing.location_id != place.id
                or koli_of(session, shipment, existing) != closed.koli):
            raise ShipmentConflict(f"receipt {closed.uuid} was recorded before with other "
                                   f"content; a receipt's list never changes")
        return existing, False, []
    other = receipt_of(session, shipment)
    if other is not None:
        raise ShipmentConflict(f"shipment {shipment.number} was received already, by receipt "
                               f"{other.uuid} at {other.location.code}")
    receipt = ShipmentReceipt(uuid=closed.uuid, shipment_id=shipment.id, location_id=place.id,
                              operator=closed.operator or principal.name,
                              device_id=principal.device_id, token_id=principal.token_id,
                              closed_at=closed.closed_at, recorded_at=utc_now())
    session.add(receipt)
    session.flush()
    _add_lines(session, shipment, receipt, closed.koli)
    anomalies = judge_receipt(session, shipment, receipt, koli_of(session, shipment),
                              closed.koli)
    session.flush()
    return receipt, True, anomalies


@dataclass(frozen=True)
class Difference:
    """One koli the two lists disagree on."""

    kind: str  # short_shipment or not_in_shipment
    package_id: str


def compare(sent: list[str], received: list[str]) -> list[Difference]:
    """Return what a receipt's list says against its shipment's: short ones, then extra ones."""
    got, listed = set(received), set(sent)
    return ([Difference("short_shipment", p) for p in sent if p not in got]
            + [Difference("not_in_shipment", p) for p in received if p not in listed])


def _evidence(session: Session, package_row: int | None, location_id: int,
              actions: tuple[str, ...]) -> list[str]:
    """Return the uuids of the package's scans at a place with these actions."""
    if package_row is None:
        return []
    return list(session.scalars(select(ScanEvent.uuid)
                                .where(ScanEvent.package_id == package_row,
                                       ScanEvent.location_id == location_id,
                                       ScanEvent.action.in_(actions))
                                .order_by(ScanEvent.scanned_at, ScanEvent.id)))


def judge_receipt(session: Session, shipment: Shipment, receipt: ShipmentReceipt,
                  sent: list[str], received: list[str]) -> list[Anomaly]:
    """Raise short_shipment and not_in_shipment for a closed receipt, at its place and time."""
    ids = planned(session, [d.package_id for d in compare(sent, received)])
    place = receipt.location
    origin, destination = shipment.origin, shipment.destination
    raised = []
    for diff in compare(sent, received):
        row = ids.get(diff.package_id)
        facts = {"package": diff.package_id, "shipment": shipment.number,
                 "from": place_facts(origin), "to": place_facts(destination),
                 "place": place_facts(place), "at": instant(receipt.closed_at)}
        if diff.kind == "short_shipment":
            facts.update(sent=len(sent), received=len(received))
            evidence = _evidence(session, row, origin.id, ("dispatch", "handover"))
        else:
            evidence = _evidence(session, row, place.id, ("receive",))
        anomaly = Anomaly(kind=diff.kind, dedup_key=f"{diff.kind}:{shipment.uuid}:"
                                                    f"{diff.package_id}",
                          package_id=row, claimed_package="" if row else diff.package_id,
                          location_id=place.id, detected_at=receipt.closed_at,
                          detail=describe(diff.kind, facts), facts_json=dumps(facts))
        anomaly.evidence = evidence
        session.add(anomaly)
        raised.append(anomaly)
    session.flush()
    # Chained like every anomaly (server.ledger), in the receipt's transaction.
    append_anomalies(session, ids=[a.id for a in raised])
    return raised


def list_shipments(session: Session, region_path: str, limit: int = 100) -> list[dict]:
    """Return the newest shipments leaving or reaching a region, with their receipt's verdict."""
    from_region = (Location.path >= region_path) & (Location.path < region_path + PATH_END)
    origin_ids = select(Location.id).where(from_region)
    rows = session.scalars(select(Shipment)
                           .where(or_(Shipment.origin_id.in_(origin_ids),
                                      Shipment.destination_id.in_(origin_ids)))
                           .order_by(Shipment.id.desc()).limit(limit)).all()
    out = []
    for shipment in rows:
        receipt = receipt_of(session, shipment)
        sent = koli_of(session, shipment)
        item = {"number": shipment.number, "origin": shipment.origin,
                "destination": shipment.destination, "closed_at": shipment.closed_at,
                "koli": len(sent), "receipt": None}
        if receipt is not None:
            diffs = compare(sent, koli_of(session, shipment, receipt))
            item["receipt"] = {"location": receipt.location, "closed_at": receipt.closed_at,
                               "short": sum(d.kind == "short_shipment" for d in diffs),
                               "extra": sum(d.kind == "not_in_shipment" for d in diffs)}
        out.append(item)
    return out


def reference_of(shipment: Shipment) -> str:
    """Return the QR text of a shipment's surat jalan."""
    return make_shipment_ref(shipment.number, shipment.uuid)


def shipment_dict(session: Session, shipment: Shipment) -> dict:
    """Return a shipment, its koli and its receipt (if any) in the API's shape."""
    receipt = receipt_of(session, shipment)
    sent = koli_of(session, shipment)
    out = {"id": shipment.uuid, "number": shipment.number, "reference": reference_of(shipment),
           "from": shipment.origin.code, "to": shipment.destination.code,
           "operator": shipment.operator, "closed_at": shipment.closed_at,
           "recorded_at": shipment.recorded_at, "koli": sent, "receipt": None}
    if receipt is not None:
        out["receipt"] = receipt_dict(session, shipment, receipt, sent)
    return out


def receipt_dict(session: Session, shipment: Shipment, receipt: ShipmentReceipt,
                 sent: list[str] | None = None) -> dict:
    """Return a receipt, its koli and what it found against the shipment."""
    sent = koli_of(session, shipment) if sent is None else sent
    received = koli_of(session, shipment, receipt)
    diffs = compare(sent, received)
    anomalies = session.execute(
        select(Anomaly.id, Anomaly.kind, Anomaly.dedup_key)
        .where(Anomaly.dedup_key.in_([f"{d.kind}:{shipment.uuid}:{d.package_id}"
                                      for d in diffs] or [""]))
        .order_by(Anomaly.id)).all()
    return {"id": receipt.uuid, "shipment": shipment.number, "location": receipt.location.code,
            "operator": receipt.operator, "closed_at": receipt.closed_at,
            "recorded_at": receipt.recorded_at, "koli": received,
            "short_shipment": [d.package_id for d in diffs if d.kind == "short_shipment"],
            "not_in_shipment": [d.package_id for d in diffs if d.kind == "not_in_shipment"],
            "anomalies": [{"id": a.id, "kind": a.kind,
                           "package_id": a.dedup_key.split(":", 2)[2]} for a in anomalies]}
