"""The missing sweep: raise `missing` (and `missing_return`) for packages past a deadline.

An outbound deadline's candidates are the packages not yet received at its
level; a return deadline's are those delivered (received at or below a level
deeper than it): the rules decide whether each came back in time.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session

from server.locks import lock_writes
from server.models import (
    LEVELS,
    PATH_END,
    STATE_LEVELS,
    Deadline,
    DeadlineSweep,
    Location,
    Package,
    PackageState,
    ScanEvent,
    utc_now,
)
from server.reconcile.findings import judge
from server.reconcile.rules import LEVEL_DEPTH
from server.reconcile.timelines import load_closure, load_packages, new_context
from server.sql import chunks

SWEEP_CHUNK = 1000


# Packages a read may judge for the missing sweep before answering (~0.3 s of work on a
# quiet machine); when more are due the read judges none and `jejak-server sweep` (cron)
# does it: reads stay fast at province scale.
READ_SWEEP_LIMIT = 1000


def _not_reached(level: str):
    """Return the condition 'no receipt at this level or below' on PackageState."""
    cols = [getattr(PackageState, f"{lv}_at") for lv in STATE_LEVELS
            if LEVEL_DEPTH[lv] >= LEVEL_DEPTH[level]]
    return or_(PackageState.package_id.is_(None), and_(*[c.is_(None) for c in cols]))


def sweep_missing(session: Session, now: dt.datetime | None = None,
                  clock_skew_minutes: int | None = None, limit: int | None = None,
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
    rows = session.execute(select(Deadline.id, Deadline.level, Deadline.deadline,
                                  Deadline.direction, Deadline.item_type, Location.path)
                           .outerjoin(Location, Location.id == Deadline.region_id)
                           .where(Deadline.deadline <= now)).all()
    rows = [r for r in rows if r.level in LEVEL_DEPTH]
    if not rows:
        return 0
    max_pkg = session.scalar(select(func.max(Package.id))) or 0
    max_scan = session.scalar(select(func.max(ScanEvent.id))) or 0
    done = _marks(session)
    seen = _mark_values(done)

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
    ordered, last_of = _choose(session, todo, limit)
    if all_or_nothing and limit is not None and len(ordered) > limit:
        return 0
    # Candidates are chosen before the lock (so a read that leaves the work to the command
    # never waits for ingest); they are judged on what the log says once the lock is held.
    lock_writes(session)
    if _mark_values(_marks(session)) != seen:
        # Another sweep (another instance's cron, or a read) committed while this one
        # waited for the lock: choose again from its marks, now under the lock.
        return sweep_missing(session, now, clock_skew_minutes, limit, all_or_nothing)
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
    _mark_swept(session, rows, done, pending, reached, max_pkg, max_scan, now)
    return len(ordered)


def _marks(session: Session) -> dict[int, DeadlineSweep]:
    """Return the sweep marks by deadline id, as committed now (not as first loaded)."""
    query = select(DeadlineSweep).execution_options(populate_existing=True)
    return {s.deadline_id: s for s in session.scalars(query)}


def _mark_values(marks: dict[int, DeadlineSweep]) -> dict[int, tuple]:
    """Return what the marks say (their rows are refreshed in place when read again)."""
    return {i: (m.deadline, m.max_package_id, m.max_scan_id) for i, m in marks.items()}


def _choose(session: Session, todo, limit: int | None) -> tuple[list[int], dict[int, int]]:
    """Return the candidate package ids in order, and per deadline row its highest candidate."""
    candidates: set[int] = set()
    last_of: dict[int, int] = {}
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
    return sorted(candidates), last_of


def _mark_swept(session: Session, rows, done: dict, pending: set[int], reached: int | None,
                max_pkg: int, max_scan: int, now: dt.datetime) -> None:
    """Record how far each deadline row was swept, so the next sweep judges only what changed."""
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
                   clock_skew_minutes: int | None = None) -> int:
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
    """Select packages under a deadline row's region that have not reached its level.

    For a return deadline: the packages bound below its level that were received
    somewhere below it (delivered, or on their way); the rules judge the way back.
    """
    deeper = [lv for lv in LEVELS if LEVEL_DEPTH[lv] >= LEVEL_DEPTH[row.level]]
    if row.direction == "return":
        below = [lv for lv in STATE_LEVELS if LEVEL_DEPTH[lv] > LEVEL_DEPTH[row.level]]
        query = (select(Package.id).join(Location, Location.id == Package.destination_id)
                 .join(PackageState, PackageState.package_id == Package.id)
                 .where(Location.level.in_(below),
                        or_(false(), *[getattr(PackageState, f"{lv}_at").is_not(None)
                                       for lv in below])))
    else:
        query = (select(Package.id).join(Location, Location.id == Package.destination_id)
                 .outerjoin(PackageState, PackageState.package_id == Package.id)
                 .where(Location.level.in_(deeper), _not_reached(row.level)))
    if row.item_type:
        query = query.where(Package.item_type == row.item_type)
    if row.path is not None:
        query = query.where(Location.path >= row.path, Location.path < row.path + PATH_END)
    return query


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


def evaluated_at(session: Session, as_of, clock_skew_minutes: int, read):
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
