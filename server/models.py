"""The data model: regions, the plan (packages, schedule), the scan log, anomalies, access.

Conventions:
* Every datetime is stored as naive UTC (``utc_now()``); the API converts at
  its edges.  This keeps SQLite and PostgreSQL identical.
* ``Location.path`` is the materialised path of codes (``/35/3513/351301/``):
  "everything in region R" is a range scan ``path >= R.path AND path < R.path + '~'``
  on one index, the same on both databases.
* Scan events and anomalies are never updated in place except for an anomaly's
  status and resolution; corrections are new rows.
* Indexes are named and chosen for a province: 1.5 million packages,
  7.5 million scan events (see docs/data-model.md).
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

LEVELS = ("province", "regency", "district", "village", "tps")
ACTIONS = ("receive", "dispatch", "pack", "unpack", "inspect", "handover", "return")
# Actions at which the receiver may count what is in a package (counted_quantity, damaged_quantity).
COUNT_ACTIONS = ("receive", "unpack", "inspect")
# Schedule directions: down the tree before voting, back up after it.
DIRECTIONS = ("outbound", "return")
DISPOSITIONS = ("ok", "damaged", "seal_broken")
ROLES = ("operator", "supervisor", "observer", "admin")
# The one list of anomaly kinds: docs/anomalies.md has a section per kind, the BAST a
# word per kind (tests/server/test_anomaly_kinds.py holds them equal).
ANOMALY_KINDS = (
    "missing", "duplicate_scan", "cloned_label", "misrouted", "wrong_dapil", "forged_label",
    "unknown_package", "superseded_label", "custody_gap", "late", "damaged", "seal_mismatch",
    "quantity_mismatch", "missing_return", "short_shipment", "not_in_shipment",
)
# Kinds judged once per scan from its label text (never disproved by other scans).
LABEL_KINDS = ("forged_label", "unknown_package", "superseded_label")
# Kinds judged once, when a shipment's receipt is closed (server.shipments): the handoff's
# verdict, never re-judged from the package's timeline.
SHIPMENT_KINDS = ("short_shipment", "not_in_shipment")
# Kinds judged from a package's timeline (re-judged on every new scan of it).
DERIVED_KINDS = tuple(kind for kind in ANOMALY_KINDS
                      if kind not in LABEL_KINDS and kind not in SHIPMENT_KINDS)
# Kinds that are episodes over device time (begun at a deadline, ended by a receipt):
# `as_of` reads them as they stood then.
EPISODE_KINDS = ("missing", "missing_return")
ANOMALY_STATUSES = ("open", "acknowledged", "resolved")
PATH_END = "~"  # sorts after every code character: path range upper bound


def utc_now() -> dt.datetime:
    """Return the current time as naive UTC, the storage convention."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base for every Jejak table."""


