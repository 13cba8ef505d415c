"""Scan ingest: a batch of scans in, each recorded once, judged, and answered in order.

``ingest_batch`` is the whole write path of ``POST /api/v1/scans`` without
HTTP.  For a batch it costs a fixed number of queries whatever its size: the
batch's locations, the packages its labels name, the trusted keys, the locks
(``server.ingest_locks``: on PostgreSQL per package, so batches of different
packages run side by side), the UUIDs already recorded, the prior scans of
those packages and their containers, one bulk insert, the stored anomalies and
states of the packages it touched, the ledger append.  The caller commits; this
module only flushes.

What is recorded and what is rejected:
* ``rejected`` only for an item that cannot be understood (not an object, bad
  or missing UUID, unknown location code, bad action or disposition,
  unparsable time, wrong types, over-long text) or that the principal may not
  write (a location outside its region or its device's location);
* a UUID already recorded (or twice in one batch) is ``already_recorded`` and
  changes nothing;
* anything else is ``recorded`` - forged, unknown, superseded and unreadable
  codes too, as evidence, with their anomaly (``package_id`` null,
  ``claimed_package`` what the text claimed).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import uuid as uuidlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from labels.keys import load_public_key_pem
from labels.payload import (BadSignature, PayloadError, UnknownKey, parse, parse_manual_entry,
                            verify)

from server import label_registry, ledger
from server.anomaly_rules import Ev, Pkg, duplicate_signature
from server.models import ACTIONS, DISPOSITIONS, Anomaly, LabelKey, ScanEvent, utc_now
from server.ingest_locks import lock_batch, lock_more, per_package
from server.reconcile import judge
from server.timelines import (bulk_insert, chunks, containers_of, contents_of, dict_to_ev, load_closure,
                        load_locations, load_packages, load_scans, member, new_context)

MAX_CODE = 1000
UNCHECKED = "verification code not checked: label not registered"
MAX_TEXT = {"location": 32, "seal": 64, "operator": 100, "device": 100}
# Digests of verified (label text, key) pairs: a label is scanned at every level,
# an Ed25519 verification costs ~75 us, and the answer never changes for one key.
# 100,000 entries of ~60 bytes: a few MB per worker.
_VERIFIED: set[bytes] = set()
_VERIFIED_MAX = 100_000
_PUBLIC_KEYS: dict[str, object] = {}


class ScanError(ValueError):
    """One scan cannot be understood or may not be written; the message says why."""


@dataclass
class Item:
    """One understood scan of the batch, before it is written."""

    index: int
    uuid: str
    code: str
    location: str
    action: str
    scanned_at: dt.datetime
    container: str
    disposition: str
    seal: str
    operator: str
    offline: bool
    device: str


@dataclass
class Resolved:
    """What a scanned text turned out to be."""

    pkg: Pkg | None
    claimed: str = ""
    version: int | None = None
    kind: str | None = None  # forged_label, unknown_package or superseded_label
    detail: str = ""
    about: Pkg | None = None  # the planned package a bad label names, if any


# Understanding one item ---------------------------------------------------------

def _text(raw: dict, name: str, longest: int, required: bool = False) -> str:
    """Return an optional text field, stripped, or raise ScanError on a wrong type or length."""
    value = raw.get(name)
    if value is None:
        if required:
            raise ScanError(f"field {name!r} is required")
        return ""
    if name == "device" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ScanError(f"field {name!r} must be a string, not {type(value).__name__}")
    if len(value) > longest:
        raise ScanError(f"field {name!r} is {len(value)} characters long, more than {longest}")
    if not storable(value):
        raise ScanError(f"field {name!r} holds a NUL or an invalid Unicode character")
    return value.strip()


def storable(text: str) -> bool:
    """Tell whether both databases can store a text (no NUL, no lone surrogate)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_time(value) -> dt.datetime:
    """Return an ISO-8601 device time as naive UTC (no offset means UTC)."""
    if not isinstance(value, str):
        raise ScanError(f"field 'scanned_at' must be an ISO-8601 string, not {type(value).__name__}")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ScanError(f"scanned_at {value[:60]!r} is not an ISO-8601 date-time, e.g. "
                        "2024-02-10T08:00:00+07:00") from None
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
        except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is past year 9999 in UTC
            raise ScanError(f"scanned_at {value[:60]!r} is out of range: in UTC it falls "
                            "outside the years 1 to 9999") from None
    return parsed


