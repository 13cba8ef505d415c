"""Partitions on PostgreSQL: scan_events by province, ledger_entries by seq; the progress summary.

Revision ID: 0017_partitions
Revises: 0016_rate_limit_hits
Create Date: 2026-12-05

Both databases: ``scan_events.province`` (the code of the province the scan was
made in, the first code of its location's path), filled for existing rows; and
the new table ``progress_summaries`` (a region's progress as of its last
refresh, ``jejak-server progress-summary --refresh``).

PostgreSQL only (SQLite keeps plain tables):

* ``scan_events`` becomes ``PARTITION BY LIST (province)``, one partition per
  root location (``scan_events_p35``) and a default one.  PostgreSQL's rule:
  every unique key of a partitioned table holds the partition key, so the
  primary key becomes ``(id, province)`` (``id`` still comes from the one
  sequence, so it stays unique and in commit order) and the uuid's uniqueness
  ``(province, uuid)``: a scan re-sent is the same scan at the same location, so
  it meets its first copy in that unique key, and ingest's uuid check under its
  locks reads every partition (docs/data-model.md "Partitions").
* ``ledger_entries`` becomes ``PARTITION BY RANGE (seq)``, blocks of ten million
  (``ledger_entries_s0``, ``_s1``...), made up to one block past the newest seq,
  and a default one; the primary key stays ``seq``.

``scan_photos.scan_id`` (0013) keeps its values but loses its foreign key on
PostgreSQL: a key into a partitioned table must hold the partition key, which
``scan_photos`` does not carry; photos are attached by ingest to scans it has
just found by uuid, and scans are never deleted.

Operational notes: each table is rebuilt (renamed, a partitioned table made
like it, every row copied, the old one dropped, its indexes, keys and foreign
keys made again on the new one); writes to the two tables are blocked while it
runs: run it with the scanners quiet (their outboxes wait).  The copy needs
the tables' size again in free disk until the old ones are dropped at the
end.  Downgrade rebuilds plain tables the same way and drops ``province`` and
``progress_summaries``.
"""
import re

from alembic import op
import sqlalchemy as sa

revision = '0017_partitions'
down_revision = '0016_rate_limit_hits'
branch_labels = None
depends_on = None

LEDGER_BLOCK = 10_000_000
PATH = sa.String(length=300).with_variant(sa.String(length=300, collation='C'), 'postgresql')


