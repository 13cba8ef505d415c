"""Reconciliation: store what the rules find, sweep for missing packages, answer the dashboard.

Plain Python over a SQLAlchemy session (no Flask).  The rules themselves are in
``server.anomaly_rules``; this module keeps their results:

* ``apply_findings`` diffs a package's freshly judged findings against the
  stored anomalies (by ``dedup_key``): new ones are inserted open, stored open
  ones that no longer hold are closed by the system with the scan that
  disproved them - never deleted;
* ``sweep_missing`` raises ``missing`` for packages nobody scanned, when a
  deadline has passed: ``jejak-server sweep`` (cron) runs it to the end in
  batches; a read sweeps too when at most READ_SWEEP_LIMIT packages are due,
  so no read ever judges a whole province;
* ``list_anomalies``, ``resolve``, ``progress`` and ``expected_at`` are what the
  API and the dashboard call.  Reads may sweep, so callers should commit after
  them (nothing else is written).
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import and_, case, event, func, or_, select, text, union, update
from sqlalchemy.orm import Session

from server import ledger
from server.anomaly_rules import (DERIVED_KINDS, LEVEL_DEPTH, Context, Derived, Ev, derive, fmt)
from server.models import (ANOMALY_KINDS, ANOMALY_STATUSES, LEVELS, PATH_END, Anomaly, Deadline,
                     Location, Package, ScanEvent, utc_now)
from server.reconcile_state import STATE_COLUMNS, STATE_LEVELS, DeadlineSweep, PackageState
from server.timelines import bulk_insert, chunks, load_closure, load_packages, member, new_context

SYSTEM = "system"
# Any constant: every writer of the scan log and anomalies takes this lock - ingest in
# shared mode, with row locks on the packages it touches (server/ingest_locks.py), the
# sweep, rebuilds and resolutions exclusively (PostgreSQL; SQLite serialises writers).
WRITE_LOCK_KEY = 0x4A454A414B
RESOLVE_STATUSES = ("resolved", "acknowledged")
SWEEP_CHUNK = 1000
# Packages a read may judge for the missing sweep before answering (~0.3 s of work on a
# quiet machine); when more are due the read judges none and `jejak-server sweep` (cron)
# does it: reads stay fast at province scale.
READ_SWEEP_LIMIT = 1000
# A region branch (anomalies at its places, or of packages bound for it) with fewer
# anomalies than this is read as one index range and sorted by id (~40 ms for 64,000
# on a province); a bigger one walks the ids in order (see _region_ids).
RANGE_SORT_LIMIT = 100_000


def lock_writes(session: Session) -> None:
    """Serialise writers of the log: an advisory lock on PostgreSQL, the write lock on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})
    else:
        # A write statement takes SQLite's write lock (waiting on busy_timeout)
        # before anything is read, so the reads that follow are not stale.
        session.execute(text("UPDATE deadline_sweeps SET deadline_id = deadline_id WHERE 1 = 0"))


# Storing findings -------------------------------------------------------------

def _scan_words(ev: Ev | None, ctx: Context) -> str:
    """Return how a closure note names the scan that changed the verdict."""
    if ev is None:
        return "the current plan and schedule"
    loc = ctx.locations.get(ev.location_id)
    where = loc.code if loc else str(ev.location_id)
    return (f"scan {ev.uuid} ({ev.action} at {where}, device time {fmt(ev.scanned_at)}, "
            f"received {fmt(ev.received_at)})")


def close_by_system(session: Session, anomaly: Anomaly, note: str, now: dt.datetime) -> None:
    """Close an anomaly the log no longer supports, saying why; it stays listed as resolved."""
    anomaly.status = "resolved"
    anomaly.resolved_at = now
    anomaly.resolved_by = SYSTEM
    anomaly.resolution_note = _append_note(anomaly.resolution_note, note)
    ledger.append_resolution(session, anomaly)


def _reopen(session: Session, anomaly: Anomaly, note: str) -> None:
    """Reopen an anomaly the system had closed, saying why."""
    anomaly.status = "open"
    anomaly.resolved_at = None
    anomaly.resolved_by = ""
    anomaly.ended_at = None
    anomaly.resolution_note = _append_note(anomaly.resolution_note, note)
    ledger.append_resolution(session, anomaly)


