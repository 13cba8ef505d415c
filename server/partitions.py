"""PostgreSQL's partitions of the tables that grow with scans (migration 0017); SQLite has none.

* ``scan_events`` is partitioned ``BY LIST (province)``: one partition per province
  code (``scan_events_p35``; a code's letters lower-cased, its hyphens ``_``) and a
  default one (``scan_events_default``) that catches a scan of a province whose
  partition is not made yet, so an insert never fails for want of a partition.  A region's reads name the province
  (``ScanEvent.province == province_of(region path)``) and the planner reads only
  that partition.
* ``ledger_entries`` is partitioned ``BY RANGE (seq)`` in blocks of
  ``LEDGER_BLOCK`` entries (``ledger_entries_s0`` holds seq 1 to 9,999,999; ``_s1``
  the next ten million...), with a default one likewise.  The chain is one sequence
  in seq order, so it is cut by seq, not by province: finished blocks are never
  written again (vacuumed once, backed up once), the newest block takes the appends.

``ensure_partitions`` makes what is missing: a partition per province in
``locations``, and ledger blocks up to one past the newest seq.  Rows already in a
default partition that belong to a new partition are moved into it in the same
transaction (PostgreSQL refuses to create a partition whose rows sit in the
default).  ``jejak-server partitions`` runs it (cron, or after importing a new
province); importing locations runs it for their provinces.
"""

from __future__ import annotations

import re

from sqlalchemy import text


LEDGER_BLOCK = 10_000_000
# Partitioned table -> (how, key column).
PARTITIONED = {"scan_events": ("list", "province"), "ledger_entries": ("range", "seq")}
_PARTITION_NAME = re.compile(r"^(scan_events_(p[0-9a-z_]+|default)|ledger_entries_(s[0-9]+|default))$")
# The importers' rule for codes (server.importers.read.CODE_RULE): safe inside a literal.
_CODE = re.compile(r"^[0-9A-Z](?:[0-9A-Z-]{0,30}[0-9A-Z])?$")


def is_partition(name: str) -> bool:
    """Tell whether a table name is one of the partitions made here (not a model's table)."""
    return bool(_PARTITION_NAME.match(name))


def include_name(name, type_, _parent_names) -> bool:
    """Leave the partitions out of Alembic's comparison (their parent is the model's table)."""
    return not (type_ == "table" and name is not None and is_partition(name))


class PartitionError(ValueError):
    """A partition could not be made as asked (a province code that cannot name a table)."""


def province_partition(code: str) -> str:
    """Return the name of the scan_events partition of a province code."""
    if not _CODE.match(code):
        raise PartitionError(f"province code {code!r} cannot name a partition: expected upper-case "
                             "letters, digits and inner hyphens")
    # Codes are upper case without '_', so this lower-case name is one code's only.
    return f"scan_events_p{code.lower().replace('-', '_')}"


def partitioned(connection) -> bool:
    """Tell whether this database has the partitioned tables (PostgreSQL after 0017)."""
    if connection.dialect.name != "postgresql":
        return False
    return bool(connection.scalar(text(
        "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = 'scan_events'")))


def partitions(connection) -> list[tuple[str, str, str]]:
    """Return (table, partition, bounds) of every partition, in name order."""
    return [tuple(r) for r in connection.execute(text(
        "SELECT parent.relname, child.relname, pg_get_expr(child.relpartbound, child.oid) "
        "FROM pg_inherits i JOIN pg_class parent ON parent.oid = i.inhparent "
        "JOIN pg_class child ON child.oid = i.inhrelid "
        "WHERE parent.relname IN ('scan_events', 'ledger_entries') ORDER BY 1, 2"))]


def _exists(connection, name: str) -> bool:
    return connection.scalar(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name})


def _make(connection, table: str, name: str, bound: str, condition: str, params: dict) -> None:
    """Create one partition, first moving the rows it will hold out of the default partition."""
    default = f"{table}_default"
    moving = _exists(connection, default) and connection.scalar(
        text(f'SELECT EXISTS (SELECT 1 FROM "{default}" WHERE {condition})'), params)
    if not moving:
        connection.execute(text(f'CREATE TABLE "{name}" PARTITION OF "{table}" {bound}'))
        return
    # Detach the default, make the partition, move its rows, attach the default again:
    # all in this transaction, so no reader sees the rows missing or twice.
    connection.execute(text(f'ALTER TABLE "{table}" DETACH PARTITION "{default}"'))
    connection.execute(text(f'CREATE TABLE "{name}" PARTITION OF "{table}" {bound}'))
    connection.execute(text(f'INSERT INTO "{table}" SELECT * FROM "{default}" WHERE {condition}'),
                       params)
    connection.execute(text(f'DELETE FROM "{default}" WHERE {condition}'), params)
    connection.execute(text(f'ALTER TABLE "{table}" ATTACH PARTITION "{default}" DEFAULT'))


def ensure_province(connection, code: str) -> bool:
    """Make the scan_events partition of a province if missing; tell whether it was made."""
    name = province_partition(code)
    if _exists(connection, name):
        return False
    # The code is letters, digits and hyphens (checked above): safe as the literal a
    # partition bound must be (PostgreSQL takes no parameter there).
    _make(connection, "scan_events", name, f"FOR VALUES IN ('{code}')", "province = :code",
          {"code": code})
    return True


def ensure_ledger_blocks(connection) -> list[str]:
    """Make the ledger blocks up to the one after the newest seq; return the names made."""
    top = connection.scalar(text("SELECT coalesce(max(seq), 0) FROM ledger_entries"))
    made = []
    for block in range(top // LEDGER_BLOCK + 2):
        name = f"ledger_entries_s{block}"
        if _exists(connection, name):
            continue
        low, high = block * LEDGER_BLOCK, (block + 1) * LEDGER_BLOCK
        _make(connection, "ledger_entries", name, f"FOR VALUES FROM ({low}) TO ({high})",
              "seq >= :low AND seq < :high", {"low": low, "high": high})
        made.append(name)
    return made


def ensure_partitions(connection, provinces=None) -> list[str]:
    """Make every missing partition (of these provinces, default all in locations); return names.

    Does nothing on SQLite or on a database not partitioned.
    """
    if not partitioned(connection):
        return []
    if provinces is None:
        # The roots of the tree: the first code of every path (models.province_of).
        provinces = connection.scalars(text("SELECT code FROM locations WHERE parent_id IS NULL")).all()
    made = [province_partition(code) for code in sorted(set(provinces))
            if ensure_province(connection, code)]
    return made + ensure_ledger_blocks(connection)