def upgrade() -> None:
    """Add the province column and the summary table; on PostgreSQL partition the two tables."""
    bind = op.get_bind()
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('province', sa.String(length=32), nullable=True))
    if bind.dialect.name == 'postgresql':
        _partition_scan_events(bind)
        _partition_ledger(bind)
    else:
        op.execute("""
            UPDATE scan_events SET province = (
              SELECT substr(path, 2, instr(substr(path, 2), '/') - 1) FROM locations
              WHERE locations.id = scan_events.location_id)""")
        with op.batch_alter_table('scan_events', schema=None) as batch_op:
            batch_op.alter_column('province', existing_type=sa.String(length=32), nullable=False)
    op.create_table(
        'progress_summaries',
        sa.Column('location_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('level', sa.String(length=16), nullable=False),
        sa.Column('path', PATH, nullable=False),
        sa.Column('expected', sa.Integer(), nullable=False),
        sa.Column('dispatched', sa.Integer(), nullable=False),
        sa.Column('received_regency', sa.Integer(), nullable=False),
        sa.Column('received_district', sa.Integer(), nullable=False),
        sa.Column('received_village', sa.Integer(), nullable=False),
        sa.Column('received_tps', sa.Integer(), nullable=False),
        sa.Column('overdue', sa.Integer(), nullable=False),
        sa.Column('anomalies', sa.Integer(), nullable=False),
        sa.Column('as_of', sa.DateTime(), nullable=False),
        sa.Column('refreshed_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['location_id'], ['locations.id']),
        sa.PrimaryKeyConstraint('location_id'),
    )
    with op.batch_alter_table('progress_summaries', schema=None) as batch_op:
        batch_op.create_index('ix_progress_summaries_level_path', ['level', 'path'], unique=False)


def downgrade() -> None:
    """Drop the summary table; on PostgreSQL make the two tables plain again; drop province."""
    bind = op.get_bind()
    op.drop_table('progress_summaries')
    if bind.dialect.name == 'postgresql':
        _rebuild(bind, 'ledger_entries', '', ['seq'], [], lambda: None)
        _rebuild(bind, 'scan_events', '', ['id'], [('scan_events_uuid_key', ['uuid'])],
                 lambda: None)
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.drop_column('province')


def _partition_scan_events(bind) -> None:
    """Rebuild scan_events partitioned by province, the province filled from the locations."""
    provinces = bind.execute(sa.text(
        "SELECT code FROM locations WHERE parent_id IS NULL ORDER BY code")).scalars().all()
    for code in provinces:
        # The importers' code rule (upper-case letters, digits, inner hyphens): safe in a literal.
        if not re.fullmatch(r"[0-9A-Z](?:[0-9A-Z-]{0,30}[0-9A-Z])?", code):
            raise RuntimeError(f"province code {code!r} cannot name a partition")

    def make_partitions():
        for code in provinces:
            name = code.lower().replace('-', '_')
            op.execute(f"CREATE TABLE scan_events_p{name} PARTITION OF scan_events "
                       f"FOR VALUES IN ('{code}')")
        op.execute("CREATE TABLE scan_events_default PARTITION OF scan_events DEFAULT")

    _rebuild(bind, 'scan_events', 'PARTITION BY LIST (province)', ['id', 'province'],
             [('uq_scan_events_province_uuid', ['province', 'uuid'])], make_partitions,
             fill={'province': "split_part(l.path, '/', 2)"},
             join="JOIN locations AS l ON l.id = o.location_id")


def _partition_ledger(bind) -> None:
    """Rebuild ledger_entries partitioned by seq range, one block past the newest entry."""
    top = bind.scalar(sa.text("SELECT coalesce(max(seq), 0) FROM ledger_entries"))

    def make_partitions():
        for block in range(top // LEDGER_BLOCK + 2):
            op.execute(f"CREATE TABLE ledger_entries_s{block} PARTITION OF ledger_entries "
                       f"FOR VALUES FROM ({block * LEDGER_BLOCK}) TO ({(block + 1) * LEDGER_BLOCK})")
        op.execute("CREATE TABLE ledger_entries_default PARTITION OF ledger_entries DEFAULT")

    _rebuild(bind, 'ledger_entries', 'PARTITION BY RANGE (seq)', ['seq'], [], make_partitions)


def _rebuild(bind, table: str, partition_by: str, primary_key: list[str],
             uniques: list[tuple[str, list[str]]], make_partitions, fill=None, join="") -> None:
    """Rebuild a table as a new one (partitioned or plain) with every row, key and index.

    The non-unique indexes and the foreign keys are read from the catalogue before
    and made again after; the primary key and the unique keys are given, as the
    partition key changes them.  ``fill`` computes columns the old rows lack.
    """
    fill = fill or {}
    old = f"{table}_old"
    incoming = bind.execute(sa.text(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND confrelid = CAST(:t AS regclass) ORDER BY conname"),
        {"t": table}).all()
    for referrer, name, _definition in incoming:
        # A foreign key into a partitioned table must name its partition key too; the one
        # into scan_events (scan_photos.scan_id, 0013) names the id only: dropped, and made
        # again by the downgrade (docs/data-model.md "Partitions").
        op.execute(f"ALTER TABLE {referrer} DROP CONSTRAINT {name}")
    indexes = bind.execute(sa.text(
        "SELECT i.indexdef FROM pg_indexes i WHERE i.tablename = :t AND NOT EXISTS ("
        "  SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.contype IN ('p', 'u'))"
        " ORDER BY i.indexname"), {"t": table}).scalars().all()
    foreign_keys = bind.execute(sa.text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid = CAST(:t AS regclass) ORDER BY conname"),
        {"t": table}).all()
    sequence = bind.scalar(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                           {"t": table, "c": primary_key[0]})
    columns = bind.execute(sa.text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
        "ORDER BY ordinal_position"), {"t": table}).scalars().all()
    before = bind.scalar(sa.text(f"SELECT count(*) FROM {table}"))
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    if sequence:
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING STORAGE) "
               f"{partition_by}")
    for name in fill:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {name} SET NOT NULL")
    make_partitions()
    names = ", ".join(columns)
    values = ", ".join(fill.get(c, f"o.{c}") for c in columns)
    op.execute(f"INSERT INTO {table} ({names}) SELECT {values} FROM {old} AS o {join}")
    after = bind.scalar(sa.text(f"SELECT count(*) FROM {table}"))
    if after != before:
        raise RuntimeError(f"{table}: {before} rows before the rebuild, {after} after; nothing changed")
    op.execute(f"DROP TABLE {old}")
    if sequence:
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {table}.{primary_key[0]}")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY "
               f"({', '.join(primary_key)})")
    for name, cols in uniques:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE ({', '.join(cols)})")
    for name, definition in foreign_keys:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for definition in indexes:
        op.execute(definition)
    if not partition_by:
        for referrer, name, definition in _INCOMING.get(table, []):
            if bind.scalar(sa.text("SELECT to_regclass(:t) IS NOT NULL"), {"t": referrer}):
                op.execute(f"ALTER TABLE {referrer} ADD CONSTRAINT {name} {definition}")
    op.execute(f"ANALYZE {table}")


# The foreign keys into a table that partitioning drops, made again when it is plain.
_INCOMING = {'scan_events': [('scan_photos', 'scan_photos_scan_id_fkey',
                              'FOREIGN KEY (scan_id) REFERENCES scan_events(id)')]}
