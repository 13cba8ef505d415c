"""Import the plan: packages, the deadline schedule, and extra item types.

* packages: ``package_id,item_type,quantity,destination,dapil``.  A blank
  ``package_id`` is generated as ``<destination>-<item_type>-<n>`` with the
  smallest ``n >= 1`` not used in the file or the database (see
  docs/import-format.md).  A ballot type with a dapil (``has_dapil``) needs
  one of the destination's dapil codes (for a destination above TPS level:
  a code of some TPS under it); any other type must leave ``dapil`` blank.
* schedule: ``level,deadline[,region,direction,item_type]``.  A deadline
  without a UTC offset is Western Indonesian Time (WIB, UTC+7); a date alone
  means the end of that day (23:59:59 WIB).  Stored as naive UTC.
  ``direction`` is ``outbound`` (default: received there on the way down) or
  ``return`` (received back there after voting); a blank ``item_type`` means
  every type.  A re-import replaces the deadline of the same level, region,
  direction and item type.
* item types: ``code,name_id,name_en,has_dapil``.

Every check runs on plain data loaded in a few queries; rows are written in
bulk only when the whole file is good, and the caller commits.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections import Counter

from sqlalchemy import and_, delete, func, insert, select

from server.importers.locations import ImportReport, check_code, existing_locations
from server.importers.read import (
    ITEM_TYPE_RULE,
    ITEM_TYPE_RULE_TEXT,
    PACKAGE_ID_RULE,
    PACKAGE_ID_RULE_TEXT,
    ImportFileError,
    Problems,
    check_extension,
    read_table,
)
from server.ledger.chain import append_records, append_removals
from server.ledger.records import DEADLINES, ITEM_TYPES, PACKAGES
from server.models import DIRECTIONS, LEVELS, Deadline, ItemType, Package, utc_now
from server.sql import bulk_insert, chunks

PACKAGE_REQUIRED = ("item_type", "quantity", "destination")


PACKAGE_OPTIONAL = ("package_id", "dapil")


SCHEDULE_REQUIRED = ("level", "deadline")


SCHEDULE_OPTIONAL = ("region", "direction", "item_type")


ITEM_TYPE_REQUIRED = ("code", "name_id", "name_en")


ITEM_TYPE_OPTIONAL = ("has_dapil",)


MAX_QUANTITY = 9_999_999  # the label payload's limit


WIB = dt.timezone(dt.timedelta(hours=7), "WIB")


TRUE_WORDS = {"1", "true", "yes", "y", "ya"}


FALSE_WORDS = {"", "0", "false", "no", "n", "tidak"}


CHUNK = 5000


IN_CHUNK = 900  # bound parameters per IN (...) query, below every SQLite limit


def _parse_quantity(value: str, line: int, problems: Problems) -> int | None:
    """Return a positive whole quantity, or report why it is not one."""
    if not value:
        problems.add(line, "quantity", "missing quantity")
        return None
    try:
        number = int(value)
    except ValueError:
        problems.add(line, "quantity", f"quantity {value!r} is not a whole number")
        return None
    if not 1 <= number <= MAX_QUANTITY:
        problems.add(line, "quantity", f"quantity {number} must be from 1 to {MAX_QUANTITY}")
        return None
    return number


def _dapils_under(locations: dict[str, tuple]) -> dict[str, set[str]]:
    """Return code -> every dapil of the TPS under it, for locations above TPS level."""
    under: dict[str, set[str]] = {}
    for _code, (_id, level, path, dapil) in locations.items():
        if level != "tps" or not dapil:
            continue
        codes = dapil.split(";")
        for ancestor in path.strip("/").split("/")[:-1]:
            under.setdefault(ancestor, set()).update(codes)
    return under


def import_packages(session, path) -> ImportReport:
    """Check a packages file against the catalogue and the locations, then insert it."""
    problems = Problems()
    check_extension(path)
    item_types = dict(session.execute(select(ItemType.code, ItemType.has_dapil)).all())
    locations = existing_locations(session)
    under: dict[str, set[str]] | None = None
    first_line: dict[str, int] = {}
    rows: list[tuple] = []  # (line, package_id or '', item_type, quantity, destination code, dapil)
    for line, values in read_table(path, PACKAGE_REQUIRED, PACKAGE_OPTIONAL, problems):
        before = len(problems)
        package_id = values.get("package_id", "")
        if package_id:
            if not PACKAGE_ID_RULE.fullmatch(package_id):
                upper = package_id.upper()
                hint = (f" - did you mean {upper!r}? (upper case only)"
                        if upper != package_id and PACKAGE_ID_RULE.fullmatch(upper) else "")
                problems.add(line, "package_id",
                             f"bad package id {package_id!r}: expected {PACKAGE_ID_RULE_TEXT}{hint}")
            elif package_id in first_line:
                problems.add(line, "package_id", f"duplicate package id {package_id!r} "
                             f"(first on line {first_line[package_id]})")
            else:
                first_line[package_id] = line
        item_type = values["item_type"]
        has_dapil = item_types.get(item_type)
        if not item_type:
            problems.add(line, "item_type", "missing item_type")
        elif has_dapil is None:
            problems.add(line, "item_type", f"unknown item type {item_type!r} (import it with "
                         "import-item-types first)")
        quantity = _parse_quantity(values["quantity"], line, problems)
        destination = values["destination"]
        target = locations.get(destination)
        if not destination:
            problems.add(line, "destination", "missing destination")
        elif target is None:
            problems.add(line, "destination", f"unknown destination {destination!r}")
        dapil = values.get("dapil", "")
        if has_dapil is not None:
            if has_dapil and not dapil:
                problems.add(line, "dapil", f"missing dapil: {item_type} ballots are printed per dapil")
            elif not has_dapil and dapil:
                problems.add(line, "dapil", f"{item_type} has no dapil; leave it blank, not {dapil!r}")
            elif dapil and check_code(dapil, "dapil", line, problems) and target is not None:
                if target[1] == "tps":
                    if dapil not in target[3].split(";"):
                        problems.add(line, "dapil", f"dapil {dapil!r} is not one of TPS "
                                     f"{destination}'s: {target[3].replace(';', ', ') or 'none'}")
                else:
                    if under is None:
                        under = _dapils_under(locations)
                    if dapil not in under.get(destination, ()):
                        problems.add(line, "dapil", f"dapil {dapil!r} is not the dapil of any "
                                     f"TPS under {target[1]} {destination}")
        if len(problems) == before:
            rows.append((line, package_id, item_type, quantity, destination, dapil))

    table_empty = not session.scalar(select(func.count()).select_from(Package))
    if first_line and not table_empty:
        explicit = list(first_line)
        for taken in _taken_ids(session, explicit):
            problems.add(first_line[taken], "package_id",
                         f"duplicate package id {taken!r}: already in the database")
    if problems:
        raise ImportFileError(path, problems)

    ids = _assign_ids(session, rows, set(first_line), check_database=not table_empty)
    now = utc_now()
    table = Package.__table__
    last_id = session.scalar(select(func.max(Package.id))) or 0
    numbered = list(zip(ids, rows))
    for part in chunks(numbered, CHUNK):
        # COPY on PostgreSQL, executemany elsewhere (server.sql.bulk_insert).
        bulk_insert(session, table, [
            {"package_id": package_id, "item_type": item_type, "quantity": quantity,
             "destination_id": locations[destination][0], "dapil": dapil, "label_version": 1,
             "container_id": None, "created_at": now}
            for package_id, (_line, _pid, item_type, quantity, destination, dapil) in part])
    append_records(session, PACKAGES, Package.id > last_id)  # chained with the insert
    counts = Counter(row[2] for row in rows)
    generated = sum(1 for row in rows if not row[1])
    return ImportReport("packages", len(rows), dict(sorted(counts.items())),
                        f"{generated} package ids generated" if generated else "")


def _taken_ids(session, package_ids: list[str]) -> list[str]:
    """Return which of these package ids are already in the database (a query per 900 ids)."""
    taken = []
    for chunk in chunks(package_ids, IN_CHUNK):
        taken += session.scalars(select(Package.package_id)
                                 .where(Package.package_id.in_(chunk))).all()
    return taken


def generated_id(destination: str, item_type: str, n: int) -> str:
    """Return the n-th generated package id for a destination and item type."""
    candidate = f"{destination}-{item_type}-{n}"
    if len(candidate) <= 40:
        return candidate
    # Long codes do not fit the payload's 40 characters: a stable digest instead.
    digest = hashlib.sha256(candidate.encode("ascii")).digest()
    return "P" + base64.b32encode(digest[:10]).decode("ascii")


def _assign_ids(session, rows: list[tuple], used: set[str], check_database: bool = True) -> list[str]:
    """Return the package id of every row, generating the blank ones without collisions."""
    ids = [row[1] for row in rows]
    blank = [i for i, pid in enumerate(ids) if not pid]
    counters: Counter = Counter()
    while blank:
        for i in blank:
            _line, _pid, item_type, _q, destination, _d = rows[i]
            key = (destination, item_type)
            while True:
                counters[key] += 1
                candidate = generated_id(destination, item_type, counters[key])
                if candidate not in used:
                    break
            ids[i] = candidate
            used.add(candidate)
        # A generated id may clash with one already in the database: take the next number.
        taken = set(_taken_ids(session, [ids[i] for i in blank])) if check_database else set()
        blank = [i for i in blank if ids[i] in taken]
    return ids


def parse_deadline(value: str) -> dt.datetime:
    """Return an ISO-8601 deadline as naive UTC (no offset: WIB; a date alone: end of day WIB)."""
    text = value.strip()
    if len(text) == 10:
        day = dt.date.fromisoformat(text)
        moment = dt.datetime.combine(day, dt.time(23, 59, 59), WIB)
    else:
        moment = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=WIB)
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def import_schedule(session, path) -> ImportReport:
    """Check a schedule file and store its deadlines, replacing those of the same level and region."""
    problems = Problems()
    check_extension(path)
    locations = existing_locations(session)
    item_types = set(session.scalars(select(ItemType.code)))
    first_line: dict[tuple, int] = {}
    rows = []
    for line, values in read_table(path, SCHEDULE_REQUIRED, SCHEDULE_OPTIONAL, problems):
        before = len(problems)
        level = values["level"].lower()
        if level not in LEVELS:
            problems.add(line, "level", f"bad level {values['level']!r}: expected one of "
                         + ", ".join(LEVELS))
        deadline = None
        try:
            deadline = parse_deadline(values["deadline"])
        except ValueError:
            problems.add(line, "deadline", f"deadline {values['deadline']!r} is not an ISO-8601 "
                         "date or time such as 2024-02-13 or 2024-02-13T18:00")
        region = values.get("region", "")
        region_id = None
        if region:
            if region not in locations:
                problems.add(line, "region", f"unknown region {region!r}")
            else:
                region_id = locations[region][0]
        direction = (values.get("direction", "") or "outbound").lower()
        if direction not in DIRECTIONS:
            problems.add(line, "direction", f"bad direction {values['direction']!r}: expected "
                         "outbound (the way to the TPS, the default) or return (the way back)")
        elif direction == "return" and level == LEVELS[-1]:
            problems.add(line, "direction", "a return deadline is for a level the packages come "
                         "back to (village, district...), not for the tps they leave")
        item_type = values.get("item_type", "")
        if item_type and item_type not in item_types:
            problems.add(line, "item_type", f"unknown item type {item_type!r}")
        key = (region, level, direction, item_type)
        if key in first_line:
            problems.add(line, "level", f"level {level!r} appears twice for region "
                         f"{region or '(all)'}, direction {direction}, item type "
                         f"{item_type or '(all)'} (first on line {first_line[key]})")
        else:
            first_line[key] = line
        if len(problems) == before:
            rows.append((region_id, level, deadline, direction, item_type))
    if problems:
        raise ImportFileError(path, problems)
    for region_id, level, _deadline, direction, item_type in rows:
        # NULL region ids never collide in a unique index, so replace explicitly.
        same = (Deadline.level == level, Deadline.direction == direction,
                Deadline.item_type == item_type,
                Deadline.region_id.is_(None) if region_id is None else Deadline.region_id == region_id)
        append_removals(session, DEADLINES, and_(*same))  # the ledger says it was replaced
        session.execute(delete(Deadline).where(*same))
    # Read after the deletes: SQLite may give a new row a deleted row's id, never a lower one.
    last_id = session.scalar(select(func.max(Deadline.id))) or 0
    session.execute(insert(Deadline.__table__),
                    [{"region_id": r, "level": lv, "deadline": d, "direction": way,
                      "item_type": it} for r, lv, d, way, it in rows])
    append_records(session, DEADLINES, Deadline.id > last_id)
    counts = Counter(level for _r, level, _d, _w, _i in rows)
    return ImportReport("deadlines", len(rows), {level: counts[level] for level in LEVELS})


def _parse_bool(value: str) -> bool | None:
    """Return a yes/no cell as a bool, or None when it is neither."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def import_item_types(session, path) -> ImportReport:
    """Check an item-type file and add its types to the catalogue."""
    problems = Problems()
    check_extension(path)
    known = set(session.scalars(select(ItemType.code)))
    first_line: dict[str, int] = {}
    rows = []
    for line, values in read_table(path, ITEM_TYPE_REQUIRED, ITEM_TYPE_OPTIONAL, problems):
        before = len(problems)
        code = values["code"]
        if not ITEM_TYPE_RULE.fullmatch(code):
            problems.add(line, "code", f"bad item type code {code!r}: expected {ITEM_TYPE_RULE_TEXT}")
        elif code in known:
            problems.add(line, "code", f"duplicate code {code!r}: already in the catalogue")
        elif code in first_line:
            problems.add(line, "code", f"duplicate code {code!r} (first on line {first_line[code]})")
        else:
            first_line[code] = line
        for column in ("name_id", "name_en"):
            if not values[column]:
                problems.add(line, column, f"missing {column}")
            elif len(values[column]) > 100:
                problems.add(line, column, f"{column} longer than 100 characters")
        has_dapil = _parse_bool(values.get("has_dapil", ""))
        if has_dapil is None:
            problems.add(line, "has_dapil", f"has_dapil {values['has_dapil']!r} is not yes/no "
                         "(true/false, 1/0, ya/tidak)")
        if len(problems) == before:
            rows.append({"code": code, "name_id": values["name_id"], "name_en": values["name_en"],
                         "has_dapil": has_dapil})
    if problems:
        raise ImportFileError(path, problems)
    session.execute(insert(ItemType.__table__), rows)
    append_records(session, ITEM_TYPES, ItemType.code.in_([r["code"] for r in rows]))
    return ImportReport("item types", len(rows),
                        detail=", ".join(r["code"] for r in rows[:20])
                        + (" ..." if len(rows) > 20 else ""))
