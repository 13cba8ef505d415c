"""What the ledger chains besides scans: every record a judgement depends on.

A judgement (missing, misrouted, late, forged...) is only as honest as the
plan and the keys it was made against, and an anomaly only as honest as its
row.  So each of these records is chained when it is created and at every
change, as its canonical content (the *record kinds*, one per table):

=============  ==================================================================
``location``   code, name, level, parent's code, path, dapil codes
``item_type``  code, names, has_dapil
``package``    label id, item type, quantity, destination's code, dapil, label
               version, created_at (not ``container_id``: derived from chained
               scans, revised by reconciliation like a scan's ``counted``)
``deadline``   region's code (null: everywhere), level, direction, item type, deadline
``label_key``  key id, public key, name, created_at, revoked_at
``device``     name, location's code, created_at; its public key and when it was
               registered, once it has one
``user``       username, role, region's code, active, created_at (no password
               hash, no session version)
``api_token``  role, region's code, device, user, name, created, expires,
               revoked (no token hash)
``confirmation`` a handover confirmed by one party: shipment number, party, device,
               its public key, place, name, the digest signed, whether it covered
               the receipt, the signature, confirmed_at, recorded_at
``anomaly``    kind, key, package, place, region keys, detected_at, evidence,
               detail and facts, status with who, when and the notes, ended_at
``scan_photo`` the scan's uuid and place, the photo's SHA-256, media type, size,
               pixel size, who attached it (name, token, device), created_at
               (the file's bytes are checked against the SHA-256 by verify-log)
=============  ==================================================================

A record's entry keeps its content (like a resolution's), because the row
changes; verification (``server.ledger.verify_records``) checks that the
latest chained content of every record equals the live row, that no live row
is unchained and that no chained record is gone.  A record removed on purpose
(a re-imported deadline) gets a removal entry, kind ``<kind>:del``.

Each kind is a :class:`RecordKind`: the SELECT of its canonical columns (one
query for any number of rows), how a row becomes content, what names it
(``ref``) and which region's export carries it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import aliased

from server.ledger.content import _time
from server.models import (
    Anomaly,
    ApiToken,
    Deadline,
    Device,
    ItemType,
    LabelKey,
    Location,
    Package,
    ScanEvent,
    ScanPhoto,
    Shipment,
    ShipmentConfirmation,
    User,
)


@dataclass(frozen=True)
class Scope:
    """What a region's export may show: the codes under the region, and those above it."""

    path: str
    codes: frozenset
    ancestors: frozenset


@dataclass(frozen=True)
class RecordKind:
    """One chained table: its entry kinds, live SELECT, content and region membership."""

    kind: str
    table: str
    key: object                 # the identifying column: an integer id (row_id) or a code (ref)
    by_ref: bool                # identified by ref (a code) rather than row_id
    select: Callable[[], object]
    content: Callable[[object], dict]
    ref: Callable[[object], str]
    in_region: Callable[[dict, Scope], bool]

    @property
    def removal(self) -> str:
        """Return the entry kind that records the record's deliberate removal."""
        return f"{self.kind}:del"

    @property
    def kinds(self) -> tuple[str, ...]:
        """Return every entry kind that carries this record's latest state."""
        return (self.kind, self.removal) + (("resolution",) if self.kind == "anomaly" else ())

    def row_id(self, row) -> int | None:
        """Return the ledger row_id of a live row (None for a record named by its code)."""
        return None if self.by_ref else row.id

    def identity(self, row):
        """Return what identifies a live row in the ledger: its row_id or its ref."""
        return self.ref(row) if self.by_ref else row.id


_Parent = aliased(Location, name="rec_parent")
_Dest = aliased(Location, name="rec_dest")
_Place = aliased(Location, name="rec_place")
_Pkg = aliased(Package, name="rec_pkg")
_Scan = aliased(ScanEvent, name="rec_scan")


def _everywhere(_content: dict, _scope: Scope) -> bool:
    """Every region's export carries it (the catalogue, the label keys)."""
    return True


def _under(field: str) -> Callable[[dict, Scope], bool]:
    """Return a membership test: the record's location code ``field`` is inside the region."""
    return lambda content, scope: content.get(field) in scope.codes


def _location_select():
    return (select(Location.id, Location.code, Location.name, Location.level,
                   _Parent.code.label("parent"), Location.path, Location.dapil)
            .select_from(Location).outerjoin(_Parent, _Parent.id == Location.parent_id))


def _location_content(r) -> dict:
    return {"type": "location", "id": r.id, "code": r.code, "name": r.name, "level": r.level,
            "parent": r.parent, "path": r.path, "dapil": r.dapil or ""}


def _item_type_select():
    return select(ItemType.code, ItemType.name_id, ItemType.name_en, ItemType.has_dapil)


def _item_type_content(r) -> dict:
    return {"type": "item_type", "code": r.code, "name_id": r.name_id, "name_en": r.name_en,
            "has_dapil": bool(r.has_dapil)}


def _package_select():
    return (select(Package.id, Package.package_id, Package.item_type, Package.quantity,
                   _Dest.code.label("destination"), Package.dapil, Package.label_version,
                   Package.created_at)
            .select_from(Package).outerjoin(_Dest, _Dest.id == Package.destination_id))