def understand(index: int, raw) -> Item:
    """Check one raw scan object and return it as an Item, or raise ScanError."""
    if not isinstance(raw, dict):
        raise ScanError(f"a scan must be a JSON object, not {type(raw).__name__}")
    ident = raw.get("id")
    if ident is None or (isinstance(ident, str) and not ident.strip()):
        raise ScanError("field 'id' (a UUID chosen by the scanner) is required")
    if not isinstance(ident, str):
        raise ScanError(f"field 'id' must be a UUID string, not {type(ident).__name__}")
    try:
        canonical = str(uuidlib.UUID(ident.strip()))
    except ValueError:
        raise ScanError(f"id {ident[:60]!r} is not a UUID") from None
    code = raw.get("code")
    if not isinstance(code, str):
        raise ScanError("field 'code' (the scanned text) is required and must be a string")
    if len(code) > MAX_CODE:
        raise ScanError(f"code is {len(code)} characters long, more than {MAX_CODE}")
    if not storable(code):
        raise ScanError("code holds a NUL or an invalid Unicode character")
    if not code.strip():
        raise ScanError("code is empty")
    action = raw.get("action")
    if action not in ACTIONS:
        raise ScanError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    disposition = raw.get("disposition") if raw.get("disposition") is not None else "ok"
    if disposition not in DISPOSITIONS:
        raise ScanError(f"disposition {disposition!r} is not one of {', '.join(DISPOSITIONS)}")
    offline = raw.get("offline", False)
    if offline is None:
        offline = False
    if not isinstance(offline, bool):
        raise ScanError(f"field 'offline' must be true or false, not {offline!r}")
    container = raw.get("container")
    if container is not None and (not isinstance(container, str) or len(container) > MAX_CODE
                                  or not storable(container)):
        raise ScanError(f"field 'container' must be the container label's text, at most "
                        f"{MAX_CODE} characters")
    container = (container or "").strip()
    if action == "pack" and not container:
        raise ScanError("a pack scan needs 'container': the text of the container's label")
    if raw.get("scanned_at") is None:
        raise ScanError("field 'scanned_at' (device time, ISO-8601) is required")
    return Item(index=index, uuid=canonical, code=code, action=action,
                location=_text(raw, "location", MAX_TEXT["location"], required=True),
                scanned_at=parse_time(raw["scanned_at"]), container=container,
                disposition=disposition,
                seal=_text(raw, "seal", MAX_TEXT["seal"]),
                operator=_text(raw, "operator", MAX_TEXT["operator"]),
                offline=offline, device=_text(raw, "device", MAX_TEXT["device"]))


# Labels ---------------------------------------------------------------------------

def trusted_keys(session: Session) -> dict[str, object]:
    """Return {key id: public key} of the trusted, unrevoked label keys (PEMs parsed once)."""
    keys = {}
    for key_id, pem in session.execute(select(LabelKey.key_id, LabelKey.public_key_pem)
                                       .where(LabelKey.revoked_at.is_(None))):
        key = _PUBLIC_KEYS.get(pem)
        if key is None:
            key = _PUBLIC_KEYS[pem] = load_public_key_pem(pem, f"label key {key_id}")
        keys[key_id] = key
    return keys


def _verified(text: str, label, keys: dict) -> None:
    """Verify a label's signature, remembering good answers per (text, key)."""
    key = keys.get(label.key_id)
    digest = hashlib.blake2b(f"{id(key)}:{text}".encode("utf-8"), digest_size=16).digest()
    if key is not None and digest in _VERIFIED:
        return
    verify(label, keys)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED.add(digest)


@functools.lru_cache(maxsize=16384)
def claimed_id(text: str) -> tuple[str, object | None]:
    """Return the package id a text claims and its parsed label (None if not a label)."""
    cleaned = text.strip().upper()
    if cleaned.startswith("J1."):
        try:
            label = parse(cleaned)
        except PayloadError:
            parts = cleaned.split(".")
            return (parts[2][:80] if len(parts) > 2 else ""), None
        return label.package_id, label
    try:
        return parse_manual_entry(cleaned)[0], None
    except PayloadError:
        return cleaned[:80], None


