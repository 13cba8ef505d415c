"""Anomalies: the region paths on each row (place and package destination), indexed with the id.

Revision ID: 0006_anomaly_region_paths
Revises: 0005_scan_events_location_id
Create Date: 2026-11-28

Operational notes: adds ``anomalies.location_path`` (the path of ``location_id``)
and ``anomalies.destination_path`` (the path of the package's destination),
fills them for existing rows, and indexes each with the id
(``ix_anomalies_location_path``, ``ix_anomalies_destination_path``).  A region's
anomalies are those at a place in it or of a package bound for it: with the
paths on the row that is two index ranges, where the page query used to walk
the primary key checking each anomaly's place (regency 3513 of East Java sat
after 661,043 other anomalies: 1.0-1.4 s a page; progress counted through
``packages`` and ``locations`` joins).  Locations never move and a package's
destination is never rewritten, so the copies cannot go stale.

Cost on a province (East Java, 1.69 M stored ``missing`` anomalies, 2-core
machine shared with others): 111 s in all.  Adding the nullable columns is
instant; the backfill is one ``UPDATE ... FROM`` join that rewrites every
anomaly row (the table went from 796 MB to 2,021 MB with its new indexes, the
dead row versions reused after VACUUM) and holds row locks on all of them
until it commits, so ingest that raises or updates anomalies waits for it: run
it when the scanners are quiet.  Each index is ~100 bytes an anomaly (168 MB
each for 1.69 M) and its build blocks writes to ``anomalies`` while it runs; on
a live PostgreSQL create them by hand first, after the columns exist and are
filled, without blocking ingest, and the migration skips them::

    CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_anomalies_location_path
        ON anomalies (location_path, id);
    CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_anomalies_destination_path
        ON anomalies (destination_path, id);

(A failed CONCURRENTLY build leaves an INVALID index: drop it and run it
again.)  Then ``VACUUM ANALYZE anomalies``, so the planner knows the new
columns.  Downgrade drops the columns and indexes; reads stay correct only
with the code of the previous revision.
"""
from alembic import op
import sqlalchemy as sa

revision = '0006_anomaly_region_paths'
down_revision = '0005_scan_events_location_id'
branch_labels = None
depends_on = None

PATH = sa.String(length=300).with_variant(sa.String(length=300, collation='C'), 'postgresql')
INDEXES = {'ix_anomalies_location_path': ['location_path', 'id'],
           'ix_anomalies_destination_path': ['destination_path', 'id']}


def upgrade() -> None:
    """Add the columns, fill them from locations and packages, index them unless already done."""
    bind = op.get_bind()
    columns = {c['name'] for c in sa.inspect(bind).get_columns('anomalies')}
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        for name in ('location_path', 'destination_path'):
            if name not in columns:
                batch_op.add_column(sa.Column(name, PATH, nullable=True))
    if bind.dialect.name == 'postgresql':
        # One pass over the table (hash joins), each row rewritten once.
        op.execute("""
            UPDATE anomalies AS a SET location_path = l.path, destination_path = d.path
            FROM anomalies AS b
            LEFT JOIN locations AS l ON l.id = b.location_id
            LEFT JOIN packages AS p ON p.id = b.package_id
            LEFT JOIN locations AS d ON d.id = p.destination_id
            WHERE b.id = a.id
              AND (a.location_path IS DISTINCT FROM l.path
                   OR a.destination_path IS DISTINCT FROM d.path)""")
    else:
        op.execute("""
            UPDATE anomalies SET
              location_path = (SELECT path FROM locations WHERE locations.id = anomalies.location_id),
              destination_path = (SELECT l.path FROM packages AS p
                                  JOIN locations AS l ON l.id = p.destination_id
                                  WHERE p.id = anomalies.package_id)""")
    existing = {ix['name'] for ix in sa.inspect(bind).get_indexes('anomalies')}
    for name, cols in INDEXES.items():
        if name not in existing:
            op.create_index(name, 'anomalies', cols)


def downgrade() -> None:
    """Drop the indexes and the columns."""
    for name in INDEXES:
        op.drop_index(name, table_name='anomalies')
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        batch_op.drop_column('destination_path')
        batch_op.drop_column('location_path')
