"""One schema: the models' metadata and the migrated database agree (Alembic's autogenerate)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from server.models import Base


def test_migrations_create_exactly_the_tables_the_models_declare(db):
    # Every table lives in server/models.py, so migrations/env.py sees them all; any
    # difference (a table, column, index or constraint only one side has) fails here.
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_the_comparison_sees_a_table_the_migrations_lack(db):
    from sqlalchemy import Column, Integer, MetaData, Table

    extra = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extra)
    Table("not_migrated", extra, Column("id", Integer, primary_key=True))
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), extra)
    assert [d[0] for d in differences] == ["add_table"]