def resolve_text(text: str, keys: dict, plan: dict[str, Pkg], container: bool = False,
                 registry: dict[int, dict[str, int]] | None = None) -> Resolved:
    """Tell what a scanned text is: a planned package, or which kind of bad label.

    ``registry`` ({package row id: {verification code: version}}, from
    ``server.label_registry``) checks the code of a hand-typed entry.
    """
    cleaned = text.strip().upper()
    claimed, label = claimed_id(text)
    about = plan.get(claimed)
    if cleaned.startswith("J1."):
        if label is None:
            try:
                parse(cleaned)  # only to say what is wrong with it
            except PayloadError as exc:
                return Resolved(None, claimed, None, "forged_label", f"unreadable label: {exc}",
                                about)
        try:
            _verified(cleaned, label, keys)
        except UnknownKey as exc:
            return Resolved(None, claimed, label.version, "forged_label", str(exc), about)
        except BadSignature as exc:
            return Resolved(None, claimed, label.version, "forged_label", str(exc), about)
        if about is None:
            return Resolved(None, claimed, label.version, "unknown_package",
                            f"label for {claimed} is genuine (key {label.key_id}) but the "
                            "package is not in the plan", None)
        if label.version < about.label_version:
            return Resolved(None, claimed, label.version, "superseded_label",
                            f"label of {claimed} is version {label.version}, superseded by "
                            f"reprint version {about.label_version}", about)
        return Resolved(about, claimed, label.version)
    try:
        manual_id = parse_manual_entry(cleaned)[0]
    except PayloadError:
        manual_id = None
    if manual_id is not None or (container and cleaned in plan):
        pid = manual_id or cleaned
        if pid in plan and manual_id is not None:
            return typed_code(plan[pid], parse_manual_entry(cleaned)[1], registry or {})
        if pid in plan:
            return Resolved(plan[pid], pid, None)
        return Resolved(None, pid, None, "unknown_package",
                        f"hand-typed package id {pid} is not in the plan", None)
    return Resolved(None, claimed if about else cleaned[:80], None, "forged_label",
                    f"not a Jejak label: {text.strip()[:60]!r}", about)


def typed_code(pkg: Pkg, code: str, registry: dict[int, dict[str, int]]) -> Resolved:
    """Check a hand-typed verification code against the registered labels of its package."""
    known = registry.get(pkg.id) or {}
    pid, current = pkg.package_id, pkg.label_version
    version = known.get(code)
    if version is not None and version >= current:
        return Resolved(pkg, pid, version)
    if version is not None:
        return Resolved(None, pid, version, "superseded_label",
                        f"hand-typed code {code} of {pid} is label version {version}, "
                        f"superseded by reprint version {current}", pkg)
    if not known:
        return Resolved(pkg, pid, None, detail=UNCHECKED)
    if current not in known.values():
        # Only older labels are known: a current label printed elsewhere and not
        # imported would be a false alarm, so this code is not judged either.
        return Resolved(pkg, pid, None, detail=f"{UNCHECKED} (version {current})")
    return Resolved(None, pid, None, "forged_label",
                    f"hand-typed code {code} does not match any registered label of {pid} "
                    f"(current version {current})", pkg)


def _label_key(kind: str, resolved: Resolved, text: str) -> str:
    """Return the dedup key of a label anomaly: one per forged text, unknown id, old version."""
    if kind == "forged_label":
        digest = hashlib.sha256(text.strip().upper().encode("utf-8")).hexdigest()[:16]
        return f"forged_label:{resolved.claimed or '-'}:{digest}"
    if kind == "superseded_label":
        return f"superseded_label:{resolved.claimed}:v{resolved.version}"
    return f"unknown_package:{resolved.claimed}"


# The batch ----------------------------------------------------------------------

