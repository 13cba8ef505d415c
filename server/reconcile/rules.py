"""The anomaly rules: one package's timeline in, its anomalies and derived state out.

Plain Python over data (no database, no Flask), so every rule can be read and
tested on its own; ``server.reconcile`` loads the data and stores the result.
The rules are documented, one section per kind, in ``docs/anomalies.md``.

A package's *timeline* is its own scans plus the handoff scans of every
container it was packed in, while it was packed (from its ``pack`` to its next
``pack``/``unpack``), sorted by device time (``scanned_at``), then by server
order.  Each time a scan of the package (or of its container) arrives, the
whole timeline is judged again, so a backlog that arrives late and out of
order gives the same answer as if it had arrived on time.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass, field

from labels.payload import PayloadError, parse
from server.models import BACK_LEVELS, COUNT_ACTIONS, LEVELS
from server.reconcile.details import describe, instant, minutes, place

# Actions at which a scan of a container stands for everything packed in it.
HANDOFF_ACTIONS = frozenset({"receive", "dispatch", "handover", "return", "inspect"})


# Actions after which a package has left the location it was at.
LEAVE_ACTIONS = frozenset({"dispatch", "handover", "return"})


BAD_DISPOSITIONS = frozenset({"damaged", "seal_broken"})


LEVEL_DEPTH = {level: i for i, level in enumerate(LEVELS)}




DEFAULT_CLONE_WINDOW = dt.timedelta(minutes=10)


@functools.lru_cache(maxsize=16384)
def stated_quantity(raw_code: str) -> int | None:
    """Return the quantity a scanned label text states (None when it is not a label)."""
    if not raw_code or not raw_code.lstrip()[:3].upper().startswith("J1."):
        return None
    try:
        return parse(raw_code).quantity
    except PayloadError:
        return None


def duplicate_signature(package_id, location_id, action: str, container_id,
                        leg: str = "outbound") -> tuple:
    """Return what makes two scans the same handoff: package, place, action (box, if packing), leg.

    The way back (``leg`` ``return``) passes the same places with the same actions
    as the way there: a village's receipt of a box coming back from its TPS is a
    new handoff, not a repeat of the receipt before voting.
    """
    if action in ("pack", "unpack"):
        return (package_id, location_id, action, leg, container_id)
    return (package_id, location_id, action, leg)


def first_return(scans) -> dt.datetime | None:
    """Return the device time of a package's first ``return`` scan (None: not on its way back)."""
    times = [ev.scanned_at for ev in scans if ev.action == "return"]
    return min(times) if times else None


def leg_of(action: str, scanned_at: dt.datetime, returned_at: dt.datetime | None) -> str:
    """Return the leg a scan belongs to: ``return`` from the package's first return scan on."""
    if action == "return" or (returned_at is not None and scanned_at >= returned_at):
        return "return"
    return "outbound"


@dataclass(frozen=True)
class Place:
    """A location as the rules see it."""

    id: int
    code: str
    name: str
    level: str
    path: str
    dapils: tuple[str, ...] = ()

    def contains(self, other: "Place") -> bool:
        """Tell whether ``other`` is this location or below it."""
        return other.path.startswith(self.path)


@dataclass
class PlannedPackage:
    """A planned package as the rules see it."""

    id: int
    package_id: str
    item_type: str
    quantity: int
    destination_id: int
    dapil: str
    label_version: int
    container_id: int | None = None


@dataclass
class SeenScan:
    """One scan as the rules see it."""

    id: int
    uuid: str
    package_id: int | None
    location_id: int
    action: str
    disposition: str
    container_id: int | None
    seal: str
    scanned_at: dt.datetime
    received_at: dt.datetime
    counted: bool
    raw_code: str = ""
    counted_quantity: int | None = None
    damaged_quantity: int | None = None

    @property
    def label_quantity(self) -> int | None:
        """Return the quantity printed on the scanned label (None if it is not a label)."""
        return stated_quantity(self.raw_code) if self.package_id is not None else None

    @property
    def order(self) -> tuple:
        """Return the sort key: device time, then server order."""
        return (self.scanned_at, self.id)


