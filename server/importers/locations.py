"""Import the administrative tree (province -> regency -> district -> village -> TPS).

File columns: ``code,name,level,parent_code,dapil`` (``dapil`` may be left out
of a file without TPS).  Rows may come in any order: a parent may appear after
its children, or already be in the database.  :func:`read_locations` checks a
file on its own (the label printer uses it, partial trees allowed);
:func:`import_locations` checks it against the database too and bulk-inserts
it level by level, so a province of 120,000 TPS costs a handful of statements.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select

from server.importers.read import (
    CODE_RULE,
    CODE_RULE_TEXT,
    ImportFileError,
    Problems,
    check_extension,
    read_table,
)
from server.ledger.chain import append_records
from server.ledger.records import LOCATIONS
from server.models import LEVELS, Location
from server.partitions import ensure_partitions
from server.sql import chunks

LOCATION_REQUIRED = ("code", "name", "level", "parent_code")


LOCATION_OPTIONAL = ("dapil",)


LEVEL_INDEX = {level: i for i, level in enumerate(LEVELS)}


PLURALS = {"province": "provinces", "regency": "regencies", "district": "districts",
           "village": "villages", "tps": "TPS"}


SINGULARS = {"tps": "TPS"}


CHUNK = 5000


@dataclass
class LocationRow:
    """One checked row of a locations file."""

    line: int
    code: str
    name: str
    level: str
    parent_code: str
    dapil: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        """Return the row as the plain dict read_locations promises."""
        return {"line": self.line, "code": self.code, "name": self.name, "level": self.level,
                "parent_code": self.parent_code, "dapil": list(self.dapil)}


@dataclass
class ImportReport:
    """What an import wrote: how many rows of what, and a one-line summary."""

    what: str
    total: int
    counts: dict[str, int] = field(default_factory=dict)
    detail: str = ""

    def summary(self) -> str:
        """Return the line printed after a successful import."""
        line = f"imported {self.total} {self.what}"
        parts = [f"{n} {_level_word(k, n)}" for k, n in self.counts.items() if n]
        if parts:
            line += " (" + ", ".join(parts) + ")"
        return line + (f"; {self.detail}" if self.detail else "")


def _level_word(key: str, n: int) -> str:
    """Return the word for n locations of a level ('1 regency', '2 regencies', '3 TPS')."""
    if key in PLURALS:
        return PLURALS[key] if n != 1 else SINGULARS.get(key, key)
    return key


def check_code(value: str, column: str, line: int, problems: Problems) -> bool:
    """Tell whether a location or dapil code is payload-safe, reporting it when not."""
    if CODE_RULE.fullmatch(value):
        return True
    hint = " (use upper case)" if CODE_RULE.fullmatch(value.upper()) else ""
    problems.add(line, column, f"bad code {value!r}: expected {CODE_RULE_TEXT}{hint}")
    return False


def split_dapil(value: str, line: int, problems: Problems) -> tuple[str, ...]:
    """Split a ';'-separated dapil list, reporting bad or repeated codes."""
    codes = []
    for token in (t.strip() for t in value.split(";")):
        if not token:
            continue
        if not check_code(token, "dapil", line, problems):
            continue
        if token in codes:
            problems.add(line, "dapil", f"dapil {token!r} listed twice")
            continue
        codes.append(token)
    if len(";".join(codes)) > 300:
        problems.add(line, "dapil", "dapil list longer than 300 characters")
    return tuple(codes)


def _parse_rows(path, problems: Problems) -> tuple[list[LocationRow], dict[str, str]]:
    """Read a locations file and check each row on its own, and codes against each other.

    Returns the good rows and code -> level of every row whose code is valid,
    bad rows included, so a child of a bad row is not also called an orphan.
    """
    rows: list[LocationRow] = []
    first_line: dict[str, int] = {}
    seen: dict[str, str] = {}
    for line, values in read_table(path, LOCATION_REQUIRED, LOCATION_OPTIONAL, problems):
        before = len(problems)
        code, name, level = values["code"], values["name"], values["level"]
        parent = values["parent_code"]
        if not code:
            problems.add(line, "code", "missing code")
        elif check_code(code, "code", line, problems):
            if code in first_line:
                problems.add(line, "code", f"duplicate code {code!r} (first on line {first_line[code]})")
            else:
                first_line[code] = line
                seen[code] = level.lower()
        if not name:
            problems.add(line, "name", "missing name")
        elif len(name) > 200:
            problems.add(line, "name", f"name longer than 200 characters: {name[:40]!r}...")
        if level.lower() in LEVEL_INDEX and level not in LEVEL_INDEX:
            level = level.lower()  # 'TPS' and 'Village' are what people type
        if level not in LEVEL_INDEX:
            problems.add(line, "level", f"bad level {level!r}: expected one of {', '.join(LEVELS)}")
        if parent:
            check_code(parent, "parent_code", line, problems)
            if level == "province":
                problems.add(line, "parent_code",
                             f"a province is at the root: parent_code must be blank, not {parent!r}")
            if parent == code:
                problems.add(line, "parent_code", f"{code!r} cannot be its own parent")
        elif level in LEVEL_INDEX and level != "province":
            problems.add(line, "parent_code", f"missing parent_code: a {level} needs a parent "
                         f"{LEVELS[LEVEL_INDEX[level] - 1]}")
        dapil = split_dapil(values.get("dapil", ""), line, problems)
        if dapil and level != "tps" and level in LEVEL_INDEX:
            problems.add(line, "dapil", f"only a TPS lists dapil codes, not a {level}")
        if level == "tps" and not values.get("dapil", "").strip():
            problems.add(line, "dapil", "missing dapil: a TPS lists the dapil codes it votes in")
        if len(problems) == before:
            rows.append(LocationRow(line, code, name, level, parent, dapil))
    return rows, seen


def _check_parents(rows: list[LocationRow], in_file: dict[str, str], known: dict[str, str],
                   problems: Problems, require_parents: bool) -> None:
    """Check each row's parent is one level up, in the file or (``known``: code -> level) the database."""
    for row in rows:
        if not row.parent_code:
            continue
        parent_level = in_file.get(row.parent_code) or known.get(row.parent_code)
        if parent_level is None:
            if require_parents:
                problems.add(row.line, "parent_code", f"unknown parent {row.parent_code!r}")
            continue
        expected = LEVELS[LEVEL_INDEX[row.level] - 1]
        if parent_level != expected and parent_level in LEVEL_INDEX:
            problems.add(row.line, "parent_code",
                         f"parent {row.parent_code!r} is a {parent_level}; a {row.level} "
                         f"must be under a {expected}")