def ingest_batch(session: Session, scans: list, principal, now: dt.datetime | None = None, *,
                 clock_skew_minutes: int = 10) -> list[dict]:
    """Record a batch of raw scan objects; return one result per item, in order."""
    if not isinstance(scans, list):
        raise ValueError(f"scans must be a list, not {type(scans).__name__}")
    now = now or utc_now()
    results: list[dict] = [{"id": (s.get("id") if isinstance(s, dict) else None),
                            "status": "rejected", "anomalies": [], "error": None} for s in scans]
    items: list[Item] = []
    for i, raw in enumerate(scans):
        try:
            items.append(understand(i, raw))
        except ScanError as exc:
            results[i]["error"] = str(exc)
    if not items:
        return results
    # Plan data first (locations, packages, keys, signatures): it needs no lock, so
    # a second worker can do this while the first holds the write lock.
    ctx = new_context(session, now, clock_skew_minutes)
    ctx.defer_missing = True
    allowed = _authorised(session, ctx, items, principal, results)
    codes, boxes, understood = _resolved(session, ctx, allowed, results)
    if not understood:
        return results

    # The packages the batch names and the label anomalies it may extend are locked
    # (PostgreSQL: per package, so batches of other packages run side by side).
    named = {r.pkg.id for r in (*codes.values(), *boxes.values()) if r is not None and r.pkg}
    label_keys = {_label_key(r.kind, r, text) for it in understood
                  for r, text in ((codes[it.index], it.code), (boxes[it.index], it.container))
                  if r is not None and r.kind is not None}
    lock_batch(session, named, label_keys)
    fresh = _not_yet_recorded(session, understood, results)
    if not fresh:
        return results
    codes = {it.uuid: codes[it.index] for it in fresh}
    boxes = {it.uuid: boxes[it.index] for it in fresh if boxes[it.index] is not None}
    batch_ids = {r.pkg.id for r in codes.values() if r.pkg} | {
        r.pkg.id for r in boxes.values() if r.pkg}
    loaded = _load_locked(session, ctx, batch_ids, set(named))
    rows = _rows(ctx, fresh, codes, boxes, batch_ids, principal, now)
    new_evs = _insert(session, rows)
    for ev in new_evs:
        ctx.add_scan(ev)
    kinds: dict[str, list[str]] = {it.uuid: [] for it in fresh}
    by_code = {loc.code: loc for loc in ctx.locations.values()}
    _store_label_findings(session, fresh, codes, boxes, by_code, kinds, now, clock_skew_minutes)

    affected = set(batch_ids) | contents_of(ctx, batch_ids)
    load_closure(session, ctx, affected, loaded)
    affected = {pid for pid in affected if pid in ctx.packages}
    derived = judge(session, ctx, affected, _disprovers(ctx, affected, new_evs))
    counted = {row["uuid"] for row in rows if row["counted"]}
    for result in derived.values():
        for f in result.findings.values():
            if f.ended_at is None:
                for u in f.evidence:
                    # The scan that counted is evidence of a duplicate, not one itself.
                    if f.kind == "duplicate_scan" and u in counted:
                        continue
                    if u in kinds and f.kind not in kinds[u]:
                        kinds[u].append(f.kind)
    ledger.append_scan_contents(session, _contents(ctx, rows, new_evs))
    session.flush()
    for it in fresh:
        results[it.index].update(status="recorded", anomalies=kinds[it.uuid])
    return results


def _load_locked(session, ctx, batch_ids: set[int], locked: set[int]) -> set[int]:
    """Load the scans of the batch's packages and, on PostgreSQL, lock their whole closure.

    The closure (containers they travelled in, what was packed in those) is only
    known once their scans are read; what it adds is locked, and everything is
    read again under the locks, until nothing new turns up.  Returns the
    packages whose scans are loaded.
    """
    loaded: set[int] = set()
    load_scans(session, ctx, batch_ids, loaded)
    if not per_package(session):
        return loaded
    while True:
        affected = set(batch_ids) | contents_of(ctx, batch_ids)
        load_closure(session, ctx, affected, loaded)
        extra = (affected | containers_of(ctx, affected)) - locked
        if not extra:
            return loaded
        lock_more(session, extra)
        locked |= extra
        # Read before their lock, their scans may be stale: read everything again.
        ctx.scans_of.clear()
        ctx.packed_into.clear()
        loaded.clear()
        load_scans(session, ctx, batch_ids, loaded)


