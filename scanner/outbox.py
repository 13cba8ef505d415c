"""The durable local outbox: every scan is on disk before the person sees "accepted".

One SQLite file (default `~/.local/share/jejak/outbox.sqlite3`, see `default_path`) holds:

* `scans` - every recorded scan with the UUID it got when it was written (retries reuse it, so
  the server can answer `already_recorded`), its state `pending` -> `sent`, or `rejected` with
  the server's error (kept, listed by `jejak-scan status`, never dropped);
* the offline-check cache: the trusted public label keys and the packages expected at a
  location, refreshed whenever the server is reachable;
* `lists` - shipments and receipts (the surat jalan): opened with the UUID the server will
  know them by, their koli written in the same transaction as each scan (`list_koli`), then
  `open` -> `pending` when closed -> `sent` (with the server's number and answer) or
  `rejected`; a list still open when the scanner stops is taken up again at the next start;
* `photos` - photos attached to a scan (damage, a broken seal, a count that differs): the
  image's bytes themselves, so the file may be moved or deleted once queued, keyed by the
  scan's UUID and the bytes' SHA-256 (the same photo queued twice is one row), `pending` ->
  `sent` or `rejected` with the server's message; uploaded after their scan.
* `confirmations` - a party's confirmation of a handover (`jejak-scan confirm`), queued like
  a scan: `pending` (offline, or its list not yet numbered) -> `sent` or `rejected`.

Durability: WAL journal with `synchronous=FULL`, so `add` returns only after the commit's WAL
frames are fsynced; a SIGKILL (or power cut) at any instant leaves either the whole scan or
none of it, and "none" only when the accepted signal was never given.  Several processes may
use one outbox at once (a running scanner and `jejak-scan sync`): writes take SQLite's lock
and wait up to `BUSY_TIMEOUT_MS`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

BUSY_TIMEOUT_MS = 10_000
# 2: counted_quantity, damaged_quantity; 3: lists and list_koli; 4: photos;
# 5: confirmations (older files are upgraded)
SCHEMA_VERSION = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    code TEXT NOT NULL,
    package_id TEXT,
    location TEXT NOT NULL,
    action TEXT NOT NULL,
    scanned_at TEXT NOT NULL,
    container TEXT,
    disposition TEXT NOT NULL,
    seal TEXT,
    operator TEXT,
    device TEXT,
    offline INTEGER NOT NULL,
    counted_quantity INTEGER,
    damaged_quantity INTEGER,
    rescan INTEGER NOT NULL DEFAULT 0,
    signal TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'rejected')),
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    server_status TEXT,
    anomalies TEXT,
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS scans_by_state ON scans (state, seq);
CREATE INDEX IF NOT EXISTS scans_by_place ON scans (location, action, package_id);
CREATE TABLE IF NOT EXISTS label_keys (
    key_id TEXT PRIMARY KEY,
    public_key_pem TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS expected (
    location TEXT NOT NULL,
    package_id TEXT NOT NULL,
    item_type TEXT,
    destination TEXT,
    dapil TEXT,
    quantity INTEGER,
    label_version INTEGER,
    verification_code TEXT,
    PRIMARY KEY (location, package_id)
);
CREATE TABLE IF NOT EXISTS cache_meta (
    name TEXT PRIMARY KEY,
    value TEXT,
    fetched_at TEXT NOT NULL
);
""" + """
CREATE TABLE IF NOT EXISTS lists (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('shipment', 'receipt')),
    location TEXT NOT NULL,
    destination TEXT,
    reference TEXT,
    operator TEXT,
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    state TEXT NOT NULL DEFAULT 'open'
        CHECK (state IN ('open', 'pending', 'sent', 'rejected')),
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    number TEXT,
    answer TEXT,
    sent_at TEXT
);
CREATE TABLE IF NOT EXISTS list_koli (
    list_uuid TEXT NOT NULL,
    position INTEGER NOT NULL,
    code TEXT NOT NULL,
    package_id TEXT,
    scan_uuid TEXT NOT NULL,
    PRIMARY KEY (list_uuid, position)
);
""" + """
CREATE TABLE IF NOT EXISTS photos (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    scan_uuid TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    media_type TEXT NOT NULL,
    data BLOB NOT NULL,
    name TEXT,
    added_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'rejected')),
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    sent_at TEXT,
    UNIQUE (scan_uuid, sha256)
);
""" + """
CREATE TABLE IF NOT EXISTS confirmations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT,
    list_uuid TEXT,
    party TEXT NOT NULL CHECK (party IN ('giver', 'receiver')),
    name TEXT,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'rejected')),
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    answer TEXT
);
"""
_LISTS_FROM = _SCHEMA.index("CREATE TABLE IF NOT EXISTS lists")
_PHOTOS_FROM = _SCHEMA.index("CREATE TABLE IF NOT EXISTS photos")
# The photo formats the server takes, by their first bytes (the server checks them in full).
PHOTO_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
PHOTO_MAX_BYTES = 10 * 1024 * 1024  # the server's default PHOTO_MAX_BYTES