def _append_note(old: str, new: str) -> str:
    """Return a note history with one more line."""
    return f"{old}\n{new}" if old else new


def apply_findings(session: Session, ctx: Context, derived: dict[int, Derived],
                   disprovers: dict[int, Ev | None] | None = None) -> list[Anomaly]:
    """Store the findings of freshly judged packages; close what no longer holds.

    ``derived`` maps package row id -> its Derived (judged on its whole
    timeline); ``disprovers`` maps it to the new scan to name when a stored
    anomaly is closed.  Returns the anomalies inserted or changed.
    """
    disprovers = disprovers or {}
    stored: dict[int, dict[str, Anomaly]] = {pid: {} for pid in derived}
    for part in chunks(derived):
        for a in session.scalars(select(Anomaly).where(member(session, Anomaly.package_id, part),
                                                       Anomaly.kind.in_(DERIVED_KINDS))):
            stored[a.package_id][a.dedup_key] = a
    changed: list[Anomaly] = []
    inserts: list[dict] = []
    now = ctx.now
    for pid, result in derived.items():
        mine = stored[pid]
        for key, f in result.findings.items():
            a = mine.get(key)
            if a is None:
                if f.ended_at is not None or f.deferred:
                    continue  # a missing episode that ended before anyone looked, or not yet due
                inserts.append(new_anomaly_row(f, now, *_region_paths(session, ctx, f)))
                continue
            # Parsed once: the property decodes JSON, and a duplicate's list grows long.
            had = a.evidence
            seen = set(had)
            merged = had + [u for u in f.evidence if u not in seen]
            if not f.deferred and (merged != had or a.detail != f.detail):
                a.evidence = merged
                a.detail = f.detail
                changed.append(a)
            if f.ended_at is not None:
                a.ended_at = f.ended_at
                if a.status != "resolved":
                    close_by_system(session, a, f"closed by the system: received, "
                                    f"{_scan_words(f.ended_by, ctx)}", now)
                    changed.append(a)
            elif a.status == "resolved" and a.resolved_by == SYSTEM:
                _reopen(session, a, f"reopened by the system at {fmt(now)}: holds again after "
                                    f"{_scan_words(disprovers.get(pid), ctx)}")
                changed.append(a)
        for key, a in mine.items():
            if key not in result.findings and a.status != "resolved":
                close_by_system(session, a, f"closed by the system: disproved by "
                                f"{_scan_words(disprovers.get(pid), ctx)}", now)
                changed.append(a)
    # A sweep can raise tens of thousands at once: plain rows, not ORM objects.
    bulk_insert(session, Anomaly.__table__, inserts)
    return changed


def new_anomaly_row(f, now: dt.datetime, location_path: str | None = None,
                    destination_path: str | None = None) -> dict:
    """Return the row of a new open anomaly for a finding."""
    return {"kind": f.kind, "dedup_key": f.key, "package_id": f.package_id,
            "claimed_package": f.claimed_package, "location_id": f.location_id,
            "detected_at": f.detected_at, "evidence_json": json.dumps(f.evidence),
            "detail": f.detail, "status": "open", "acknowledged_at": None,
            "acknowledged_by": "", "resolved_at": None, "resolved_by": "",
            "resolution_note": "", "ended_at": None, "location_path": location_path,
            "destination_path": destination_path}


def _location_path(connection, location_id: int | None) -> str | None:
    """Return a location's path from the database (None for no location)."""
    if location_id is None:
        return None
    return connection.scalar(select(Location.path).where(Location.id == location_id))


def _destination_path(connection, package_id: int | None) -> str | None:
    """Return the path of a package's destination from the database (None for no package)."""
    if package_id is None:
        return None
    return connection.scalar(select(Location.path)
                             .join(Package, Package.destination_id == Location.id)
                             .where(Package.id == package_id))