@dataclass
class Finding:
    """One anomaly the rules found (not yet stored)."""

    kind: str
    key: str
    package_id: int | None
    location_id: int | None
    evidence: list[str]
    # What happened, as data (server.reconcile.details puts it in a reader's words).
    facts: dict
    detected_at: dt.datetime
    ended_at: dt.datetime | None = None
    claimed_package: str = ""
    # missing only: the scan that ended the episode.
    ended_by: SeenScan | None = None
    # missing only: begun after the package's last known device time, so ingest
    # leaves it to the sweep (a backlog replayed long after must not raise it).
    deferred: bool = False

    @property
    def detail(self) -> str:
        """Return the stored English detail (UTC times): the facts in words."""
        return describe(self.kind, self.facts)


class DeadlineBook:
    """The schedule: the deadline of each level and direction, the nearest region's row winning.

    Within a region a row for the package's item type wins over a row for every
    type (blank ``item_type``); a nearer region wins over both of a farther one.
    """

    def __init__(self, rows):
        """Index rows of (region path or None, level, deadline[, direction[, item type]])."""
        self._by: dict[tuple, dt.datetime] = {}
        for row in rows:
            path, level, deadline, direction, item_type = (tuple(row) + ("outbound", ""))[:5]
            self._by[(path, level, direction or "outbound", item_type or "")] = deadline
        self._returns = {key[1] for key in self._by if key[2] == "return"}
        self._memo: dict[tuple, dt.datetime | None] = {}
        # Only these paths have rows: a destination's scheduled ancestors, nearest first, are
        # all its lookups depend on, so packages bound for 500 TPS of one region share them.
        self._paths = {key[0] for key in self._by}
        self._chains: dict[str, tuple] = {}

    def __bool__(self) -> bool:
        """Tell whether any deadline is scheduled."""
        return bool(self._by)

    def for_level(self, dest_path: str, level: str, item_type: str = "",
                  direction: str = "outbound") -> dt.datetime | None:
        """Return the deadline of ``level`` for a package of this type bound for ``dest_path``."""
        if not self._by:
            return None
        chain = self._chains.get(dest_path)
        if chain is None:
            chain = self._chains[dest_path] = tuple(
                p for p in (*reversed(ancestor_paths(dest_path)), None) if p in self._paths)
        memo_key = (chain, level, item_type, direction)
        memo = self._memo.get(memo_key, False)
        if memo is not False:
            return memo
        found = None
        for path in chain:
            for kind in ((item_type, "") if item_type else ("",)):
                found = self._by.get((path, level, direction, kind))
                if found is not None:
                    break
            if found is not None:
                break
        self._memo[memo_key] = found
        return found

    def returns(self, dest_path: str, item_type: str) -> dict[str, dt.datetime]:
        """Return level -> the deadline a package must be received back there by (the way back)."""
        out = {}
        for level in self._returns:
            deadline = self.for_level(dest_path, level, item_type, "return")
            if deadline is not None:
                out[level] = deadline
        return out