def read_locations(path) -> list[dict]:
    """Read and check a locations file without a database; return its rows as dicts.

    Each dict has ``line, code, name, level, parent_code`` and ``dapil`` (a
    list).  Parents missing from the file are allowed (a partial tree); every
    other problem raises :class:`ImportFileError` listing all of them.
    """
    problems = Problems()
    check_extension(path)
    rows, seen = _parse_rows(path, problems)
    _check_parents(rows, seen, {}, problems, require_parents=False)
    if problems:
        raise ImportFileError(path, problems)
    return [row.as_dict() for row in rows]


def existing_locations(session) -> dict[str, tuple]:
    """Return every location in the database as code -> (id, level, path, dapil), in one query."""
    result = session.execute(select(Location.code, Location.id, Location.level, Location.path,
                                    Location.dapil))
    return {code: (id_, level, path, dapil) for code, id_, level, path, dapil in result}


def import_locations(session, path) -> ImportReport:
    """Check a locations file against the database and insert it; the caller commits.

    Raises :class:`ImportFileError` (nothing written) when any row is wrong.
    """
    problems = Problems()
    check_extension(path)
    rows, seen = _parse_rows(path, problems)
    existing = existing_locations(session)
    for row in rows:
        if row.code in existing:
            problems.add(row.line, "code", f"duplicate code {row.code!r}: already in the database")
    _check_parents(rows, seen, {code: v[1] for code, v in existing.items()}, problems,
                   require_parents=True)
    if problems:
        raise ImportFileError(path, problems)

    # Parents before children: insert one level at a time, then read back the new ids.
    ids_paths = {code: (v[0], v[2]) for code, v in existing.items()}
    by_level: dict[str, list[LocationRow]] = {level: [] for level in LEVELS}
    for row in rows:
        by_level[row.level].append(row)
    table = Location.__table__
    last_id = session.scalar(select(func.max(Location.id))) or 0
    for level in LEVELS:
        batch = []
        for row in by_level[level]:
            parent_id, parent_path = ids_paths[row.parent_code] if row.parent_code else (None, "/")
            batch.append({"code": row.code, "name": row.name, "level": row.level,
                          "parent_id": parent_id, "path": f"{parent_path}{row.code}/",
                          "dapil": ";".join(row.dapil)})
        for part in chunks(batch, CHUNK):
            session.execute(insert(table), part)
        if batch and level != "tps":
            ids_paths.update(_ids_for(session, level))
    append_records(session, LOCATIONS, Location.id > last_id)  # chained with the insert
    # A new province gets its scan_events partition now (PostgreSQL; server/partitions.py).
    ensure_partitions(session.connection(), {row.code for row in rows if not row.parent_code})
    counts = Counter(row.level for row in rows)
    return ImportReport("locations", len(rows), {level: counts[level] for level in LEVELS})


def _ids_for(session, level: str) -> dict[str, tuple[int, str]]:
    """Return code -> (id, path) of every location of one level."""
    result = session.execute(select(Location.code, Location.id, Location.path)
                             .where(Location.level == level))
    return {code: (id_, path) for code, id_, path in result}