def _region_paths(session: Session, ctx: Context, f) -> tuple[str | None, str | None]:
    """Return the paths of a finding's place and of its package's destination (the region keys)."""
    loc = ctx.locations.get(f.location_id) if f.location_id is not None else None
    place = loc.path if loc is not None else _location_path(session, f.location_id)
    pkg = ctx.packages.get(f.package_id) if f.package_id is not None else None
    dest = ctx.locations.get(pkg.destination_id) if pkg is not None else None
    destination = dest.path if dest is not None else _destination_path(session, f.package_id)
    return place, destination


@event.listens_for(Anomaly, "before_insert")
def _fill_region_paths(_mapper, connection, target: Anomaly) -> None:
    """Copy the region keys onto an anomaly added through the ORM (label anomalies of ingest)."""
    if target.location_path is None:
        target.location_path = _location_path(connection, target.location_id)
    if target.destination_path is None:
        target.destination_path = _destination_path(connection, target.package_id)


def store_states(session: Session, derived: dict[int, Derived],
                 container_before: dict[int, int | None]) -> None:
    """Write each judged package's PackageState and current container."""
    columns = [getattr(PackageState, name) for name in STATE_COLUMNS]
    existing = {}
    for part in chunks(derived):
        for row in session.execute(select(PackageState.package_id, *columns)
                                   .where(member(session, PackageState.package_id, part))):
            existing[row[0]] = tuple(row[1:])
    table = PackageState.__table__
    rows = [{"package_id": pid, **{name: result.state[name] for name in STATE_COLUMNS}}
            for pid, result in derived.items()
            if existing.get(pid) != tuple(result.state[name] for name in STATE_COLUMNS)]
    # Derived rows: replacing them is one DELETE and one COPY, cheaper than an UPDATE each.
    stale = [row["package_id"] for row in rows if row["package_id"] in existing]
    for part in chunks(stale):
        session.execute(table.delete().where(member(session, table.c.package_id, part)))
    bulk_insert(session, table, rows)
    moved = [{"id": pid, "container_id": r.container_id} for pid, r in derived.items()
             if container_before.get(pid) != r.container_id]
    if moved:
        session.execute(update(Package), moved)


def judge(session: Session, ctx: Context, package_ids: set[int],
          disprovers: dict[int, Ev | None] | None = None) -> dict[int, Derived]:
    """Judge these packages (their timelines already loaded) and store the results."""
    derived = {pid: derive(ctx.packages[pid], ctx) for pid in package_ids if pid in ctx.packages}
    apply_findings(session, ctx, derived, disprovers)
    store_states(session, derived, {pid: ctx.packages[pid].container_id for pid in derived})
    return derived


# The missing sweep -------------------------------------------------------------

def _not_reached(level: str):
    """Return the condition 'no receipt at this level or below' on PackageState."""
    cols = [getattr(PackageState, f"{lv}_at") for lv in STATE_LEVELS
            if LEVEL_DEPTH[lv] >= LEVEL_DEPTH[level]]
    return or_(PackageState.package_id.is_(None), and_(*[c.is_(None) for c in cols]))


