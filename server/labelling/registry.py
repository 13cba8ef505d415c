"""The label registry: the verification code of every label the server knows was made.

A person who cannot scan a torn QR types ``PACKAGE-ID XXXX-XXXX``, the code
printed under it (``labels.payload.verification_code``, derived from the
signature).  The server can only check such an entry if it knows the
signatures of the labels that exist, so every label it learns of is kept here,
per package and label version (table of migration 0004):

* ``jejak-server print-labels`` / ``reprint`` register what they render, in the
  transaction that commits the print (``server.labelling.printing``);
* ``jejak-server import-labels FILE`` takes the ``{"package_id", "code"}`` JSON
  lines of ``jejak-labels render --format codes`` (labels printed away from the
  server), verifies every line with the trusted keys and stores all or nothing;
* ingest registers every genuine label it verifies (``server.ingest``), in bulk.

Rows are only ever added (insert-if-missing; a row from before migration 0015
only gains its text MAC): a code once genuine stays genuine, and an older
version's code then identifies a superseded label.

Each row also keeps ``text_mac`` (migration 0015): an HMAC of the label's exact
text under a key derived from the ledger key, which lives on the app hosts and
not in the database.  The server writes it only for a text it signed itself or
verified with a trusted key, so at ingest a scanned text whose MAC is registered
needs no second Ed25519 check (``Registered.proves``; docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from labels.keys import private_pem
from labels.payload import BadSignature, PayloadError, SignedLabel, UnknownKey, parse, verify
from server.config import rules_of
from server.errors import DomainError
from server.ledger.checkpoints import load_or_create_key
from server.models import LabelRecord, Package, utc_now
from server.sql import chunks, member

SOURCES = ("print", "import", "scan")


IMPORT_CHUNK = 2000


MAX_LISTED = 1000  # bad lines shown in full; the rest are counted


_MAC_KEYS: dict[str, bytes] = {}


def mac_key(session: Session) -> bytes | None:
    """Return the key of the registry's text MACs: derived from the session's ledger key.

    None for a bare session, or while the ledger key does not exist yet (it is made by the
    first ledger append, e.g. the plan's import; printing never makes one): nothing is then
    MACed, and every label is checked by its signature.
    """
    path = rules_of(session).ledger_key_file
    if path is None:
        return None
    found = _MAC_KEYS.get(str(path))
    if found is None:
        if not Path(path).exists():
            return None
        # A key of its own (not the signing key itself), bound to this one use.
        found = _MAC_KEYS[str(path)] = hashlib.sha256(
            b"jejak label registry text mac\0"
            + private_pem(load_or_create_key(path, create=False))).digest()
    return found


def text_mac(key: bytes, text: str) -> bytes:
    """Return the MAC the registry keeps of a label's exact text."""
    return hmac.digest(key, text.encode("utf-8"), "sha256")


def row_for(package_row_id: int, label: SignedLabel, source: str, key: bytes | None = None) -> dict:
    """Return the registry row of a genuine label of a planned package (MACed when key is given)."""
    return {"package_id": package_row_id, "version": label.version,
            "verification_code": label.verification_code, "key_id": label.key_id,
            "signature": label.signature, "source": source,
            "text_mac": text_mac(key, label.text) if key is not None else None}


@dataclass
class Registered:
    """What the registry holds for some packages: their codes, and the MACs of their texts."""

    codes: dict[int, dict[str, int]] = field(default_factory=dict)
    macs: set[bytes] = field(default_factory=set)
    key: bytes | None = None
    _of: dict[str, bytes] = field(default_factory=dict)

    def mac_of(self, text: str) -> bytes | None:
        """Return the MAC of a text under this registry's key (None without a key), computed once."""
        if self.key is None:
            return None
        mac = self._of.get(text)
        if mac is None:
            mac = self._of[text] = text_mac(self.key, text)
        return mac

    def proves(self, text: str) -> bool:
        """Tell whether this exact text was signed or verified by this server (its MAC is registered)."""
        return bool(self.macs) and self.mac_of(text) in self.macs


def codes_of(session: Session, package_row_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Return {package row id: {verification code: label version}} for the packages given."""
    return registered(session, package_row_ids, with_key=False).codes


def registered(session: Session, package_row_ids: Iterable[int], with_key: bool = True) -> Registered:
    """Return the registered codes and text MACs of the packages given, in one query per chunk."""
    out = Registered(key=mac_key(session) if with_key else None)
    for part in chunks(set(package_row_ids)):
        for pid, code, version, mac in session.execute(
                select(LabelRecord.package_id, LabelRecord.verification_code, LabelRecord.version,
                       LabelRecord.text_mac)
                .where(member(session, LabelRecord.package_id, part))):
            out.codes.setdefault(pid, {})[code] = version
            if mac is not None:
                out.macs.add(bytes(mac))
    return out


def register(session: Session, rows: list[dict]) -> None:
    """Insert the rows whose (package, code) is not registered yet; one statement per chunk.

    A registered row without a text MAC (from before migration 0015) gets the
    row's MAC; nothing else of a registered row ever changes.
    """
    if not rows:
        return
    now = utc_now()
    unique = {(r["package_id"], r["verification_code"]): {"text_mac": None, **r, "registered_at": now}
              for r in rows}
    # Sorted, so two writers take the unique index entries in the same order (no deadlock).
    ordered = [unique[k] for k in sorted(unique)]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = LabelRecord.__table__
    for part in chunks(ordered):
        statement = insert(table)
        session.execute(statement.on_conflict_do_update(
            index_elements=["package_id", "verification_code"],
            set_={"text_mac": statement.excluded.text_mac},
            where=table.c.text_mac.is_(None) & statement.excluded.text_mac.is_not(None)), part)


def register_signed(session: Session, packages: list[Package], signed: list[SignedLabel],
                    source: str = "print") -> None:
    """Register the labels just rendered for packages (same order)."""
    key = mac_key(session)
    register(session, [row_for(p.id, s, source, key) for p, s in zip(packages, signed)])


class ImportLabelsError(DomainError):
    """The codes file has bad lines; nothing of it was stored."""


@dataclass
class _Line:
    """A verified line of a codes file, waiting for its package check."""

    number: int
    label: SignedLabel


def _check_line(number: int, raw: str, keys: dict) -> tuple[_Line | None, str | None]:
    """Return a line's verified label, or the reason it is bad."""
    try:
        entry = json.loads(raw)
    except ValueError as exc:
        return None, f"malformed: not JSON ({exc})"
    if not isinstance(entry, dict) or not isinstance(entry.get("code"), str) \
            or not isinstance(entry.get("package_id"), str):
        return None, 'malformed: expected {"package_id": "...", "code": "..."}'
    try:
        label = parse(entry["code"])
    except PayloadError as exc:
        return None, f"malformed: {exc}"
    if label.package_id != entry["package_id"].strip().upper():
        return None, (f"malformed: package_id {entry['package_id'][:60]!r} is not the package "
                      f"of its code ({label.package_id})")
    try:
        verify(label, keys)
    except UnknownKey:
        return None, f"unknown key: {label.key_id} is not a trusted label key"
    except BadSignature:
        return None, f"bad signature: the code of {label.package_id} was altered or forged"
    return _Line(number, label), None


def import_codes(session: Session, lines: Iterable[str], keys: dict) -> tuple[int, int]:
    """Verify and register the labels of a codes file; return (lines read, newly registered).

    All or nothing: any bad line raises ImportLabelsError listing every bad
    line, and the caller rolls back.  Memory stays bounded by IMPORT_CHUNK.
    """
    bad: list[str] = []
    read = added = 0
    pending: list[_Line] = []
    key = mac_key(session)

    def flush() -> None:
        """Check a chunk of good lines against the plan and register it."""
        nonlocal added
        ids = {ln.label.package_id for ln in pending}
        plan = {}
        for part in chunks(ids):
            plan.update((p.package_id, (p.id, p.label_version)) for p in session.execute(
                select(Package.package_id, Package.id, Package.label_version)
                .where(member(session, Package.package_id, part))))
        rows = []
        for ln in pending:
            found = plan.get(ln.label.package_id)
            if found is None:
                bad.append(f"line {ln.number}: unknown package {ln.label.package_id}")
            elif ln.label.version > found[1]:
                bad.append(f"line {ln.number}: version newer than the plan's: "
                           f"{ln.label.package_id} label version {ln.label.version}, "
                           f"the plan is at {found[1]}")
            else:
                rows.append(row_for(found[0], ln.label, "import", key))
        if not bad and rows:
            known = codes_of(session, {r["package_id"] for r in rows})
            fresh = {(r["package_id"], r["verification_code"]) for r in rows
                     if r["verification_code"] not in known.get(r["package_id"], {})}
            added += len(fresh)
            register(session, rows)
        pending.clear()

    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        read += 1
        line, reason = _check_line(number, raw, keys)
        if reason:
            bad.append(f"line {number}: {reason}")
        else:
            pending.append(line)
        if len(pending) >= IMPORT_CHUNK:
            flush()
    if pending:
        flush()
    if bad:
        bad.sort(key=lambda b: int(b.split(":", 1)[0].split()[1]))
        shown = bad[:MAX_LISTED]
        more = f"\n... and {len(bad) - MAX_LISTED} more bad lines" if len(bad) > MAX_LISTED else ""
        raise ImportLabelsError(f"{len(bad)} bad line(s) of {read}; nothing was imported:\n"
                                + "\n".join(shown) + more)
    return read, added