def _authorised(session, ctx, items: list[Item], principal, results) -> list[Item]:
    """Return the items at known locations this principal may scan at; reject the others."""
    load_locations(session, ctx, codes={it.location for it in items})
    by_code = {loc.code: loc for loc in ctx.locations.values()}
    may_scan = principal.may_scan_at(principal.location_path or principal.region_path)
    allowed = []
    for it in items:
        loc = by_code.get(it.location)
        if loc is None:
            results[it.index]["error"] = f"no location with code {it.location!r}"
        elif not may_scan:
            results[it.index]["error"] = f"role {principal.role!r} may not record scans"
        elif not principal.may_scan_at(loc.path):
            where = ("its device's location" if principal.location_path
                     else f"region {principal.region_code!r}")
            results[it.index]["error"] = (f"location {it.location!r} is outside {where}, "
                                          "where this token may record scans")
        else:
            allowed.append(it)
    return allowed


def _resolved(session, ctx, items: list[Item], results):
    """Resolve each item's code and container text; reject a package packed into itself."""
    claims = {claimed_id(t)[0] for it in items for t in (it.code, it.container) if t}
    claims |= {it.container.strip().upper() for it in items if it.container}
    plan = load_packages(session, ctx, package_ids=claims)
    keys = trusted_keys(session)
    registry = label_registry.codes_of(session, {p.id for p in plan.values()})
    codes: dict[int, Resolved] = {}
    boxes: dict[int, Resolved | None] = {}
    understood: list[Item] = []
    for it in items:
        r = codes[it.index] = resolve_text(it.code, keys, plan, registry=registry)
        box = boxes[it.index] = (resolve_text(it.container, keys, plan, container=True,
                                              registry=registry) if it.container else None)
        if box is not None and box.pkg is not None and r.pkg is not None and box.pkg.id == r.pkg.id:
            results[it.index]["error"] = (f"the container of this {it.action} scan is the package "
                                          f"itself ({r.pkg.package_id})")
        else:
            understood.append(it)
            if r.kind is None and r.detail:
                results[it.index]["note"] = r.detail
    _register_genuine(session, understood, codes, boxes, registry)
    return codes, boxes, understood


def _register_genuine(session, items: list[Item], codes, boxes, registry) -> None:
    """Add the genuine labels of the batch the registry lacks, in one statement."""
    rows = []
    for it in items:
        for r, text in ((codes[it.index], it.code), (boxes[it.index], it.container)):
            label = claimed_id(text)[1] if r is not None and text else None
            pkg = r.pkg if r is not None and r.kind is None else (
                r.about if r is not None and r.kind == "superseded_label" else None)
            if (label is None or pkg is None or label.version > pkg.label_version
                    or label.verification_code in registry.get(pkg.id, {})):
                continue
            registry.setdefault(pkg.id, {})[label.verification_code] = label.version
            rows.append(label_registry.row_for(pkg.id, label, "scan"))
    label_registry.register(session, rows)


def _not_yet_recorded(session, items: list[Item], results) -> list[Item]:
    """Return the items whose UUID is new (under the write lock); the rest are already recorded."""
    known = set()
    for part in chunks({it.uuid for it in items}):
        known.update(session.scalars(select(ScanEvent.uuid)
                                     .where(member(session, ScanEvent.uuid, part))))
    fresh = []
    for it in items:
        if it.uuid in known:
            results[it.index].update(status="already_recorded")
        else:
            known.add(it.uuid)
            fresh.append(it)
    return fresh


def _rows(ctx, fresh, codes, boxes, batch_ids, principal, now) -> list[dict]:
    """Return the scan_events rows of the new items; a repeated handoff is not counted."""
    seen = {duplicate_signature(ev.package_id, ev.location_id, ev.action, ev.container_id)
            for pid in batch_ids for ev in ctx.scans_of.get(pid, {}).values()}
    by_code = {loc.code: loc for loc in ctx.locations.values()}
    rows = []
    for it in fresh:
        r, box = codes[it.uuid], boxes.get(it.uuid)
        loc = by_code[it.location]
        box_id = box.pkg.id if box and box.pkg else None
        counted = True
        if r.pkg is not None:
            sig = duplicate_signature(r.pkg.id, loc.id, it.action, box_id)
            counted = sig not in seen
            seen.add(sig)
        rows.append({
            "uuid": it.uuid, "package_id": r.pkg.id if r.pkg else None,
            "claimed_package": r.claimed[:80], "label_version": r.version, "raw_code": it.code,
            "location_id": loc.id, "action": it.action, "disposition": it.disposition,
            "container_id": box_id, "container_raw": it.container, "seal": it.seal,
            "operator": it.operator, "device_id": principal.device_id,
            "token_id": principal.token_id, "scanned_at": it.scanned_at, "received_at": now,
            "offline": it.offline, "counted": counted, "client_device": it.device})
    return rows