def sweep_missing(session: Session, now: dt.datetime | None = None,
                  clock_skew_minutes: int = 10, limit: int | None = None,
                  all_or_nothing: bool = False) -> int:
    """Raise ``missing`` for packages past a deadline that no scan has reached; return how many judged.

    A deadline row is swept in full the first time it has passed (and again
    when it changes or packages are added); after that only the packages
    scanned since the last sweep are judged again.  Cheap when nothing changed.

    ``limit`` bounds the work: at most that many packages are judged, lowest
    ids first, and the sweep marks record how far it got, so the next call
    carries on from there (``jejak-server sweep``).  With ``all_or_nothing``
    (reads) more than ``limit`` packages to judge means none is judged: a
    deadline passing on a province is the command's job, not a read's.
    """
    now = now or utc_now()
    rows = session.execute(select(Deadline.id, Deadline.level, Deadline.deadline, Location.path)
                           .outerjoin(Location, Location.id == Deadline.region_id)
                           .where(Deadline.deadline <= now)).all()
    rows = [r for r in rows if r.level in LEVEL_DEPTH]
    if not rows:
        return 0
    max_pkg = session.scalar(select(func.max(Package.id))) or 0
    max_scan = session.scalar(select(func.max(ScanEvent.id))) or 0
    done = {s.deadline_id: s for s in session.scalars(select(DeadlineSweep))}

    def narrowing(row) -> list | None:
        """Return None to sweep the row in full, else the conditions for what changed since."""
        sweep = done.get(row.id)
        if sweep is None or sweep.deadline != row.deadline:
            return None
        conds = []
        if sweep.max_package_id < max_pkg:
            conds.append(Package.id > sweep.max_package_id)  # packages added to the plan
        if sweep.max_scan_id < max_scan:  # packages scanned since, and what they carry
            touched = select(ScanEvent.package_id).where(ScanEvent.id > sweep.max_scan_id,
                                                         ScanEvent.package_id.is_not(None))
            conds += [Package.id.in_(touched),
                      Package.id.in_(select(Package.id).where(Package.container_id.in_(touched)))]
        return conds

    todo = [(row, narrowing(row)) for row in rows]
    todo = [(row, conds) for row, conds in todo if conds is None or conds]
    if not todo:
        return 0
    if all_or_nothing and limit is not None and _too_much(session, todo, done, limit):
        return 0
    candidates: set[int] = set()
    last_of: dict[int, int] = {}  # per row, its highest candidate
    for row, conds in todo:
        query = _candidates(row) if conds is None else _candidates(row).where(or_(*conds))
        if limit is not None:
            # Each row's lowest ids, one more than the limit: the union's lowest `limit` are
            # then every candidate up to the last of them, whichever row it comes from, and
            # a union of at most `limit` means no row was cut short.
            query = query.order_by(Package.id).limit(limit + 1)
        found = list(session.scalars(query))
        candidates.update(found)
        if found:
            last_of[row.id] = max(found)
    ordered = sorted(candidates)
    if all_or_nothing and limit is not None and len(ordered) > limit:
        return 0
    # Candidates are chosen before the lock (so a read that leaves the work to the command
    # never waits for ingest); they are judged on what the log says once the lock is held.
    lock_writes(session)
    # Judged up to `reached` (all of them when nothing was left over).
    reached = ordered[limit - 1] if limit is not None and len(ordered) > limit else None
    if reached is not None:
        ordered = ordered[:limit]
    for part in chunks(ordered, SWEEP_CHUNK):
        ctx = new_context(session, now, clock_skew_minutes)
        load_packages(session, ctx, ids=part)
        load_closure(session, ctx, set(part), set())
        judge(session, ctx, set(part))
    # Rows with a candidate left over: the others are done, even when the batch is cut
    # short (else every batch scans again the packages of rows with nothing left).
    pending = {row.id for row, _conds in todo
               if reached is not None and last_of.get(row.id, 0) > reached}
    for row in rows:
        sweep = done.get(row.id)
        # A row cut short is marked as swept up to `reached`: the packages above it
        # count as "added since", so the next sweep judges them (and only them) in full.
        upto = reached if row.id in pending else max_pkg
        if sweep is None:
            session.add(DeadlineSweep(deadline_id=row.id, deadline=row.deadline,
                                      max_package_id=upto, max_scan_id=max_scan, swept_at=now))
        else:
            sweep.deadline, sweep.max_package_id = row.deadline, upto
            sweep.max_scan_id, sweep.swept_at = max_scan, now
    session.flush()
    return len(ordered)


def _too_much(session: Session, todo, done, limit: int) -> bool:
    """Tell whether a sweep would have to look at more than ``limit`` packages (or 20x scans).

    Counted with LIMIT, so the answer costs at most that many index entries: on a
    province a read learns in milliseconds that the sweep is the command's job.
    """
    since_pkg = min((0 if conds is None else done[row.id].max_package_id) for row, conds in todo)
    # A full pass looks at packages only; a narrowed one also at the scans since its mark.
    since_scan = min((done[row.id].max_scan_id for row, conds in todo if conds is not None),
                     default=None)
    for column, since, most in ((Package.id, since_pkg, limit),
                                (ScanEvent.id, since_scan, 20 * limit)):
        if since is None:
            continue
        few = select(column).where(column > since).limit(most + 1).subquery()
        if session.scalar(select(func.count()).select_from(few)) > most:
            return True
    return False


