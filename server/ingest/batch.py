"""Scan ingest: a batch of scans in, each recorded once, judged, and answered in order.

``ingest_batch`` is the whole write path of ``POST /api/v1/scans`` without
HTTP.  For a batch it costs a fixed number of queries whatever its size: the
batch's locations, the packages its labels name, the trusted keys, the locks
(``server/locks.py``: on PostgreSQL per package, so batches of different
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
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.errors import DomainError
from server.ingest.labels import Resolved, _label_key, claimed_id, resolve_text
from server.ingest.scan import Item, ScanError, understand
from server.labelling.registry import register, registered, row_for
from server.labelling.trust import trusted_keys
from server.ledger.chain import append_anomalies, append_scan_contents, content_of_scan
from server.locks import lock_batch, lock_more, per_package
from server.models import Anomaly, ScanEvent, province_of, utc_now
from server.reconcile.details import describe, dumps, minutes
from server.reconcile.findings import judge, retire_key
from server.reconcile.rules import SeenScan, duplicate_signature, first_return, leg_of
from server.reconcile.timelines import (
    containers_of,
    contents_of,
    dict_to_ev,
    load_closure,
    load_locations,
    load_packages,
    load_scans,
    new_context,
)
from server.sql import bulk_insert, chunks, member


def ingest_batch(session: Session, scans: list, principal, now: dt.datetime | None = None, *,
                 clock_skew_minutes: int | None = None,
                 max_new_anomalies: int | None = None) -> list[dict]:
    """Record a batch of raw scan objects; return one result per item, in order.

    Raises ``TooManyAnomalies`` (nothing recorded) when the batch's texts would
    open more than ``max_new_anomalies`` label anomalies.
    """
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
    codes, boxes, understood = _resolved(session, ctx, allowed, results, principal)
    if not understood:
        return results

    # The packages the batch names and the label anomalies it may extend are locked
    # (PostgreSQL: per package, so batches of other packages run side by side).
    named = {r.pkg.id for r in (*codes.values(), *boxes.values()) if r is not None and r.pkg}
    label_keys = {_label_key(r.kind, r, text, it.location) for it in understood
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
    _store_label_findings(session, fresh, codes, boxes, by_code, kinds, now, ctx.clock_skew,
                          max_new_anomalies)

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
    # The label anomalies the batch opened or extended, chained with its scans just before commit.
    append_anomalies(session, keys=label_keys)
    append_scan_contents(session, _contents(ctx, rows, new_evs))
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


def _resolved(session, ctx, items: list[Item], results, principal):
    """Resolve each item's code and container text; reject a package packed into itself."""
    claims = {claimed_id(t)[0] for it in items for t in (it.code, it.container) if t}
    claims |= {it.container.strip().upper() for it in items if it.container}
    plan = load_packages(session, ctx, package_ids=claims)
    # What a typed id may name: the packages bound for the principal's region (labels.resolve_text).
    here = {pid: p for pid, p in plan.items()
            if p.destination_id in ctx.locations
            and principal.covers(ctx.locations[p.destination_id].path)}
    keys = trusted_keys(session)
    known = registered(session, {p.id for p in plan.values()})
    registry = known.codes
    codes: dict[int, Resolved] = {}
    boxes: dict[int, Resolved | None] = {}
    understood: list[Item] = []
    for it in items:
        r = codes[it.index] = resolve_text(it.code, keys, plan, registry=registry, here=here,
                                           proven=known.proves)
        box = boxes[it.index] = (resolve_text(it.container, keys, plan, container=True,
                                              registry=registry, here=here, proven=known.proves)
                                 if it.container else None)
        if box is not None and box.pkg is not None and r.pkg is not None and box.pkg.id == r.pkg.id:
            results[it.index]["error"] = (f"the container of this {it.action} scan is the package "
                                          f"itself ({r.pkg.package_id})")
        else:
            understood.append(it)
            if r.kind is None and r.detail:
                results[it.index]["note"] = r.detail
    _register_genuine(session, understood, codes, boxes, known)
    return codes, boxes, understood