def _insert(session, rows: list[dict]) -> list[Ev]:
    """Insert the rows in one go and return them as Evs with their ids, in order."""
    # One executemany (COPY on PostgreSQL), then the ids by UUID: RETURNING in
    # parameter order would make SQLAlchemy send one INSERT per row on SQLite.
    bulk_insert(session, ScanEvent.__table__, rows)
    ids = {}
    for part in chunks([row["uuid"] for row in rows]):
        ids.update((u, i) for u, i in session.execute(
            select(ScanEvent.uuid, ScanEvent.id).where(member(session, ScanEvent.uuid, part))))
    return [dict_to_ev(ids[row["uuid"]], row) for row in rows]


def _contents(ctx, rows: list[dict], new_evs: list[Ev]) -> list[dict]:
    """Return the ledger content of each inserted scan, from the values it was inserted with."""
    def label_id(pid):
        """Return the label id of a package row id (None stays None)."""
        return None if pid is None else ctx.packages[pid].package_id

    return [ledger.content_of_scan({**row, "id": ev.id}, label_id(row["package_id"]),
                                   ctx.locations[row["location_id"]].code,
                                   label_id(row["container_id"]))
            for row, ev in zip(rows, new_evs)]


def _disprovers(ctx, affected: set[int], new_evs: list[Ev]) -> dict[int, Ev | None]:
    """Return, per judged package, the earliest new scan in its timeline (named on closures)."""
    by_pkg: dict[int, list[Ev]] = {}
    for ev in new_evs:
        for pid in (ev.package_id, ev.container_id):
            if pid is not None:
                by_pkg.setdefault(pid, []).append(ev)
    first = {pid: min(evs, key=lambda e: e.order) for pid, evs in by_pkg.items()}
    out = {}
    for pid in affected:
        mine = [first[p] for p in (pid, *containers_of(ctx, [pid])) if p in first]
        out[pid] = min(mine, key=lambda e: e.order) if mine else None
    return out


def _store_label_findings(session, fresh, codes, boxes, by_code, kinds, now, skew_minutes) -> None:
    """Insert or extend the forged/unknown/superseded anomalies the batch's texts raise."""
    found: dict[str, dict] = {}
    for it in fresh:
        for what, r, text in (("code", codes[it.uuid], it.code),
                              ("container", boxes.get(it.uuid), it.container)):
            if r is None or r.kind is None:
                continue
            key = _label_key(r.kind, r, text)
            entry = found.setdefault(key, {"kind": r.kind, "resolved": r, "uuids": [],
                                           "location_id": by_code[it.location].id,
                                           "location_path": by_code[it.location].path,
                                           "at": it.scanned_at, "detail": r.detail
                                           + ("" if what == "code" else " (container label)")})
            entry["uuids"].append(it.uuid)
            if it.scanned_at - now > dt.timedelta(minutes=skew_minutes) and "clock" not in entry["detail"]:
                entry["detail"] += (f" [device clock ahead of the server on scan {it.uuid}: "
                                    f"device time {it.scanned_at:%Y-%m-%d %H:%M} UTC]")
            if r.kind not in kinds[it.uuid]:
                kinds[it.uuid].append(r.kind)
    if not found:
        return
    stored = {}
    for part in chunks(found):
        for a in session.scalars(select(Anomaly).where(member(session, Anomaly.dedup_key, part))):
            stored[a.dedup_key] = a
    for key, entry in found.items():
        a = stored.get(key)
        if a is not None:
            have = set(a.evidence)  # once, not per uuid: a much-rescanned forgery has a long list
            a.evidence = a.evidence + [u for u in entry["uuids"] if u not in have]
            continue
        r: Resolved = entry["resolved"]
        session.add(Anomaly(kind=entry["kind"], dedup_key=key,
                            package_id=r.about.id if r.about else None,
                            claimed_package=r.claimed[:80], location_id=entry["location_id"],
                            # Known here: spares the insert hook one query per new anomaly.
                            location_path=entry["location_path"],
                            detected_at=entry["at"], evidence_json=json.dumps(entry["uuids"]),
                            detail=entry["detail"], status="open"))