def rebuild_states(session: Session, now: dt.datetime | None = None,
                   clock_skew_minutes: int = 10) -> int:
    """Judge every package again from the scan log (its anomalies and PackageState); return how many.

    For a database whose scans predate migration 0002, or after a rule
    changed; idempotent.  Holds the write lock for the whole run.
    """
    now = now or utc_now()
    lock_writes(session)
    ids = list(session.scalars(select(Package.id).order_by(Package.id)))
    for part in chunks(ids, SWEEP_CHUNK):
        ctx = new_context(session, now, clock_skew_minutes)
        load_packages(session, ctx, ids=part)
        load_closure(session, ctx, set(part), set())
        judge(session, ctx, set(part))
    session.flush()
    return len(ids)


def _candidates(row):
    """Select packages under a deadline row's region that have not reached its level."""
    deeper = [lv for lv in LEVELS if LEVEL_DEPTH[lv] >= LEVEL_DEPTH[row.level]]
    query = (select(Package.id).join(Location, Location.id == Package.destination_id)
             .outerjoin(PackageState, PackageState.package_id == Package.id)
             .where(Location.level.in_(deeper), _not_reached(row.level)))
    if row.path is not None:
        query = query.where(Location.path >= row.path, Location.path < row.path + PATH_END)
    return query


# Reading anomalies ------------------------------------------------------------

# PostgreSQL settings for one read statement.  A region's range reads are priced above
# jit_above_cost and JIT-compiled: 12-14 ms each to run a 50-100 ms query.
NO_JIT = {"jit": "off"}
NO_HASH_JOIN = {"enable_hashjoin": "off", "enable_mergejoin": "off"}


def _run_with(session: Session, statement, settings: dict[str, str]) -> list:
    """Return the rows of one statement run with these PostgreSQL settings, restored after."""
    if not settings or session.get_bind().dialect.name != "postgresql":
        return session.execute(statement).all()
    # set_config(..., true) is undone by the transaction's end at the latest.
    old = {name: session.scalar(text("SELECT current_setting(:n)"), {"n": name})
           for name in settings}
    for name, value in settings.items():
        session.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
    rows = session.execute(statement).all()
    for name, value in old.items():
        session.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
    return rows


def _region_range(region: Location) -> tuple[str, str]:
    """Return the (low, high) path bounds of a region."""
    return region.path, region.path + PATH_END


def _system_ended_after(as_of: dt.datetime):
    """Condition: a missing episode the system closed, but only after ``as_of``."""
    return and_(Anomaly.kind == "missing", Anomaly.resolved_by == SYSTEM,
                Anomaly.ended_at.is_not(None), Anomaly.ended_at > as_of)


def _conditions(kind, status, as_of: dt.datetime) -> list:
    """Return the filters for kind, status and the as_of view of deadline kinds."""
    conds = []
    if kind is not None:
        conds.append(Anomaly.kind == kind)
    conds.append(or_(Anomaly.kind.not_in(("missing", "late")), Anomaly.detected_at <= as_of))
    if status == "open":
        conds.append(or_(Anomaly.status == "open", _system_ended_after(as_of)))
    elif status == "resolved":
        conds.append(and_(Anomaly.status == "resolved", ~_system_ended_after(as_of)))
    elif status is not None:
        conds.append(Anomaly.status == status)
    return conds


def _region_ids(session: Session, region: Location, conds: list, after_id: int | None,
                limit: int):
    """Return a union selecting the first ids of anomalies at, or of packages bound for, the region."""
    low, high = _region_range(region)
    after = [Anomaly.id > after_id] if after_id is not None else []
    branches = []
    # Each branch is cut to the page before the union: no sort of the whole region.
    for path in (Anomaly.location_path, Anomaly.destination_path):
        in_range = [path >= low, path < high, *after]
        # Counted with LIMIT on the (path, id) index: a few ms at most.
        size = session.scalar(select(func.count()).select_from(
            select(Anomaly.id).where(*in_range).limit(RANGE_SORT_LIMIT).subquery()))
        # Ordered by the id itself, PostgreSQL walks the primary key filtering on the
        # path, as if a region's anomalies were spread evenly over the ids; they are
        # clustered (the sweep raises them in package order: 3513's came after 661,043
        # others, 0.7 s).  "id + 0" makes it read the region's range and sort it; only
        # a region too big for that walks the ids, finding its rows early.
        order = Anomaly.id if size >= RANGE_SORT_LIMIT else Anomaly.id + 0
        branches.append(select(Anomaly.id).where(*in_range, *conds).order_by(order)
                        .limit(limit).subquery().select())
    return union(*branches).subquery()