@dataclass
class Context:
    """Everything the rules may look up: locations, packages, scans, schedule, clock."""

    locations: dict[int, Place] = field(default_factory=dict)
    by_path: dict[str, Place] = field(default_factory=dict)
    packages: dict[int, PlannedPackage] = field(default_factory=dict)
    scans_of: dict[int, dict[int, SeenScan]] = field(default_factory=lambda: defaultdict(dict))
    packed_into: dict[int, dict[int, SeenScan]] = field(default_factory=lambda: defaultdict(dict))
    deadlines: DeadlineBook = field(default_factory=lambda: DeadlineBook([]))
    now: dt.datetime = dt.datetime(1970, 1, 1)
    clock_skew: dt.timedelta = dt.timedelta(minutes=10)
    clone_window: dt.timedelta = DEFAULT_CLONE_WINDOW
    # Ingest judges missing as of each package's last device time; the sweep as of now.
    defer_missing: bool = False

    def add_location(self, loc: Place) -> None:
        """Remember a location by id and path."""
        self.locations[loc.id] = loc
        self.by_path[loc.path] = loc

    def add_scan(self, ev: SeenScan) -> None:
        """Index a scan under its package and, for a pack, under its container."""
        if ev.package_id is not None:
            self.scans_of[ev.package_id][ev.id] = ev
        if ev.container_id is not None and ev.action == "pack":
            self.packed_into[ev.container_id][ev.id] = ev

    def route(self, pkg: PlannedPackage) -> dict[str, Place]:
        """Return the package's route: level -> the destination's ancestor-or-self there."""
        dest = self.locations[pkg.destination_id]
        return {loc.level: loc for loc in (self.by_path.get(p) for p in ancestor_paths(dest.path))
                if loc is not None}


@dataclass
class Derived:
    """What the rules say about one package."""

    findings: dict[str, Finding]
    state: dict
    container_id: int | None


@functools.lru_cache(maxsize=32768)
def ancestor_paths(path: str) -> tuple[str, ...]:
    """Return the paths from the root down to ``path`` inclusive."""
    codes = [c for c in path.split("/") if c]
    return tuple("/" + "/".join(codes[:i]) + "/" for i in range(1, len(codes) + 1))


def fmt(t: dt.datetime | None) -> str:
    """Return a UTC instant as the details show it."""
    return "-" if t is None else t.strftime("%Y-%m-%d %H:%M UTC")


def packing_intervals(own: list[SeenScan]) -> list[tuple[int, dt.datetime, dt.datetime | None]]:
    """Return (container id, from, until or None) for each time the package was packed."""
    intervals, current = [], None
    for ev in own:
        if ev.action == "pack" and ev.container_id is not None:
            if current is not None:
                intervals.append((current[0], current[1], ev.scanned_at))
            current = (ev.container_id, ev.scanned_at)
        elif ev.action == "unpack" and current is not None:
            intervals.append((current[0], current[1], ev.scanned_at))
            current = None
    if current is not None:
        intervals.append((current[0], current[1], None))
    return intervals


def timeline(pkg_id: int, ctx: Context) -> tuple[list[tuple[SeenScan, int | None]], list]:
    """Return the package's timeline as (scan, container id or None) and its packing intervals."""
    own = sorted(ctx.scans_of.get(pkg_id, {}).values(), key=lambda e: e.order)
    entries: list[tuple[SeenScan, int | None]] = [(ev, None) for ev in own]
    intervals = packing_intervals(own)
    for cid, start, end in intervals:
        for ev in ctx.scans_of.get(cid, {}).values():
            if (ev.action in HANDOFF_ACTIONS and ev.scanned_at >= start
                    and (end is None or ev.scanned_at < end)):
                entries.append((ev, cid))
    entries.sort(key=lambda e: e[0].order)
    return entries, intervals