def _package_content(r) -> dict:
    return {"type": "package", "id": r.id, "package_id": r.package_id, "item_type": r.item_type,
            "quantity": r.quantity, "destination": r.destination, "dapil": r.dapil or "",
            "label_version": r.label_version, "created_at": _time(r.created_at)}


def _deadline_select():
    return (select(Deadline.id, _Place.code.label("region"), Deadline.level, Deadline.deadline,
                   Deadline.direction, Deadline.item_type)
            .select_from(Deadline).outerjoin(_Place, _Place.id == Deadline.region_id))


def _deadline_content(r) -> dict:
    return {"type": "deadline", "id": r.id, "region": r.region, "level": r.level,
            "deadline": _time(r.deadline), "direction": r.direction, "item_type": r.item_type or ""}


def _deadline_in_region(content: dict, scope: Scope) -> bool:
    region = content.get("region")
    return region is None or region in scope.codes or region in scope.ancestors


def _label_key_select():
    return select(LabelKey.key_id, LabelKey.public_key_pem, LabelKey.name, LabelKey.created_at,
                  LabelKey.revoked_at)


def _label_key_content(r) -> dict:
    return {"type": "label_key", "key_id": r.key_id, "public_key_pem": r.public_key_pem,
            "name": r.name or "", "created_at": _time(r.created_at),
            "revoked_at": _time(r.revoked_at)}


def _device_select():
    return (select(Device.id, Device.name, _Place.code.label("location"), Device.created_at,
                   Device.public_key, Device.key_registered_at)
            .select_from(Device).outerjoin(_Place, _Place.id == Device.location_id))


def _device_content(r) -> dict:
    content = {"type": "device", "id": r.id, "name": r.name, "location": r.location,
               "created_at": _time(r.created_at)}
    # Only once registered, so devices chained before keys existed keep their content.
    if r.public_key:
        content.update(public_key=r.public_key, key_registered_at=_time(r.key_registered_at))
    return content


_Device = aliased(Device, name="rec_device")


def _confirmation_select():
    return (select(ShipmentConfirmation.id, Shipment.number.label("shipment"),
                   ShipmentConfirmation.party, ShipmentConfirmation.device_id,
                   _Device.public_key, _Place.code.label("location"), ShipmentConfirmation.name,
                   ShipmentConfirmation.digest, ShipmentConfirmation.covers_receipt,
                   ShipmentConfirmation.signature, ShipmentConfirmation.confirmed_at,
                   ShipmentConfirmation.recorded_at)
            .select_from(ShipmentConfirmation)
            .join(Shipment, Shipment.id == ShipmentConfirmation.shipment_id)
            .outerjoin(_Device, _Device.id == ShipmentConfirmation.device_id)
            .outerjoin(_Place, _Place.id == ShipmentConfirmation.location_id))


def _confirmation_content(r) -> dict:
    return {"type": "confirmation", "id": r.id, "shipment": r.shipment, "party": r.party,
            "device": r.device_id, "public_key": r.public_key, "location": r.location,
            "name": r.name or "", "digest": r.digest, "covers_receipt": bool(r.covers_receipt),
            "signature": r.signature, "confirmed_at": _time(r.confirmed_at),
            "recorded_at": _time(r.recorded_at)}


def _user_select():
    return (select(User.id, User.username, User.role, _Place.code.label("region"), User.active,
                   User.created_at)
            .select_from(User).outerjoin(_Place, _Place.id == User.region_id))


def _user_content(r) -> dict:
    return {"type": "user", "id": r.id, "username": r.username, "role": r.role,
            "region": r.region, "active": bool(r.active), "created_at": _time(r.created_at)}


def _token_select():
    return (select(ApiToken.id, ApiToken.role, _Place.code.label("region"), ApiToken.device_id,
                   ApiToken.user_id, ApiToken.name, ApiToken.created_at, ApiToken.expires_at,
                   ApiToken.revoked_at)
            .select_from(ApiToken).outerjoin(_Place, _Place.id == ApiToken.region_id))


def _token_content(r) -> dict:
    return {"type": "api_token", "id": r.id, "role": r.role, "region": r.region,
            "device": r.device_id, "user": r.user_id, "name": r.name or "",
            "created_at": _time(r.created_at), "expires_at": _time(r.expires_at),
            "revoked_at": _time(r.revoked_at)}


def _anomaly_select():
    return (select(Anomaly.id, Anomaly.kind, Anomaly.dedup_key, _Pkg.package_id.label("package"),
                   Anomaly.claimed_package, _Place.code.label("location"), Anomaly.location_path,
                   Anomaly.destination_path, Anomaly.detected_at, Anomaly.evidence_json,
                   Anomaly.detail, Anomaly.facts_json, Anomaly.status, Anomaly.acknowledged_at,
                   Anomaly.acknowledged_by, Anomaly.resolved_at, Anomaly.resolved_by,
                   Anomaly.resolution_note, Anomaly.ended_at)
            .select_from(Anomaly)
            .outerjoin(_Pkg, _Pkg.id == Anomaly.package_id)
            .outerjoin(_Place, _Place.id == Anomaly.location_id))


