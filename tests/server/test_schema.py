"""One schema: the models' metadata and the migrated database agree (Alembic's autogenerate)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from server.models import Base
from server.partitions import PARTITIONED, include_name


def _widened_by_partition_key(differences, dialect: str) -> list:
    """Drop the pairs that say a model's unique key holds the partition key too on PostgreSQL.

    PostgreSQL's rule: a partitioned table's unique keys hold its partition key, so
    ``scan_events.uuid`` is unique as ``(province, uuid)`` there (migration 0017); any
    other difference stays.
    """
    if dialect != "postgresql":
        return differences
    def columns(d):
        return d[1].table.name, tuple(c.name for c in d[1].columns)
    added = {columns(d) for d in differences if d[0] == "add_constraint"}
    widened = set()
    for d in differences:
        if d[0] != "remove_constraint":
            continue
        table, cols = columns(d)
        key = PARTITIONED.get(table, (None, None))[1]
        if cols and cols[0] == key and (table, cols[1:]) in added:
            widened |= {(table, cols), (table, cols[1:])}
    # The one foreign key into a partitioned table (scan_photos.scan_id) is not on PostgreSQL.
    return [d for d in differences
            if not (d[0] in ("add_constraint", "remove_constraint") and columns(d) in widened)
            and not (d[0] == "add_fk" and d[1].referred_table.name in PARTITIONED)]


def test_migrations_create_exactly_the_tables_the_models_declare(db):
    # Every table lives in server/models.py, so migrations/env.py sees them all; any
    # difference (a table, column, index or constraint only one side has) fails here.
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name})
        differences = compare_metadata(context, Base.metadata)
    assert _widened_by_partition_key(differences, connection.dialect.name) == []


def test_the_comparison_sees_a_table_the_migrations_lack(db):
    from sqlalchemy import Column, Integer, MetaData, Table

    extra = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extra)
    Table("not_migrated", extra, Column("id", Integer, primary_key=True))
    with db.engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"include_name": include_name}), extra)
    differences = _widened_by_partition_key(differences, connection.dialect.name)
    assert [d[0] for d in differences] == ["add_table"]


def test_the_comparison_sees_a_unique_key_the_migrations_lack(db):
    from sqlalchemy import MetaData, UniqueConstraint

    extra = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extra)
    scans = extra.tables["scan_events"]
    scans.append_constraint(UniqueConstraint(scans.c.raw_code))
    with db.engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"include_name": include_name}), extra)
    differences = _widened_by_partition_key(differences, connection.dialect.name)
    assert [(d[0], [c.name for c in d[1].columns]) for d in differences] == [
        ("add_constraint", ["raw_code"])]