class _Rules:
    """Judge one package's timeline; see docs/anomalies.md for each rule."""

    def __init__(self, pkg: PlannedPackage, ctx: Context):
        """Prepare the package's route and timeline."""
        self.pkg, self.ctx = pkg, ctx
        self.dest = ctx.locations[pkg.destination_id]
        self.route = ctx.route(pkg)
        self.entries, self.intervals = timeline(pkg.id, ctx)
        self.own = [ev for ev, via in self.entries if via is None]
        # From the package's first return scan on, its scans are the way back.
        self.returned_at = first_return(self.own)
        self.findings: dict[str, Finding] = {}
        self.clone_locations: set[int] = set()
        self.wrong_packs: set[int] = set()

    # helpers -----------------------------------------------------------------
    def loc(self, ev: SeenScan) -> Place:
        """Return the location of a scan."""
        return self.ctx.locations[ev.location_id]

    def on_route(self, loc: Place) -> bool:
        """Tell whether a location is the destination or one of its ancestors."""
        return loc.contains(self.dest)

    def below_dest(self, loc: Place) -> bool:
        """Tell whether a location lies under the destination."""
        return self.dest.contains(loc) and loc.id != self.dest.id

    def leg(self, ev: SeenScan) -> str:
        """Return the leg a scan of the package belongs to (``outbound`` or ``return``)."""
        return leg_of(ev.action, ev.scanned_at, self.returned_at)

    def add(self, kind: str, key_suffix: str, loc: Place | None, evidence: list[SeenScan],
            facts: dict, at: dt.datetime, ended_at: dt.datetime | None = None) -> Finding:
        """Record a finding, or add evidence to the one with the same key."""
        key = f"{kind}:{self.pkg.package_id}" + (f":{key_suffix}" if key_suffix else "")
        found = self.findings.get(key)
        if found is None:
            found = Finding(kind, key, self.pkg.id, loc.id if loc else None, [], facts, at,
                            ended_at)
            self.findings[key] = found
        for ev in evidence:
            if ev.uuid not in found.evidence:
                found.evidence.append(ev.uuid)
        return found

    # rules -------------------------------------------------------------------
    def run(self) -> Derived:
        """Apply every rule and return the findings, state and current container."""
        self.cloned()
        self.duplicates()
        self.places()
        first = self.receipts()
        self.counts()
        self.seals()
        self.missing(first)
        self.missing_returns(first)
        self.skew_notes()
        return Derived(self.findings, self.state(first), self.current_container())

    def cloned(self) -> None:
        """cloned_label: one label where one physical package cannot be."""
        receipts = [ev for ev in self.own if ev.action == "receive"]
        pairs: list[tuple[SeenScan, SeenScan, dict]] = []
        by_level: dict[str, dict[int, SeenScan]] = defaultdict(dict)
        for ev in receipts:
            by_level[self.loc(ev).level].setdefault(ev.location_id, ev)
        for level, firsts in by_level.items():
            ordered = sorted(firsts.values(), key=lambda e: e.order)
            for a, b in zip(ordered, ordered[1:]):
                if not self._left_between(a, b) and not self._returned_between(a, b):
                    pairs.append((a, b, {"why": "two_places", "level": level}))
        at_dest = [ev for ev, _via in self.entries
                   if ev.action == "receive" and ev.location_id == self.dest.id]
        if at_dest:
            delivered = at_dest[0]
            for ev in receipts:
                loc = self.loc(ev)
                if (ev.order > delivered.order and not self.on_route(loc)
                        and not self.below_dest(loc) and not self._returned_between(delivered, ev)):
                    pairs.append((delivered, ev, {"why": "after_delivery"}))
        for a, b in zip(self.own, self.own[1:]):
            la, lb = self.loc(a), self.loc(b)
            if (la.id != lb.id and not la.contains(lb) and not lb.contains(la)
                    and b.scanned_at - a.scanned_at <= self.ctx.clone_window):
                pairs.append((a, b, {"why": "apart",
                                     "minutes": minutes(b.scanned_at - a.scanned_at)}))
        for a, b, why in pairs:
            la, lb = self.loc(a), self.loc(b)
            suspect = b if not (self.on_route(lb) or self.below_dest(lb)) else (
                a if not (self.on_route(la) or self.below_dest(la)) else b)
            self.clone_locations.add(suspect.location_id)
            self.add("cloned_label", "", self.loc(suspect), [a, b],
                     {"package": self.pkg.package_id, **why, "first": place(la),
                      "first_at": instant(a.scanned_at), "second": place(lb),
                      "second_at": instant(b.scanned_at)},
                     suspect.scanned_at)

    def _left_between(self, a: SeenScan, b: SeenScan) -> bool:
        """Tell whether the package left a's location (dispatch/handover/return) before b."""
        return any(ev.location_id == a.location_id and ev.action in LEAVE_ACTIONS
                   and a.order <= ev.order <= b.order for ev in self.own)

    def _returned_between(self, a: SeenScan, b: SeenScan) -> bool:
        """Tell whether a return scan of the package lies between a and b."""
        return any(ev.action == "return" and a.order <= ev.order <= b.order for ev in self.own)

    def duplicates(self) -> None:
        """duplicate_scan: the package again at the same location and action."""
        groups: dict[tuple, list[SeenScan]] = defaultdict(list)
        for ev in self.own:
            if ev.location_id not in self.clone_locations:
                groups[duplicate_signature(None, ev.location_id, ev.action,
                                           ev.container_id, self.leg(ev))].append(ev)
        for (_pid, loc_id, action, leg, *box), evs in groups.items():
            if len(evs) > 1:
                loc = self.ctx.locations[loc_id]
                container = self.ctx.packages.get(box[0]) if box and box[0] else None
                suffix = f"{loc.code}:{action}" + (f":{container.package_id}" if container else "")
                back = leg == "return"
                self.add("duplicate_scan", suffix + (":return" if back else ""), loc, evs,
                         {"package": self.pkg.package_id, "times": len(evs), "action": action,
                          "place": place(loc), "back": back}, evs[1].scanned_at)

    def places(self) -> None:
        """damaged, wrong_dapil and misrouted: what each scan's place and condition say."""
        wrong_packs: set[int] = self.wrong_packs
        pkg = self.pkg
        for ev, via in self.entries:
            loc = self.loc(ev)
            if via is None and ev.location_id in self.clone_locations:
                continue
            hurt = via is None and bool(ev.damaged_quantity)
            if via is None and (ev.disposition in BAD_DISPOSITIONS or hurt):
                what = ev.disposition if ev.disposition in BAD_DISPOSITIONS else "damaged"
                self.add("damaged", loc.code, loc, [ev],
                         {"package": pkg.package_id, "condition": what,
                          "action": ev.action, "place": place(loc),
                          "at": instant(ev.scanned_at),
                          "units": ev.damaged_quantity if hurt else None,
                          "of": _or(ev.counted_quantity, self.expected(ev)) if hurt else None},
                         ev.scanned_at)
            if via is None and ev.action == "pack" and ev.container_id is not None:
                container = self.ctx.packages.get(ev.container_id)
                cdest = self.ctx.locations.get(container.destination_id) if container else None
                if (pkg.dapil and cdest is not None and cdest.level == "tps"
                        and pkg.dapil not in cdest.dapils):
                    wrong_packs.add(ev.container_id)
                    self.add("wrong_dapil", "", loc, [ev],
                             {"package": pkg.package_id, "item_type": pkg.item_type,
                              "dapil": pkg.dapil, "container": container.package_id,
                              "place": place(cdest), "votes": list(cdest.dapils)}, ev.scanned_at)
            if self.on_route(loc) or self.below_dest(loc):
                continue
            if loc.level == "tps" and pkg.dapil and pkg.dapil not in loc.dapils:
                self.add("wrong_dapil", "", loc, [ev],
                         {"package": pkg.package_id, "item_type": pkg.item_type,
                          "dapil": pkg.dapil, "place": place(loc), "votes": list(loc.dapils)},
                         ev.scanned_at)
            elif via is not None and via in wrong_packs:
                continue  # already the wrong_dapil packing above: one problem, one anomaly
            else:
                self.add("misrouted", "", loc, [ev],
                         {"package": pkg.package_id, "destination": place(self.dest),
                          "action": ev.action, "place": place(loc), "at": instant(ev.scanned_at),
                          "container": None if via is None else self.ctx.packages[via].package_id,
                          "back": self.leg(ev) == "return"},
                         ev.scanned_at)

    def receipts(self) -> dict[str, SeenScan]:
        """custody_gap, late, quantity_mismatch: judge the first receipt at each route level."""
        first: dict[str, SeenScan] = {}
        below: list[SeenScan] = []
        for ev, via in self.entries:
            if ev.action != "receive":
                continue
            loc = self.loc(ev)
            on_route = self.route.get(loc.level)
            if on_route is not None and on_route.id == loc.id:
                first.setdefault(loc.level, ev)
            elif self.below_dest(loc):
                below.append(ev)
        self._below = below
        for level, ev in first.items():
            loc = self.loc(ev)
            depth = LEVEL_DEPTH[level]
            if depth >= LEVEL_DEPTH["district"]:
                parent = LEVELS[depth - 1]
                before = first.get(parent)
                if parent in self.route and (before is None or before.order > ev.order):
                    ploc = self.route[parent]
                    self.add("custody_gap", level, loc, [ev],
                             {"package": self.pkg.package_id, "place": place(loc),
                              "at": instant(ev.scanned_at), "expected": place(ploc)},
                             ev.scanned_at)
            deadline = self.ctx.deadlines.for_level(self.dest.path, level, self.pkg.item_type)
            if deadline is not None and ev.scanned_at > deadline:
                self.add("late", level, loc, [ev],
                         {"package": self.pkg.package_id, "place": place(loc),
                          "at": instant(ev.scanned_at), "level": level,
                          "deadline": instant(deadline),
                          "late_minutes": minutes(ev.scanned_at - deadline)}, ev.scanned_at)
        delivered = first.get(self.dest.level)
        if delivered is not None:
            wrong = [ev for ev in self.own if ev.label_quantity is not None
                     and ev.label_quantity != self.pkg.quantity]
            if wrong:
                self.add("quantity_mismatch", "", self.dest, [delivered] + wrong,
                         {"package": self.pkg.package_id, "item_type": self.pkg.item_type,
                          "place": place(self.dest), "labelled": wrong[0].label_quantity,
                          "planned": self.pkg.quantity}, delivered.scanned_at)
        return first

    def seals(self) -> None:
        """seal_mismatch: a receipt's seal differs from the seal given at the last pack/dispatch.

        On the way back the boxes are sealed anew at the TPS: a return-leg receipt
        is compared with the seal of the last ``return`` (or dispatch) scan of
        the way back only.
        """
        sealing = [ev for ev in self.own if ev.action in ("dispatch", "return") and ev.seal]
        sealing += [ev for ev in self.ctx.packed_into.get(self.pkg.id, {}).values() if ev.seal]
        if not sealing:
            return
        sealing.sort(key=lambda e: e.order)
        for ev in self.own:
            if ev.action != "receive" or not ev.seal or ev.location_id in self.clone_locations:
                continue
            leg = self.leg(ev)
            last = None
            for s in sealing:
                if s.scanned_at <= ev.scanned_at and (leg == "outbound" or self.leg(s) == leg):
                    last = s
            if last is not None and _seal(last.seal) != _seal(ev.seal):
                loc = self.loc(ev)
                self.add("seal_mismatch", loc.code + (":return" if leg == "return" else ""),
                         loc, [last, ev],
                         {"package": self.pkg.package_id, "place": place(loc), "seal": ev.seal,
                          "sealed": last.seal, "sealed_action": last.action,
                          "sealed_place": place(self.loc(last))}, ev.scanned_at)

    def missing(self, first: dict[str, SeenScan]) -> None:
        """missing: past a level's deadline and not yet received there (or further down)."""
        reach: dict[str, dt.datetime] = {}
        reached_by: dict[str, SeenScan] = {}
        times = [(LEVEL_DEPTH[level], ev) for level, ev in first.items()]
        times += [(len(LEVELS), ev) for ev in self._below]
        for level in self.route:
            depth = LEVEL_DEPTH[level]
            reached = [ev for d, ev in times if d >= depth]
            if reached:
                reached_by[level] = min(reached, key=lambda e: e.order)
                reach[level] = reached_by[level].scanned_at
        if self.astray():
            return  # already flagged where it is (misrouted / wrong_dapil): not unaccounted for
        previous: str | None = None
        for level in LEVELS:
            if level not in self.route:
                continue
            deadline = self.ctx.deadlines.for_level(self.dest.path, level, self.pkg.item_type)
            if deadline is None:
                continue
            if previous is None:
                start = deadline
            elif reach.get(previous) is None:
                break  # still missing at the level above: that is the one to report
            else:
                start = max(deadline, reach[previous])
            previous = level
            if start > self.ctx.now:
                continue
            end = reach.get(level)
            if end is not None and end <= start:
                continue
            loc = self.route[level]
            horizon = self.entries[-1][0].scanned_at if self.entries else None
            deferred = self.ctx.defer_missing and (horizon is None or start > horizon)
            # A deferred finding is never stored, shown or compared (findings.apply_findings
            # only keeps its key): its facts are left unbuilt, as every door receipt has one.
            facts = {} if deferred else {
                "package": self.pkg.package_id, "place": place(loc),
                "deadline": instant(deadline), "last_seen": self._last_seen(start)}
            found = self.add("missing", level, loc, [], facts, start, ended_at=end)
            found.ended_by, found.deferred = reached_by.get(level), deferred

    def expected(self, ev: SeenScan) -> int:
        """Return the quantity a count is compared with: the scanned label's, else the plan's."""
        return _or(ev.label_quantity, self.pkg.quantity)

    def counts(self) -> None:
        """quantity_mismatch: the receiver counted another number than the label states.

        Judged per place on the latest count made there (a recount that agrees
        with the label corrects a miscount), at that place and time.
        """
        latest: dict[int, SeenScan] = {}
        for ev in self.own:
            if (ev.action in COUNT_ACTIONS and ev.counted_quantity is not None
                    and ev.location_id not in self.clone_locations):
                latest[ev.location_id] = ev
        for ev in latest.values():
            expected = self.expected(ev)
            if ev.counted_quantity != expected:
                loc = self.loc(ev)
                earlier = [e for e in self.own if e.location_id == ev.location_id
                           and e.counted_quantity is not None and e is not ev]
                self.add("quantity_mismatch", f"count:{loc.code}", loc, earlier + [ev],
                         {"why": "counted", "package": self.pkg.package_id,
                          "item_type": self.pkg.item_type, "place": place(loc),
                          "action": ev.action, "at": instant(ev.scanned_at),
                          "counted": ev.counted_quantity, "labelled": expected},
                         ev.scanned_at)

    def missing_returns(self, first: dict[str, SeenScan]) -> None:
        """missing_return: delivered, but not received back at a route level by its return deadline."""
        returns = self.ctx.deadlines.returns(self.dest.path, self.pkg.item_type)
        delivered = first.get(self.dest.level)
        if not returns or delivered is None or self.astray():
            return  # not delivered: `missing` speaks for it; off its route: `misrouted`
        back = [(LEVEL_DEPTH[self.loc(ev).level], ev) for ev, _via in self.entries
                if ev.action == "receive" and ev.order > delivered.order
                and self.route.get(self.loc(ev).level) is not None
                and self.route[self.loc(ev).level].id == ev.location_id]
        depth_here = LEVEL_DEPTH[self.dest.level]
        # Deepest level first: the box missing at its village is not also reported at the district.
        for level in sorted(returns, key=lambda lv: -LEVEL_DEPTH[lv]):
            depth = LEVEL_DEPTH[level]
            if depth >= depth_here or level not in self.route:
                continue
            deadline = returns[level]
            start = max(deadline, delivered.scanned_at)
            reached = [ev for d, ev in back if d <= depth]
            arrived = min(reached, key=lambda e: e.order) if reached else None
            if start > self.ctx.now:
                if arrived is None:
                    return  # not due yet here, so not due further up either
                continue
            end = arrived.scanned_at if arrived is not None else None
            if end is not None and end <= start:
                continue
            loc = self.route[level]
            seen = [ev for ev, _via in self.entries if ev.scanned_at <= start]
            where = self.loc(seen[-1]) if seen else self.dest
            horizon = self.entries[-1][0].scanned_at if self.entries else None
            deferred = self.ctx.defer_missing and (horizon is None or start > horizon)
            facts = {} if deferred else {  # unbuilt when deferred, as in missing()
                "package": self.pkg.package_id, "place": place(loc),
                "deadline": instant(deadline), "destination": place(self.dest),
                "last_seen": self._last_seen(start)}
            found = self.add("missing_return", level, where, [], facts, start, ended_at=end)
            found.ended_by, found.deferred = arrived, deferred
            if end is None:
                return  # still out at this level: that is the one to report

    def astray(self) -> bool:
        """Tell whether the package was last seen off its route, or sits in a wrongly bound box."""
        if self.intervals and self.intervals[-1][2] is None and \
                self.intervals[-1][0] in self.wrong_packs:
            return True
        sightings = [ev for ev, via in self.entries
                     if via is not None or ev.location_id not in self.clone_locations]
        if not sightings:
            return False
        loc = self.loc(sightings[-1])
        return not (self.on_route(loc) or self.below_dest(loc))

    def _last_seen(self, before: dt.datetime) -> dict | None:
        """Return where the package was last scanned at or before an instant (None: never)."""
        seen = [ev for ev, _via in self.entries if ev.scanned_at <= before]
        if not seen:
            return None
        ev = seen[-1]
        return {"place": place(self.loc(ev)), "action": ev.action, "at": instant(ev.scanned_at)}

    def skew_notes(self) -> None:
        """Say in the facts when a scan behind a finding came from a clock far ahead."""
        by_uuid = {ev.uuid: ev for ev, _via in self.entries}
        for found in self.findings.values():
            for uuid in found.evidence:
                ev = by_uuid.get(uuid)
                if ev is not None and ev.scanned_at - ev.received_at > self.ctx.clock_skew:
                    found.facts["clock_ahead"] = {
                        "minutes": minutes(ev.scanned_at - ev.received_at), "scan": uuid}
                    break

    def state(self, first: dict[str, SeenScan]) -> dict:
        """Return the derived PackageState values."""
        state = {f"{level}_at": (first[level].scanned_at if level in first else None)
                 for level in LEVELS}
        for ev in self._below:
            level = self.loc(ev).level
            if state.get(f"{level}_at") is None or ev.scanned_at < state[f"{level}_at"]:
                state[f"{level}_at"] = ev.scanned_at
        dispatches = [ev.scanned_at for ev, _via in self.entries if ev.action == "dispatch"]
        state["dispatched_at"] = min(dispatches) if dispatches else None
        last = self.entries[-1][0] if self.entries else None
        state["last_location_id"] = last.location_id if last else None
        state["last_scanned_at"] = last.scanned_at if last else None
        state["returned_at"] = self.returned_at
        for level in BACK_LEVELS:
            loc = self.route.get(level)
            back = [ev.scanned_at for ev, _via in self.entries
                    if loc is not None and ev.action == "receive" and ev.location_id == loc.id
                    and self.leg(ev) == "return"]
            state[f"back_{level}_at"] = min(back) if back else None
        return state

    def current_container(self) -> int | None:
        """Return the container the package is packed in now (None if unpacked)."""
        if self.intervals and self.intervals[-1][2] is None:
            return self.intervals[-1][0]
        return None


def _or(value: int | None, default: int) -> int:
    """Return value, or default when it is None."""
    return default if value is None else value


def _seal(text: str) -> str:
    """Return a seal number as compared (case and spaces do not matter)."""
    return "".join(text.split()).upper()


def derive(pkg: PlannedPackage, ctx: Context) -> Derived:
    """Judge one package's whole timeline: its findings, derived state and current container."""
    return _Rules(pkg, ctx).run()