SCAN_FIELDS = ("uuid", "code", "package_id", "location", "action", "scanned_at", "container",
               "disposition", "seal", "operator", "device", "offline", "rescan", "signal",
               "reason", "counted_quantity", "damaged_quantity")


class OutboxError(RuntimeError):
    """The outbox file cannot be opened or is not a Jejak outbox."""


class PhotoRefused(ValueError):
    """A photo that cannot be queued: no such scan in the outbox, not JPEG/PNG, too large."""


@dataclass(frozen=True)
class StoredPhoto:
    """A photo in the outbox (its bytes stay in the file: ``Outbox.photo_data``)."""

    seq: int
    scan_uuid: str
    sha256: str
    media_type: str
    name: str | None
    added_at: str
    state: str
    attempts: int
    error: str | None
    size: int


def default_path() -> Path:
    """Return the default outbox path: $JEJAK_OUTBOX, else $XDG_DATA_HOME/jejak/outbox.sqlite3."""
    if os.environ.get("JEJAK_OUTBOX"):
        return Path(os.environ["JEJAK_OUTBOX"])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "jejak" / "outbox.sqlite3"


def utc_now_iso() -> str:
    """Return the current UTC time as ISO-8601 with an explicit offset, to the millisecond."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class StoredScan:
    """One scan as the outbox holds it."""

    seq: int
    uuid: str
    code: str
    package_id: str | None
    location: str
    action: str
    scanned_at: str
    container: str | None
    disposition: str
    seal: str | None
    operator: str | None
    device: str | None
    offline: bool
    rescan: bool
    signal: str
    reason: str
    state: str
    attempts: int
    error: str | None
    server_status: str | None
    anomalies: list[str]
    counted_quantity: int | None = None
    damaged_quantity: int | None = None

    def to_api(self) -> dict:
        """Return the scan as `POST /api/v1/scans` takes it (optional fields left out when empty)."""
        body = {"id": self.uuid, "code": self.code, "location": self.location,
                "action": self.action, "scanned_at": self.scanned_at,
                "disposition": self.disposition, "offline": self.offline}
        for name in ("container", "seal", "operator", "device"):
            value = getattr(self, name)
            if value:
                body[name] = value
        for name in ("counted_quantity", "damaged_quantity"):
            if getattr(self, name) is not None:
                body[name] = getattr(self, name)
        return body


@dataclass(frozen=True)
class StoredList:
    """A shipment or receipt as the outbox holds it, with its koli (scanned texts, in order)."""

    uuid: str
    kind: str
    location: str
    destination: str | None
    reference: str | None
    operator: str | None
    opened_at: str
    closed_at: str | None
    state: str
    attempts: int
    error: str | None
    number: str | None
    answer: dict | None
    koli: list[str]

    def to_api(self) -> dict:
        """Return the closed list as POST /api/v1/shipments (or .../receipt) takes it."""
        body = {"id": self.uuid, "koli": list(self.koli), "closed_at": self.closed_at}
        if self.operator:
            body["operator"] = self.operator
        if self.kind == "shipment":
            body.update({"from": self.location, "to": self.destination})
        else:
            body.update({"reference": self.reference, "location": self.location})
        return body


class Outbox:
    """A connection to the outbox file; one per thread."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        created = not self.path.exists()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000,
                                       isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self._db.execute("PRAGMA synchronous = FULL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                with self._transaction():
                    self._create_schema()
            elif version in (1, 2, 3, 4):
                with self._transaction():
                    if version == 1:
                        # Scans queued by the previous version keep their place; no counts.
                        for name in ("counted_quantity", "damaged_quantity"):
                            self._db.execute(f"ALTER TABLE scans ADD COLUMN {name} INTEGER")
                    # CREATE ... IF NOT EXISTS: the lists (version < 3), photos (< 4) and
                    # confirmations tables.
                    for statement in _SCHEMA[_LISTS_FROM:].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif version != SCHEMA_VERSION:
                raise OutboxError(f"outbox {str(self.path)!r} has schema version {version}, "
                                  f"this jejak-scan knows version {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise OutboxError(f"cannot open outbox {str(self.path)!r}: {exc}") from None
        if mode.lower() != "wal":
            raise OutboxError(f"outbox {str(self.path)!r}: the file system does not allow "
                              f"SQLite's WAL mode (got {mode!r}); put the outbox on a local disk")
        if created:
            _fsync_dir(self.path.parent)

    def _create_schema(self) -> None:
        """Create the tables and stamp the schema version."""
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                self._db.execute(statement)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _transaction(self):
        """Return a BEGIN IMMEDIATE ... COMMIT context."""
        return _Transaction(self._db)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    # -- scans ------------------------------------------------------------------------------

    def add(self, list_uuid: str | None = None, **fields) -> StoredScan:
        """Write one scan durably (fsynced on return), giving it its UUID, and return it.

        With ``list_uuid`` the scan's koli goes on that open list in the same transaction:
        a scan on disk is on its list, a scan not written is on neither.
        """
        values = {name: fields.get(name) for name in SCAN_FIELDS}
        values["uuid"] = values["uuid"] or str(uuid.uuid4())
        values["scanned_at"] = values["scanned_at"] or utc_now_iso()
        values["offline"] = int(bool(values["offline"]))
        values["rescan"] = int(bool(values["rescan"]))
        values["reason"] = values["reason"] or ""
        names = ", ".join(SCAN_FIELDS)
        marks = ", ".join("?" for _ in SCAN_FIELDS)
        try:
            with self._transaction():
                self._db.execute(f"INSERT INTO scans ({names}) VALUES ({marks})",
                                 [values[n] for n in SCAN_FIELDS])
                if list_uuid is not None:
                    self._add_koli(list_uuid, values["code"], values["package_id"],
                                   values["uuid"])
            return self.get(values["uuid"])
        except sqlite3.Error as exc:
            # Disk full, file gone read-only, lock held too long: the scan is NOT recorded
            # and the caller must not give the accepted signal.
            raise OutboxError(f"scan not recorded in {str(self.path)!r}: {exc}") from None

    def get(self, scan_uuid: str) -> StoredScan | None:
        """Return a scan by UUID."""
        row = self._db.execute("SELECT * FROM scans WHERE uuid = ?", (scan_uuid,)).fetchone()
        return _scan(row) if row else None

    def scans(self, state: str | None = None, limit: int | None = None,
              after_seq: int = 0) -> list[StoredScan]:
        """Return scans (of one state, if given; after a sequence number, if given) oldest first."""
        sql, args = "SELECT * FROM scans WHERE seq > ?", [after_seq]
        if state:
            sql += " AND state = ?"
            args.append(state)
        sql += " ORDER BY seq"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        return [_scan(r) for r in self._db.execute(sql, args)]

    def counts(self) -> dict[str, int]:
        """Return the number of scans in each state."""
        counts = {"pending": 0, "sent": 0, "rejected": 0}
        for state, n in self._db.execute("SELECT state, count(*) FROM scans GROUP BY state"):
            counts[state] = n
        return counts

    def seen_before(self, location: str, action: str, key: str) -> bool:
        """Return whether this package (or raw code) was already scanned here with this action."""
        row = self._db.execute(
            "SELECT 1 FROM scans WHERE location = ? AND action = ? AND (package_id = ? OR "
            "(package_id IS NULL AND code = ?)) LIMIT 1", (location, action, key, key)).fetchone()
        return row is not None

    def mark_attempt(self, uuids: Iterable[str], error: str | None) -> None:
        """Count one failed delivery attempt for these scans and keep the last error."""
        with self._transaction():
            self._db.executemany("UPDATE scans SET attempts = attempts + 1, error = ? "
                                 "WHERE uuid = ? AND state = 'pending'",
                                 [(error, u) for u in uuids])

    def mark_results(self, results: Iterable[tuple[str, str, list[str], str | None]]) -> None:
        """Store the server's answers (uuid, status, anomalies, error) in one transaction."""
        now = utc_now_iso()
        rows = []
        for scan_uuid, status, anomalies, error in results:
            state = "rejected" if status == "rejected" else "sent"
            rows.append((state, status, json.dumps(anomalies or []), error, now, scan_uuid))
        with self._transaction():
            self._db.executemany(
                "UPDATE scans SET state = ?, server_status = ?, anomalies = ?, error = ?, "
                "sent_at = ?, attempts = attempts + 1 WHERE uuid = ? AND state != 'sent'", rows)

    def requeue_rejected(self) -> int:
        """Put rejected scans back to pending (same UUIDs) and return how many."""
        with self._transaction():
            cur = self._db.execute("UPDATE scans SET state = 'pending' WHERE state = 'rejected'")
        return cur.rowcount

    # -- photos attached to scans --------------------------------------------------------------

    def add_photo(self, scan_uuid: str, data: bytes, name: str = "") -> StoredPhoto:
        """Queue a photo of a scan durably (its bytes, fsynced on return); return it.

        The same bytes queued again for the same scan are the row already queued.
        Raises PhotoRefused for a file that is not a JPEG or PNG, or is too large.
        """
        if self.get(scan_uuid) is None:
            raise PhotoRefused(f"no scan {scan_uuid} in the outbox {str(self.path)!r}")
        media_type = next((m for magic, m in PHOTO_MAGIC.items() if data.startswith(magic)), None)
        if media_type is None:
            raise PhotoRefused(f"{name or 'the photo'} is not a JPEG or PNG image")
        if len(data) > PHOTO_MAX_BYTES:
            raise PhotoRefused(f"{name or 'the photo'} is {len(data):,} bytes; the server takes "
                               f"at most {PHOTO_MAX_BYTES:,}")
        sha256 = hashlib.sha256(data).hexdigest()
        try:
            with self._transaction():
                self._db.execute(
                    "INSERT OR IGNORE INTO photos (scan_uuid, sha256, media_type, data, name, "
                    "added_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (scan_uuid, sha256, media_type, data, name, utc_now_iso()))
        except sqlite3.Error as exc:
            raise OutboxError(f"photo not queued in {str(self.path)!r}: {exc}") from None
        return self._photos("WHERE scan_uuid = ? AND sha256 = ?", (scan_uuid, sha256))[0]

    def photos(self, state: str | None = None) -> list[StoredPhoto]:
        """Return the queued photos (of one state, if given), oldest first, without their bytes."""
        if state:
            return self._photos("WHERE state = ?", (state,))
        return self._photos("", ())

    def photo_data(self, seq: int) -> bytes:
        """Return a queued photo's bytes."""
        return bytes(self._db.execute("SELECT data FROM photos WHERE seq = ?", (seq,)).fetchone()[0])

    def photo_counts(self) -> dict[str, int]:
        """Return the number of photos in each state."""
        counts = {"pending": 0, "sent": 0, "rejected": 0}
        for state, n in self._db.execute("SELECT state, count(*) FROM photos GROUP BY state"):
            counts[state] = n
        return counts

    def mark_photo(self, seq: int, state: str, error: str | None = None) -> None:
        """Store the server's answer to a photo: sent, rejected (with why) or still pending."""
        with self._transaction():
            self._db.execute(
                "UPDATE photos SET state = ?, error = ?, attempts = attempts + 1, "
                "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE seq = ?",
                (state, error, state, utc_now_iso(), seq))

    def _photos(self, where: str, args: tuple) -> list[StoredPhoto]:
        rows = self._db.execute(
            "SELECT seq, scan_uuid, sha256, media_type, name, added_at, state, attempts, error, "
            f"length(data) AS size FROM photos {where} ORDER BY seq", args)
        return [StoredPhoto(**dict(r)) for r in rows]

    # -- lists: shipments and receipts (the surat jalan) --------------------------------------

    def open_list(self, kind: str, location: str, destination: str | None = None,
                  reference: str | None = None, operator: str | None = None) -> StoredList:
        """Open a shipment or a receipt at a location, giving it its UUID, and return it."""
        list_uuid = str(uuid.uuid4())
        try:
            with self._transaction():
                self._db.execute(
                    "INSERT INTO lists (uuid, kind, location, destination, reference, operator, "
                    "opened_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (list_uuid, kind, location, destination, reference, operator, utc_now_iso()))
        except sqlite3.Error as exc:
            raise OutboxError(f"{kind} not opened in {str(self.path)!r}: {exc}") from None
        return self.get_list(list_uuid)

    def _add_koli(self, list_uuid: str, code: str, package_id: str | None,
                  scan_uuid: str) -> None:
        """Put a scanned koli on an open list (inside a transaction)."""
        row = self._db.execute("SELECT state FROM lists WHERE uuid = ?", (list_uuid,)).fetchone()
        if row is None or row[0] != "open":
            raise sqlite3.IntegrityError(f"list {list_uuid} is not open")
        position = self._db.execute("SELECT coalesce(max(position), -1) + 1 FROM list_koli "
                                    "WHERE list_uuid = ?", (list_uuid,)).fetchone()[0]
        self._db.execute("INSERT INTO list_koli VALUES (?, ?, ?, ?, ?)",
                         (list_uuid, position, code, package_id, scan_uuid))

    def close_list(self, list_uuid: str) -> StoredList:
        """Close an open list: it is queued for upload (``pending``) with the time it closed."""
        with self._transaction():
            self._db.execute("UPDATE lists SET state = 'pending', closed_at = ? "
                             "WHERE uuid = ? AND state = 'open'", (utc_now_iso(), list_uuid))
        return self.get_list(list_uuid)

    def get_list(self, list_uuid: str) -> StoredList | None:
        """Return a list by UUID, with its koli."""
        row = self._db.execute("SELECT * FROM lists WHERE uuid = ?", (list_uuid,)).fetchone()
        if row is None:
            return None
        koli = [r[0] for r in self._db.execute(
            "SELECT code FROM list_koli WHERE list_uuid = ? ORDER BY position", (list_uuid,))]
        return _list(row, koli)

    def list_packages(self, list_uuid: str) -> list[str]:
        """Return the package ids of a list's koli (the scanned text where none was read)."""
        return [r[0] or r[1] for r in self._db.execute(
            "SELECT package_id, code FROM list_koli WHERE list_uuid = ? ORDER BY position",
            (list_uuid,))]

    def lists(self, state: str | None = None) -> list[StoredList]:
        """Return lists (of one state, if given), oldest first."""
        sql, args = "SELECT uuid FROM lists", []
        if state:
            sql, args = sql + " WHERE state = ?", [state]
        return [self.get_list(r[0]) for r in self._db.execute(sql + " ORDER BY seq", args)]

    def open_list_at(self, location: str) -> StoredList | None:
        """Return the list left open at a location (a restart takes it up again), or None."""
        row = self._db.execute("SELECT uuid FROM lists WHERE location = ? AND state = 'open' "
                               "ORDER BY seq DESC LIMIT 1", (location,)).fetchone()
        return self.get_list(row[0]) if row else None

    def mark_list(self, list_uuid: str, state: str, number: str | None = None,
                  answer: dict | None = None, error: str | None = None) -> None:
        """Store the server's answer to a list: ``sent`` (number, answer) or ``rejected`` (error)."""
        with self._transaction():
            self._db.execute(
                "UPDATE lists SET state = ?, number = coalesce(?, number), answer = ?, error = ?, "
                "sent_at = ?, attempts = attempts + 1 WHERE uuid = ? AND state != 'sent'",
                (state, number, json.dumps(answer) if answer is not None else None, error,
                 utc_now_iso(), list_uuid))

    def mark_list_attempt(self, list_uuid: str, error: str) -> None:
        """Count one failed delivery attempt of a list and keep the last error."""
        with self._transaction():
            self._db.execute("UPDATE lists SET attempts = attempts + 1, error = ? "
                             "WHERE uuid = ? AND state = 'pending'", (error, list_uuid))

    # -- confirmations: a party's signed confirmation of a handover, queued like a scan -----

    def add_confirmation(self, party: str, name: str | None, number: str | None = None,
                         list_uuid: str | None = None) -> int:
        """Queue a confirmation of a shipment (by number, or by the list it will be numbered)."""
        with self._transaction():
            cur = self._db.execute(
                "INSERT INTO confirmations (number, list_uuid, party, name, created_at) "
                "VALUES (?, ?, ?, ?, ?)", (number, list_uuid, party, name, utc_now_iso()))
        return cur.lastrowid

    def confirmations(self, state: str | None = None) -> list[dict]:
        """Return queued confirmations (of one state, if given), oldest first."""
        sql, args = "SELECT * FROM confirmations", []
        if state:
            sql, args = sql + " WHERE state = ?", [state]
        return [dict(r) for r in self._db.execute(sql + " ORDER BY seq", args)]

    def mark_confirmation(self, seq: int, state: str, error: str | None = None,
                          answer: dict | None = None, number: str | None = None) -> None:
        """Store what became of a queued confirmation (pending with an error: try again)."""
        with self._transaction():
            self._db.execute(
                "UPDATE confirmations SET state = ?, error = ?, answer = coalesce(?, answer), "
                "number = coalesce(?, number), attempts = attempts + 1 WHERE seq = ?",
                (state, error, json.dumps(answer) if answer is not None else None, number, seq))

    # -- offline-check cache ----------------------------------------------------------------

    def store_keys(self, keys: dict[str, str]) -> None:
        """Replace the cached trusted keys (key id -> public key PEM)."""
        now = utc_now_iso()
        with self._transaction():
            self._db.execute("DELETE FROM label_keys")
            self._db.executemany("INSERT INTO label_keys VALUES (?, ?, ?)",
                                 [(k, pem, now) for k, pem in keys.items()])
            self._set_meta("keys", str(len(keys)), now)

    def cached_keys(self) -> dict[str, str] | None:
        """Return the cached keys (key id -> PEM), or None when they were never fetched."""
        if self.meta("keys") is None:
            return None
        return dict(self._db.execute("SELECT key_id, public_key_pem FROM label_keys"))

    def store_expected(self, location: str, packages: list[dict], info: dict | None = None) -> None:
        """Replace the cached list of packages expected at a location."""
        now = utc_now_iso()
        cols = ("package_id", "item_type", "destination", "dapil", "quantity", "label_version",
                "verification_code")
        with self._transaction():
            self._db.execute("DELETE FROM expected WHERE location = ?", (location,))
            self._db.executemany(
                "INSERT OR REPLACE INTO expected VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(location, *[p.get(c) for c in cols]) for p in packages])
            self._set_meta(f"expected:{location}", json.dumps(info or {}), now)

    def expected_fetched(self, location: str) -> bool:
        """Return whether the expected list of a location was ever fetched."""
        return self.meta(f"expected:{location}") is not None

    def expected_location(self, location: str) -> dict:
        """Return the cached description of a location (code, level, path, dapil), or {}."""
        meta = self.meta(f"expected:{location}")
        try:
            info = json.loads(meta[0]) if meta and meta[0] else {}
        except ValueError:
            return {}
        return info if isinstance(info, dict) else {}

    def expected_package(self, location: str, package_id: str) -> dict | None:
        """Return the cached plan row of a package expected at a location, or None."""
        row = self._db.execute("SELECT * FROM expected WHERE location = ? AND package_id = ?",
                               (location, package_id)).fetchone()
        return dict(row) if row else None

    def meta(self, name: str) -> tuple[str, str] | None:
        """Return (value, fetched_at) of a cache entry, or None."""
        row = self._db.execute("SELECT value, fetched_at FROM cache_meta WHERE name = ?",
                               (name,)).fetchone()
        return (row[0], row[1]) if row else None

    def _set_meta(self, name: str, value: str, now: str) -> None:
        """Record when a cache entry was fetched (inside a transaction)."""
        self._db.execute("INSERT OR REPLACE INTO cache_meta VALUES (?, ?, ?)", (name, value, now))


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error (the connection is in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
        return False


def _scan(row: sqlite3.Row) -> StoredScan:
    """Turn an outbox row into a StoredScan."""
    return StoredScan(
        seq=row["seq"], uuid=row["uuid"], code=row["code"], package_id=row["package_id"],
        location=row["location"], action=row["action"], scanned_at=row["scanned_at"],
        container=row["container"], disposition=row["disposition"], seal=row["seal"],
        operator=row["operator"], device=row["device"], offline=bool(row["offline"]), rescan=bool(row["rescan"]),
        signal=row["signal"], reason=row["reason"], state=row["state"], attempts=row["attempts"],
        error=row["error"], server_status=row["server_status"],
        anomalies=json.loads(row["anomalies"]) if row["anomalies"] else [],
        counted_quantity=row["counted_quantity"], damaged_quantity=row["damaged_quantity"])


def _list(row: sqlite3.Row, koli: list[str]) -> StoredList:
    """Turn a lists row and its koli into a StoredList."""
    return StoredList(
        uuid=row["uuid"], kind=row["kind"], location=row["location"],
        destination=row["destination"], reference=row["reference"], operator=row["operator"],
        opened_at=row["opened_at"], closed_at=row["closed_at"], state=row["state"],
        attempts=row["attempts"], error=row["error"], number=row["number"],
        answer=json.loads(row["answer"]) if row["answer"] else None, koli=koli)


def _fsync_dir(path: Path) -> None:
    """Make a newly created file's directory entry durable too."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories; SQLite's own syncs still hold
    finally:
        os.close(fd)