def anomaly_dict(a: Anomaly, package_id: str | None, location: str | None,
                 as_of: dt.datetime | None = None) -> dict:
    """Return an anomaly as the API shows it (its status as of ``as_of``)."""
    item = {"id": a.id, "kind": a.kind, "package_id": package_id or a.claimed_package or None,
            "location": location, "detected_at": a.detected_at, "status": a.status,
            "evidence": a.evidence, "detail": a.detail, "resolved_at": a.resolved_at,
            "resolved_by": a.resolved_by or None, "resolution_note": a.resolution_note or None,
            "acknowledged_at": a.acknowledged_at, "acknowledged_by": a.acknowledged_by or None}
    if (as_of is not None and a.kind == "missing" and a.resolved_by == SYSTEM
            and a.ended_at is not None and a.ended_at > as_of):
        item.update(status="open", resolved_at=None, resolved_by=None, resolution_note=None)
    return item


def list_anomalies(session: Session, region: Location, kind=None, status=None, as_of=None,
                   after_id=None, limit=200, *, clock_skew_minutes: int = 10
                   ) -> tuple[list[dict], int | None]:
    """Return a page of the region's anomalies by id, and the last id when more follow.

    ``as_of`` (naive UTC, default now) evaluates ``missing`` and ``late`` at
    that instant: episodes not yet begun are left out, ended ones show as
    open.  An instant in the future is answered hypothetically (what will be
    missing if nothing more is scanned) inside a savepoint that is rolled back.
    """
    if kind is not None and kind not in ANOMALY_KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(ANOMALY_KINDS)}")
    if status is not None and status not in ANOMALY_STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(ANOMALY_STATUSES)}")
    return _evaluated_at(session, as_of, clock_skew_minutes,
                         lambda at, _now: _page(session, region, kind, status, at, after_id, limit))


def _evaluated_at(session: Session, as_of, clock_skew_minutes: int, read):
    """Sweep what is due now, then return read(instant, now) for as_of (default now).

    A future instant is answered hypothetically: swept up to it inside a
    savepoint that is rolled back afterwards.
    """
    now = utc_now()
    sweep_missing(session, now, clock_skew_minutes, limit=READ_SWEEP_LIMIT,
                  all_or_nothing=True)
    if as_of is not None and as_of > now:
        savepoint = session.begin_nested()
        try:
            sweep_missing(session, as_of, clock_skew_minutes, limit=READ_SWEEP_LIMIT,
                          all_or_nothing=True)
            return read(as_of, now)
        finally:
            savepoint.rollback()
    return read(as_of if as_of is not None else now, now)


def _page(session, region, kind, status, as_of, after_id, limit):
    """Return one page of a region's anomalies and the cursor of the next."""
    ids_sub = _region_ids(session, region, _conditions(kind, status, as_of), after_id, limit + 1)
    ids = [row[0] for row in _run_with(session, select(ids_sub.c.id).order_by(ids_sub.c.id)
                                       .limit(limit + 1), NO_JIT)]
    more = len(ids) > limit
    ids = ids[:limit]
    rows = session.execute(
        select(Anomaly, Package.package_id, Location.code)
        .outerjoin(Package, Package.id == Anomaly.package_id)
        .outerjoin(Location, Location.id == Anomaly.location_id)
        .where(Anomaly.id.in_(ids)).order_by(Anomaly.id)).all() if ids else []
    items = [anomaly_dict(a, pid, code, as_of) for a, pid, code in rows]
    return items, (ids[-1] if more and ids else None)