class Location(Base):
    """A node of the administrative tree: province, regency, district, village or TPS."""

    __tablename__ = "locations"
    __table_args__ = (
        Index("ix_locations_path", "path"),
        Index("ix_locations_parent", "parent_id"),
        Index("ix_locations_level_path", "level", "path"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    # "C" collation on PostgreSQL: the region range scan must order bytewise.
    path: Mapped[str] = mapped_column(
        String(300).with_variant(String(300, collation="C"), "postgresql"))
    # TPS only: ';'-separated dapil codes the TPS votes in.
    dapil: Mapped[str] = mapped_column(String(300), default="")

    parent: Mapped["Location | None"] = relationship(remote_side="Location.id")

    @staticmethod
    def make_path(parent: "Location | None", code: str) -> str:
        """Return the materialised path of a location with this parent and code."""
        return (parent.path if parent is not None else "/") + code + "/"

    @property
    def dapils(self) -> list[str]:
        """Return the TPS's dapil codes as a list."""
        return [d for d in (self.dapil or "").split(";") if d]

    @property
    def ancestor_codes(self) -> list[str]:
        """Return the codes from the root down to this location, inclusive."""
        return [c for c in self.path.split("/") if c]


class ItemType(Base):
    """A kind of equipment; the catalogue is seeded and a regency can extend it."""

    __tablename__ = "item_types"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name_id: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    has_dapil: Mapped[bool] = mapped_column(Boolean, default=False)


class Package(Base):
    """A labelled package in the plan, bound for one destination."""

    __tablename__ = "packages"
    __table_args__ = (
        Index("ix_packages_destination", "destination_id", "item_type"),
        Index("ix_packages_container", "container_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[str] = mapped_column(String(40), unique=True)
    item_type: Mapped[str] = mapped_column(ForeignKey("item_types.code"))
    quantity: Mapped[int] = mapped_column(Integer)
    destination_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    dapil: Mapped[str] = mapped_column(String(32), default="")
    label_version: Mapped[int] = mapped_column(Integer, default=1)
    # The container this package currently travels in (set by pack, cleared by unpack).
    container_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)

    destination: Mapped[Location] = relationship()
    container: Mapped["Package | None"] = relationship(remote_side="Package.id")


class Deadline(Base):
    """When each level must have received its packages (the imported schedule).

    ``direction`` ``outbound``: received at that level on the way down;
    ``return``: received back there after voting (migration 0009).  A blank
    ``item_type`` applies to every type.
    """

    __tablename__ = "deadlines"
    __table_args__ = (UniqueConstraint("region_id", "level", "direction", "item_type",
                                       name="uq_deadlines_region_level_direction_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The region the schedule applies to (null: everywhere).
    region_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    level: Mapped[str] = mapped_column(String(16))
    deadline: Mapped[dt.datetime] = mapped_column(DateTime)
    direction: Mapped[str] = mapped_column(String(8), default="outbound",
                                           server_default="outbound")
    item_type: Mapped[str] = mapped_column(String(16), default="", server_default="")


class Device(Base):
    """A registered scanning device, assigned to a location."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    # The device's Ed25519 public key (base64 of the 32 raw bytes), made on the device at
    # enrolment and registered once (migration 0014); it signs handover confirmations.
    public_key: Mapped[str | None] = mapped_column(String(64))
    key_registered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    location: Mapped[Location] = relationship()


class User(Base):
    """A person who logs in to the dashboard."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))
    region_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    # Bumped by logout, a new password and deactivation: older session cookies stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    region: Mapped[Location] = relationship()


class ApiToken(Base):
    """A bearer token for the API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    region_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    region: Mapped[Location] = relationship()
    device: Mapped[Device | None] = relationship()


class LabelKey(Base):
    """A trusted public key for label signatures."""

    __tablename__ = "label_keys"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ScanEvent(Base):
    """One scan as a device reported it: the chain-of-custody evidence.

    ``id`` is the server's commit order; ``uuid`` is the client's idempotency
    key.  A scan whose code could not be matched to a package (forged, unknown)
    is still recorded, with ``package_id`` null and ``claimed_package`` set to
    what the text claimed.
    """

    __tablename__ = "scan_events"
    __table_args__ = (
        Index("ix_scan_events_package_time", "package_id", "scanned_at"),
        Index("ix_scan_events_location_time", "location_id", "scanned_at"),
        Index("ix_scan_events_location_id", "location_id", "id"),  # scan-log pages (0005)
        Index("ix_scan_events_container_time", "container_id", "scanned_at"),
        Index("ix_scan_events_received", "received_at"),
        Index("ix_scan_events_device", "device_id", "scanned_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))
    claimed_package: Mapped[str] = mapped_column(String(80), default="")
    label_version: Mapped[int | None] = mapped_column(Integer)
    raw_code: Mapped[str] = mapped_column(Text)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    action: Mapped[str] = mapped_column(String(16))
    disposition: Mapped[str] = mapped_column(String(16), default="ok")
    container_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))
    container_raw: Mapped[str] = mapped_column(Text, default="")
    seal: Mapped[str] = mapped_column(String(64), default="")
    operator: Mapped[str] = mapped_column(String(100), default="")
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    scanned_at: Mapped[dt.datetime] = mapped_column(DateTime)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    # False for a duplicate_scan: recorded as evidence, not counted.
    counted: Mapped[bool] = mapped_column(Boolean, default=True)
    # The device name the scanner reported in the scan (audit; see migration 0002).
    client_device: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # What the receiver counted in the package, and how many of those were damaged
    # (receive/unpack/inspect only; null: not counted); migration 0009.
    counted_quantity: Mapped[int | None] = mapped_column(Integer)
    damaged_quantity: Mapped[int | None] = mapped_column(Integer)
    # The code of the province the scan was made in (the first code of its location's
    # path): PostgreSQL's partition key (migration 0017, docs/data-model.md "Partitions").
    # Filled by ingest's rows and, for ORM inserts, by the before_insert hook below.
    province: Mapped[str] = mapped_column(String(32))

    package: Mapped[Package | None] = relationship(foreign_keys=[package_id])
    location: Mapped[Location] = relationship()
    device: Mapped[Device | None] = relationship()


class Anomaly(Base):
    """A problem found in the log or against the plan; resolved, never deleted."""

    __tablename__ = "anomalies"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_anomalies_dedup_key"),
        Index("ix_anomalies_kind_status", "kind", "status"),
        Index("ix_anomalies_location", "location_id", "status"),
        Index("ix_anomalies_package", "package_id"),
        Index("ix_anomalies_detected", "detected_at"),
        # A region's anomalies: one index range per branch of its filter (0006).
        Index("ix_anomalies_location_path", "location_path", "id"),
        Index("ix_anomalies_destination_path", "destination_path", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    # What makes two detections the same problem, e.g. "late:<package>:<level>".
    dedup_key: Mapped[str] = mapped_column(String(200))
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))
    claimed_package: Mapped[str] = mapped_column(String(80), default="")
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    detected_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    # JSON list of scan event uuids.
    evidence_json: Mapped[str] = mapped_column(Text, default="[]")
    # The English sentence (UTC times) of facts_json; the API's "detail" (kept for clients).
    detail: Mapped[str] = mapped_column(Text, default="")
    # What happened, as JSON facts (server.reconcile.details words them per reader); 0009.
    facts_json: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    acknowledged_by: Mapped[str] = mapped_column(String(100), default="")
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[str] = mapped_column(String(100), default="")
    resolution_note: Mapped[str] = mapped_column(Text, default="")
    # missing only: device time the episode ended (package received); see migration 0002.
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Copies of the path of location_id and of the package's destination (neither moves),
    # filled on insert (server.reconcile) so a region filter needs no join; migration 0006.
    location_path: Mapped[str | None] = mapped_column(
        String(300).with_variant(String(300, collation="C"), "postgresql"))
    destination_path: Mapped[str | None] = mapped_column(
        String(300).with_variant(String(300, collation="C"), "postgresql"))

    package: Mapped[Package | None] = relationship()
    location: Mapped[Location | None] = relationship()

    @property
    def evidence(self) -> list[str]:
        """Return the uuids of the scans that show this anomaly."""
        return json.loads(self.evidence_json or "[]")

    @evidence.setter
    def evidence(self, uuids: list[str]) -> None:
        self.evidence_json = json.dumps(list(uuids))

    @property
    def facts(self) -> dict:
        """Return what happened as structured facts (empty for rows older than migration 0010)."""
        return json.loads(self.facts_json) if self.facts_json else {}


# Region keys of an anomaly: the paths of its place and of its package's destination.

def location_path_of(connection, location_id: int | None) -> str | None:
    """Return a location's path from the database (None for no location)."""
    if location_id is None:
        return None
    return connection.scalar(select(Location.path).where(Location.id == location_id))


def destination_path_of(connection, package_id: int | None) -> str | None:
    """Return the path of a package's destination from the database (None for no package)."""
    if package_id is None:
        return None
    return connection.scalar(select(Location.path)
                             .join(Package, Package.destination_id == Location.id)
                             .where(Package.id == package_id))


@event.listens_for(Anomaly, "before_insert")
def _fill_region_paths(_mapper, connection, target: Anomaly) -> None:
    """Copy the region keys onto an anomaly added through the ORM (label anomalies of ingest)."""
    if target.location_path is None:
        target.location_path = location_path_of(connection, target.location_id)
    if target.destination_path is None:
        target.destination_path = destination_path_of(connection, target.package_id)


def province_of(path: str) -> str:
    """Return the province code of a location path (``/35/3513/`` -> ``35``)."""
    return path.split("/", 2)[1]


@event.listens_for(ScanEvent, "before_insert")
def _fill_province(_mapper, connection, target: ScanEvent) -> None:
    """Set the partition key of a scan added through the ORM from its location."""
    if target.province is None:
        target.province = province_of(location_path_of(connection, target.location_id))


# Item type catalogue seeded by the first migration (codes are a contract).
ITEM_TYPES = [
    ("SS-PPWP", "Surat suara Presiden dan Wakil Presiden", "Presidential ballot papers", False),
    ("SS-DPR", "Surat suara DPR", "DPR ballot papers", True),
    ("SS-DPD", "Surat suara DPD", "DPD ballot papers", False),
    ("SS-DPRDP", "Surat suara DPRD Provinsi", "Provincial DPRD ballot papers", True),
    ("SS-DPRDK", "Surat suara DPRD Kabupaten/Kota", "Regency/city DPRD ballot papers", True),
    ("KOTAK", "Kotak suara", "Ballot box", False),
    ("BILIK", "Bilik suara", "Voting booth", False),
    ("TINTA", "Tinta", "Ink", False),
    ("SEGEL", "Segel", "Seals", False),
    ("FORMULIR", "Formulir", "Forms", False),
    ("SAMPUL", "Sampul", "Envelopes", False),
    ("DPT", "Daftar pemilih tetap", "Voter list", False),
    ("LAINNYA", "Perlengkapan lainnya", "Other equipment", False),
]


from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import mapped_column

from server.models import Base, utc_now

# Levels whose first receipt time PackageState keeps, as columns "<level>_at".
STATE_LEVELS = ("province", "regency", "district", "village", "tps")

# Levels a package is received back at after voting, kept as columns "back_<level>_at".
BACK_LEVELS = ("regency", "district", "village")

STATE_COLUMNS = tuple(f"{level}_at" for level in STATE_LEVELS) + (
    "dispatched_at", "last_location_id", "last_scanned_at", "returned_at") + tuple(
    f"back_{level}_at" for level in BACK_LEVELS)

class PackageState(Base):
    """What the scan log says about one package, by device time."""

    __tablename__ = "package_states"

    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"), primary_key=True)
    province_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    regency_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    district_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    village_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    tps_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    last_scanned_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # The way back (migration 0009): the first return scan, and the first receipt back at
    # the route location of each level after it.
    returned_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    back_regency_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    back_district_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    back_village_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

class DeadlineSweep(Base):
    """The last time the missing sweep judged one deadline row, and for which plan size."""

    __tablename__ = "deadline_sweeps"

    deadline_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deadline: Mapped[dt.datetime] = mapped_column(DateTime)
    max_package_id: Mapped[int] = mapped_column(Integer)
    max_scan_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    swept_at: Mapped[dt.datetime] = mapped_column(DateTime)

class LedgerEntry(Base):
    """One link of the chain: a scan, a resolution or a signed checkpoint."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_kind_row", "kind", "row_id"),)

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    # scan_events.id or anomalies.id (null for checkpoints)
    row_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    # scan uuid or anomaly id: names the record even after its row is gone
    ref: Mapped[str] = mapped_column(String(64), default="")
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    chain: Mapped[bytes] = mapped_column(LargeBinary(32))
    # the canonical JSON of resolutions and checkpoints (scans: null, read from the row)
    content: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)

class LedgerHead(Base):
    """The newest signed head of the ledger (one row, id 1), rewritten by every append."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    chain: Mapped[bytes] = mapped_column(LargeBinary(32))
    signed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(128))

class LabelRecord(Base):
    """One label that was printed, imported or scanned: its package, version and code."""

    __tablename__ = "label_registry"
    __table_args__ = (UniqueConstraint("package_id", "verification_code",
                                       name="uq_label_registry_package_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"))
    version: Mapped[int] = mapped_column(Integer)
    verification_code: Mapped[str] = mapped_column(String(9))
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(8))
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    # HMAC-SHA256 of the label's exact text under a key derived from the ledger key
    # (server.labelling.registry.text_mac): ingest takes a text whose MAC is here as
    # genuine without checking its signature again (docs/security.md). Null: rows
    # registered before migration 0015, or by a session without a ledger key.
    text_mac: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)


class Shipment(Base):
    """A dispatch as one shipment (a surat jalan): its koli, from one place to another.

    ``uuid`` is chosen by the scanner when it opens the shipment (offline too) and is
    the idempotency key; ``number`` is given by the server when the closed shipment
    arrives (migration 0011).
    """

    __tablename__ = "shipments"
    __table_args__ = (Index("ix_shipments_origin", "origin_id", "closed_at"),
                      Index("ix_shipments_destination", "destination_id", "closed_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    origin_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    destination_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    operator: Mapped[str] = mapped_column(String(100), default="")
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    # Device time the sender closed it, and server time it arrived.
    closed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)

    origin: Mapped[Location] = relationship(foreign_keys=[origin_id])
    destination: Mapped[Location] = relationship(foreign_keys=[destination_id])


class ShipmentReceipt(Base):
    """The receiver's check of a shipment: its surat jalan scanned, then its koli, then closed."""

    __tablename__ = "shipment_receipts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    # One receipt per shipment: a second one with another uuid is refused.
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), unique=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    operator: Mapped[str] = mapped_column(String(100), default="")
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    closed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)

    shipment: Mapped[Shipment] = relationship()
    location: Mapped[Location] = relationship()


class ShipmentKoli(Base):
    """One koli on a shipment's list (``receipt_id`` null) or on its receipt's."""

    __tablename__ = "shipment_koli"
    __table_args__ = (
        # Lists are de-duplicated by server.shipments (NULL receipt ids are distinct in SQL).
        Index("ix_shipment_koli_shipment", "shipment_id", "receipt_id"),
        Index("ix_shipment_koli_package", "package_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"))
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("shipment_receipts.id"))
    # The package the scanned text names (null: not in the plan), and the id it claimed.
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))
    claimed_package: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)