def _register_genuine(session, items: list[Item], codes, boxes, known) -> None:
    """Add the genuine labels of the batch the registry lacks (or lacks the MAC of), in one statement."""
    rows = []
    registry = known.codes
    for it in items:
        for r, text in ((codes[it.index], it.code), (boxes[it.index], it.container)):
            label = claimed_id(text)[1] if r is not None and text else None
            pkg = r.pkg if r is not None and r.kind is None else (
                r.about if r is not None and r.kind == "superseded_label" else None)
            if label is None or pkg is None or label.version > pkg.label_version:
                continue
            mac = known.mac_of(label.text)
            if mac in known.macs or (mac is None and label.verification_code in registry.get(pkg.id, {})):
                continue  # registered, with its MAC when there is a key to make one
            registry.setdefault(pkg.id, {})[label.verification_code] = label.version
            if mac is not None:
                known.macs.add(mac)
            rows.append(row_for(pkg.id, label, "scan", known.key))
    register(session, rows)


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
    # When each package set off on its way back, the batch's own return scans included.
    returned = {pid: first_return(ctx.scans_of.get(pid, {}).values()) for pid in batch_ids}
    for it in fresh:
        pkg = codes[it.uuid].pkg
        if it.action == "return" and pkg is not None:
            was = returned.get(pkg.id)
            returned[pkg.id] = it.scanned_at if was is None else min(was, it.scanned_at)
    seen = {duplicate_signature(ev.package_id, ev.location_id, ev.action, ev.container_id,
                                leg_of(ev.action, ev.scanned_at, returned.get(pid)))
            for pid in batch_ids for ev in ctx.scans_of.get(pid, {}).values()}
    by_code = {loc.code: loc for loc in ctx.locations.values()}
    rows = []
    for it in fresh:
        r, box = codes[it.uuid], boxes.get(it.uuid)
        loc = by_code[it.location]
        box_id = box.pkg.id if box and box.pkg else None
        counted = True
        if r.pkg is not None:
            sig = duplicate_signature(r.pkg.id, loc.id, it.action, box_id,
                                      leg_of(it.action, it.scanned_at, returned.get(r.pkg.id)))
            counted = sig not in seen
            seen.add(sig)
        rows.append({
            "uuid": it.uuid, "package_id": r.pkg.id if r.pkg else None,
            "claimed_package": r.claimed[:80], "label_version": r.version, "raw_code": it.code,
            "location_id": loc.id, "action": it.action, "disposition": it.disposition,
            "container_id": box_id, "container_raw": it.container, "seal": it.seal,
            "operator": it.operator, "device_id": principal.device_id,
            "token_id": principal.token_id, "scanned_at": it.scanned_at, "received_at": now,
            "offline": it.offline, "counted": counted, "client_device": it.device,
            "counted_quantity": it.counted_quantity, "damaged_quantity": it.damaged_quantity,
            "province": province_of(loc.path)})
    return rows


def _insert(session, rows: list[dict]) -> list[SeenScan]:
    """Insert the rows in one go and return them as Evs with their ids, in order."""
    # One executemany (COPY on PostgreSQL), then the ids by UUID: RETURNING in
    # parameter order would make SQLAlchemy send one INSERT per row on SQLite.
    bulk_insert(session, ScanEvent.__table__, rows)
    ids = {}
    for part in chunks([row["uuid"] for row in rows]):
        ids.update((u, i) for u, i in session.execute(
            select(ScanEvent.uuid, ScanEvent.id).where(member(session, ScanEvent.uuid, part))))
    return [dict_to_ev(ids[row["uuid"]], row) for row in rows]


def _contents(ctx, rows: list[dict], new_evs: list[SeenScan]) -> list[dict]:
    """Return the ledger content of each inserted scan, from the values it was inserted with."""
    def label_id(pid):
        """Return the label id of a package row id (None stays None)."""
        return None if pid is None else ctx.packages[pid].package_id

    return [content_of_scan({**row, "id": ev.id}, label_id(row["package_id"]),
                                   ctx.locations[row["location_id"]].code,
                                   label_id(row["container_id"]))
            for row, ev in zip(rows, new_evs)]


def _disprovers(ctx, affected: set[int], new_evs: list[SeenScan]) -> dict[int, SeenScan | None]:
    """Return, per judged package, the earliest new scan in its timeline (named on closures)."""
    by_pkg: dict[int, list[SeenScan]] = {}
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


class TooManyAnomalies(DomainError):
    """One batch would open more label anomalies than a batch may (MAX_NEW_ANOMALIES_PER_BATCH)."""

    def __init__(self, opened: int, limit: int):
        super().__init__(f"this batch would open {opened} new anomalies (forged, unknown or "
                         f"superseded labels); one batch may open at most {limit}: send it in "
                         "smaller batches")
        self.opened = opened
        self.limit = limit


def _store_label_findings(session, fresh, codes, boxes, by_code, kinds, now,
                          skew: dt.timedelta, limit: int | None = None) -> None:
    """Insert or extend the forged/unknown/superseded anomalies the batch's texts raise.

    An anomaly someone resolved is never extended: the same problem seen again opens a
    new one (``reconcile.findings.retire_key`` frees the key).
    """
    found: dict[str, dict] = {}
    for it in fresh:
        for what, r, text in (("code", codes[it.uuid], it.code),
                              ("container", boxes.get(it.uuid), it.container)):
            if r is None or r.kind is None:
                continue
            key = _label_key(r.kind, r, text, it.location)
            facts = {**r.facts, **({} if what == "code" else {"container_label": True})}
            entry = found.setdefault(key, {"kind": r.kind, "resolved": r, "uuids": [],
                                           "location_id": by_code[it.location].id,
                                           "location_path": by_code[it.location].path,
                                           "at": it.scanned_at, "facts": facts})
            entry["uuids"].append(it.uuid)
            if it.scanned_at - now > skew and "clock_ahead" not in entry["facts"]:
                entry["facts"]["clock_ahead"] = {"minutes": minutes(it.scanned_at - now),
                                                 "scan": it.uuid}
            if r.kind not in kinds[it.uuid]:
                kinds[it.uuid].append(r.kind)
    if not found:
        return
    stored = {}
    for part in chunks(found):
        for a in session.scalars(select(Anomaly).where(member(session, Anomaly.dedup_key, part))):
            stored[a.dedup_key] = a
    opening = sum(1 for key in found if key not in stored or stored[key].status == "resolved")
    if limit is not None and limit > 0 and opening > limit:
        raise TooManyAnomalies(opening, limit)
    for key, entry in found.items():
        a = stored.get(key)
        if a is not None and a.status == "resolved":
            retire_key(session, a)
            a = None
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
                            detail=describe(entry["kind"], entry["facts"]),
                            facts_json=dumps(entry["facts"]), status="open"))