def resolve(session: Session, anomaly_id: int, principal, note: str,
            status: str = "resolved") -> dict:
    """Acknowledge or resolve an anomaly with a note; who and when are kept, nothing deleted."""
    if status not in RESOLVE_STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(RESOLVE_STATUSES)}")
    note = (note or "").strip() if isinstance(note, str) else ""
    if not note:
        raise ValueError("a note saying what was done is required")
    row = session.execute(
        select(Anomaly, Package.package_id, Location.code, Location.path)
        .outerjoin(Package, Package.id == Anomaly.package_id)
        .outerjoin(Location, Location.id == Anomaly.location_id)
        .where(Anomaly.id == anomaly_id)).first()
    if row is None:
        raise LookupError(f"no anomaly {anomaly_id}")
    a, package_id, code, path = row
    paths = [path] if path else []
    if a.package_id is not None:
        paths.append(session.scalar(select(Location.path).join(
            Package, Package.destination_id == Location.id).where(Package.id == a.package_id)))
    if not any(p and principal.covers(p) for p in paths):
        raise PermissionError(f"anomaly {anomaly_id} is outside your region "
                              f"{principal.region_code!r}")
    if not principal.may_resolve:
        raise PermissionError(f"role {principal.role!r} may not resolve anomalies")
    if status == "acknowledged" and a.status == "resolved":
        raise ValueError(f"anomaly {anomaly_id} is already resolved; it cannot be acknowledged")
    lock_writes(session)
    now = utc_now()
    if status == "acknowledged":
        a.acknowledged_at, a.acknowledged_by = now, principal.name
    else:
        a.resolved_at, a.resolved_by = now, principal.name
    a.status = status
    a.resolution_note = _append_note(a.resolution_note, note)
    ledger.append_resolution(session, a)
    session.flush()
    return anomaly_dict(a, package_id, code)


# Progress and the scanner's cache ---------------------------------------------

def progress(session: Session, region: Location, as_of=None, *,
             clock_skew_minutes: int = 10) -> dict:
    """Return, for each child region, packages expected, dispatched, received per level, anomalies.

    ``as_of`` as in ``list_anomalies`` (a future instant is answered hypothetically).
    """
    return _evaluated_at(session, as_of, clock_skew_minutes,
                         lambda at, now: _progress(session, region, at, now))


def _progress(session: Session, region: Location, as_of: dt.datetime, now: dt.datetime) -> dict:
    """Return progress per child region as of an instant (the sweep has run)."""
    children = session.execute(select(Location.code, Location.name, Location.level, Location.path)
                               .where(Location.parent_id == region.id)
                               .order_by(Location.code)).all()
    out = {c.path: {"code": c.code, "name": c.name, "level": c.level, "expected": 0,
                    "dispatched": 0, "received": {lv: 0 for lv in LEVELS[1:]},
                    "anomalies": {}, "overdue": 0} for c in children}
    low, high = _region_range(region)
    start = len(region.path)

    def child_of(path: str) -> str | None:
        """Return the path of the child region a path lies in (None: the region itself)."""
        rest = path[start:]
        if not rest:
            return None
        return region.path + rest.split("/", 1)[0] + "/"

    def by_time(column):
        """Return SUM(1 when the column is set and not after as_of)."""
        return func.sum(case((and_(column.is_not(None), column <= as_of), 1), else_=0))

    at_destination = case(*[(Location.level == lv, getattr(PackageState, f"{lv}_at"))
                            for lv in STATE_LEVELS], else_=None)
    counts = (select(Location.path, Location.level, func.count(Package.id),
                     by_time(PackageState.dispatched_at),
                     *[by_time(getattr(PackageState, f"{lv}_at")) for lv in LEVELS[1:]],
                     by_time(at_destination))
              .join(Location, Location.id == Package.destination_id)
              .outerjoin(PackageState, PackageState.package_id == Package.id)
              .where(Location.path >= low, Location.path < high)
              .group_by(Location.path, Location.level))
    # Below the top region the packages are a small share of the plan, read best by index
    # from each place; the planner prefers a (parallel) sequential scan of every package
    # and a hash join (regency 3513 of East Java: 240 ms against 95-150 ms).
    rows = _run_with(session, counts, NO_HASH_JOIN if region.parent_id is not None else {})
    ctx_deadlines = new_context(session, now).deadlines
    for path, level, expected, dispatched, *rest in rows:
        child = out.get(child_of(path) or "")
        if child is None:
            continue
        received, delivered = rest[:-1], rest[-1]
        child["expected"] += expected
        child["dispatched"] += int(dispatched or 0)
        for lv, n in zip(LEVELS[1:], received):
            child["received"][lv] += int(n or 0)
        deadline = ctx_deadlines.for_level(path, level)
        if deadline is not None and deadline <= as_of:
            child["overdue"] += expected - int(delivered or 0)
    conds = _conditions(None, "open", as_of)
    # Counted where they happened; those of the region's packages that happened
    # outside its children (elsewhere, or at the region's own office), at their
    # package's destination.  Grouped in SQL: one row per (kind, place), each
    # from one range of the anomalies' (path, id) indexes.
    place_path, dest_path = Anomaly.location_path, Anomaly.destination_path
    place = (select(Anomaly.kind, place_path, func.count())
             .where(place_path >= low, place_path < high, *conds)
             .group_by(Anomaly.kind, place_path))
    # Not at a place strictly inside the region (an anomaly with no place is left out,
    # as the NOT IN over location ids did).
    outside_children = and_(place_path.is_not(None),
                            or_(place_path < low, place_path >= high, place_path == region.path))
    dest = (select(Anomaly.kind, dest_path, func.count())
            .where(dest_path >= low, dest_path < high, outside_children, *conds)
            .group_by(Anomaly.kind, dest_path))
    for grouped in (_run_with(session, place, NO_JIT), _run_with(session, dest, NO_JIT)):
        for kind, path, n in grouped:
            child = out.get(child_of(path) or "")
            if child is not None:
                child["anomalies"][kind] = child["anomalies"].get(kind, 0) + n
    return {"region": {"code": region.code, "name": region.name, "level": region.level},
            "children": list(out.values())}