class ScanPhoto(Base):
    """A photo attached to a scan (damage, a broken seal, a count that differs); migration 0013.

    The original's bytes live in the photo store (``PHOTO_DIR``, by default
    ``<instance>/photos``) under their SHA-256, untouched; the row says which scan
    they show, what they are and who sent them, and is chained in the ledger
    (record kind ``scan_photo``).  One scan holds one copy of the same bytes:
    a photo sent again is the same row.
    """

    __tablename__ = "scan_photos"
    __table_args__ = (
        UniqueConstraint("scan_id", "sha256", name="uq_scan_photos_scan_sha256"),
        Index("ix_scan_photos_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scan_events.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    # Sniffed from the bytes, never taken from the request's Content-Type.
    media_type: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    # Who attached it: the principal's name, its token and device (audit).
    uploaded_by: Mapped[str] = mapped_column(String(100), default="")
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)

    scan: Mapped[ScanEvent] = relationship()


CONFIRMATION_PARTIES = ("giver", "receiver")


class ShipmentConfirmation(Base):
    """One side's confirmation of a handover: the shipment's digest signed by its device's key.

    The giver confirms a closed shipment (its digest covers the shipment, and the receipt
    when it was received already); the receiver confirms its closed receipt.  At most one
    per party and shipment (migration 0014).
    """

    __tablename__ = "shipment_confirmations"
    __table_args__ = (UniqueConstraint("shipment_id", "party",
                                       name="uq_shipment_confirmations_party"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"))
    party: Mapped[str] = mapped_column(String(16))  # giver or receiver
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    name: Mapped[str] = mapped_column(String(100), default="")
    # What was signed: the digest (hex), whether it covered the receipt, the signature (hex).
    digest: Mapped[str] = mapped_column(String(64))
    covers_receipt: Mapped[bool] = mapped_column(Boolean, default=False)
    signature: Mapped[str] = mapped_column(String(128))
    confirmed_at: Mapped[dt.datetime] = mapped_column(DateTime)   # device time
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)

    shipment: Mapped[Shipment] = relationship()
    device: Mapped[Device] = relationship()
    location: Mapped[Location] = relationship()


class RateLimitHit(Base):
    """One counted request of a rate-limited key (server.ratelimit): shared by every instance.

    ``scope`` names the limit (``api`` per token, ``login-user``/``login-address`` for
    failed logins), ``at`` is the app's wall clock in seconds since the epoch.  Rows
    older than their window are deleted as the key is used (and idle keys' ones
    every thousand hits): the table holds about one window of traffic.
    """

    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_hits_key", "scope", "key", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[float] = mapped_column(Double)


class ProgressSummary(Base):
    """A region's progress figures as of the last refresh: the national rollup reads these.

    One row per province and per regency (``jejak-server progress-summary --refresh``,
    from cron), computed by the same ``reconcile.progress`` as a region's page, so a
    row is exact as of ``as_of``; the national rollup sums 38 rows instead of reading
    15 million packages (migration 0017).
    """

    __tablename__ = "progress_summaries"
    __table_args__ = (Index("ix_progress_summaries_level_path", "level", "path"),)

    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), primary_key=True,
                                             autoincrement=False)
    level: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(
        String(300).with_variant(String(300, collation="C"), "postgresql"))
    expected: Mapped[int] = mapped_column(Integer)
    dispatched: Mapped[int] = mapped_column(Integer)
    received_regency: Mapped[int] = mapped_column(Integer)
    received_district: Mapped[int] = mapped_column(Integer)
    received_village: Mapped[int] = mapped_column(Integer)
    received_tps: Mapped[int] = mapped_column(Integer)
    overdue: Mapped[int] = mapped_column(Integer)
    # Open anomalies that happened in the region.
    anomalies: Mapped[int] = mapped_column(Integer)
    # The instant the figures are for, and when they were computed.
    as_of: Mapped[dt.datetime] = mapped_column(DateTime)
    refreshed_at: Mapped[dt.datetime] = mapped_column(DateTime)