def _anomaly_content(r) -> dict:
    return {"type": "anomaly", "anomaly": r.id, "kind": r.kind, "dedup_key": r.dedup_key,
            "package": r.package, "claimed_package": r.claimed_package or "",
            "location": r.location, "location_path": r.location_path,
            "destination_path": r.destination_path, "detected_at": _time(r.detected_at),
            "evidence": json.loads(r.evidence_json or "[]"), "detail": r.detail or "",
            "facts": json.loads(r.facts_json) if r.facts_json else {},
            "status": r.status, "acknowledged_at": _time(r.acknowledged_at),
            "acknowledged_by": r.acknowledged_by or "", "resolved_at": _time(r.resolved_at),
            "resolved_by": r.resolved_by or "", "resolution_note": r.resolution_note or "",
            "ended_at": _time(r.ended_at)}


def _anomaly_in_region(content: dict, scope: Scope) -> bool:
    destination = content.get("destination_path") or ""
    return content.get("location") in scope.codes or destination.startswith(scope.path)


def _scan_photo_select():
    return (select(ScanPhoto.id, _Scan.uuid.label("scan"), _Place.code.label("location"),
                   ScanPhoto.sha256, ScanPhoto.media_type, ScanPhoto.size_bytes, ScanPhoto.width,
                   ScanPhoto.height, ScanPhoto.uploaded_by, ScanPhoto.token_id,
                   ScanPhoto.device_id, ScanPhoto.created_at)
            .select_from(ScanPhoto)
            .join(_Scan, _Scan.id == ScanPhoto.scan_id)
            .join(_Place, _Place.id == _Scan.location_id))


def _scan_photo_content(r) -> dict:
    return {"type": "scan_photo", "id": r.id, "scan": r.scan, "location": r.location,
            "sha256": r.sha256, "media_type": r.media_type, "size_bytes": r.size_bytes,
            "width": r.width, "height": r.height, "uploaded_by": r.uploaded_by or "",
            "token": r.token_id, "device": r.device_id, "created_at": _time(r.created_at)}


LOCATIONS = RecordKind("location", "locations", Location.id, False, _location_select,
                       _location_content, lambda r: r.code,
                       lambda c, s: c.get("code") in s.codes or c.get("code") in s.ancestors)
ITEM_TYPES = RecordKind("item_type", "item_types", ItemType.code, True, _item_type_select,
                        _item_type_content, lambda r: r.code, _everywhere)
PACKAGES = RecordKind("package", "packages", Package.id, False, _package_select,
                      _package_content, lambda r: r.package_id, _under("destination"))
DEADLINES = RecordKind("deadline", "deadlines", Deadline.id, False, _deadline_select,
                       _deadline_content,
                       lambda r: ":".join(filter(None, (r.region or "*", r.level, r.direction, r.item_type))),
                       _deadline_in_region)
LABEL_KEYS = RecordKind("label_key", "label_keys", LabelKey.key_id, True, _label_key_select,
                        _label_key_content, lambda r: r.key_id, _everywhere)
DEVICES = RecordKind("device", "devices", Device.id, False, _device_select, _device_content,
                     lambda r: str(r.id), _under("location"))
USERS = RecordKind("user", "users", User.id, False, _user_select, _user_content,
                   lambda r: r.username[:64], _under("region"))
API_TOKENS = RecordKind("api_token", "api_tokens", ApiToken.id, False, _token_select,
                        _token_content, lambda r: str(r.id), _under("region"))
CONFIRMATIONS = RecordKind("confirmation", "shipment_confirmations", ShipmentConfirmation.id,
                           False, _confirmation_select, _confirmation_content,
                           lambda r: f"{r.shipment}:{r.party}", _under("location"))
ANOMALIES = RecordKind("anomaly", "anomalies", Anomaly.id, False, _anomaly_select,
                       _anomaly_content, lambda r: str(r.id), _anomaly_in_region)
SCAN_PHOTOS = RecordKind("scan_photo", "scan_photos", ScanPhoto.id, False, _scan_photo_select,
                         _scan_photo_content, lambda r: r.sha256, _under("location"))

# In the order a plan is built: what a record refers to comes before it.
RECORD_KINDS = (ITEM_TYPES, LOCATIONS, PACKAGES, DEADLINES, LABEL_KEYS, DEVICES, USERS,
                API_TOKENS, CONFIRMATIONS, ANOMALIES, SCAN_PHOTOS)

BY_ENTRY_KIND = {k: spec for spec in RECORD_KINDS for k in spec.kinds}


def name_of(content) -> str:
    """Return how a message names a record from its content."""
    if not isinstance(content, dict):
        return repr(content)[:40]
    for field in ("package_id", "code", "key_id", "username", "uuid"):
        if content.get(field):
            return str(content[field])
    if content.get("anomaly") is not None:
        return str(content["anomaly"])
    if content.get("type") == "deadline":
        return f"{content.get('region') or '(all)'}/{content.get('level')} (row {content.get('id')})"
    return str(content.get("id", content.get("covers_seq", "")))