def expected_at(session: Session, location: Location, *, after: str | None = None,
                limit: int | None = None) -> list[dict]:
    """Return the packages bound for this location or below it (the scanner's offline cache).

    In package id order, those after ``after``, at most ``limit``; one query.
    ``verification_code`` is that of the current label version when it is
    registered (the newest registered if several keys printed it), else None.
    """
    from server.label_registry import LabelRecord

    low, high = _region_range(location)
    code = (select(LabelRecord.verification_code)
            .where(LabelRecord.package_id == Package.id,
                   LabelRecord.version == Package.label_version)
            .order_by(LabelRecord.id.desc()).limit(1).correlate(Package).scalar_subquery())
    query = (select(Package.package_id, Package.item_type, Package.quantity, Location.code,
                    Package.dapil, Package.label_version, code)
             .join(Location, Location.id == Package.destination_id)
             .where(Location.path >= low, Location.path < high)
             .order_by(Package.package_id))
    if after is not None:
        query = query.where(Package.package_id > after)
    if limit is not None:
        query = query.limit(limit)
    return [{"package_id": r[0], "item_type": r[1], "quantity": r[2], "destination": r[3],
             "dapil": r[4] or "", "label_version": r[5], "verification_code": r[6]}
            for r in session.execute(query)]


# The sweep command ------------------------------------------------------------

def sweep_all(session: Session, now: dt.datetime | None = None, batch: int = 5 * SWEEP_CHUNK,
              echo=None) -> int:
    """Run the missing sweep to the end, committing every ``batch`` packages; return how many judged.

    Each transaction holds the write lock for one batch only, so ingest goes on
    between batches.
    """
    total = 0
    while True:
        judged = sweep_missing(session, now or utc_now(), limit=batch)
        session.commit()
        total += judged
        if echo and judged:
            echo(f"judged {total} packages")
        if judged < batch:
            return total


def init_app(app) -> None:
    """Register ``jejak-server sweep``."""
    import click

    @app.cli.command("sweep")
    def sweep_command():
        """Raise `missing` for packages past a deadline (run it every few minutes from cron)."""
        from server.db import get_db

        with get_db().session() as session:
            total = sweep_all(session, echo=click.echo)
        click.echo(f"sweep done: {total} packages judged")
