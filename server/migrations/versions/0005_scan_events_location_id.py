"""Scan log: an index on scan_events (location_id, id) for the end of a region's log.

Revision ID: 0005_scan_events_location_id
Revises: 0004_label_registry
Create Date: 2026-11-28

Operational notes: adds the index ``ix_scan_events_location_id`` on
``scan_events (location_id, id)``.  A scan-log page that reaches past the
newest 100,000 scans walks it backwards place by place (LATERAL, PostgreSQL)
and stops after the rows the page still needs: the empty last page of a
regency's log went from 551 ms (a sequential scan of the whole table) to
67 ms on 3.65 M scans (same run; 35 ms on a quiet machine).

Creating it takes a lock that blocks writes to ``scan_events`` (every
``POST /api/v1/scans``) for as long as the build runs (5 s for 3.65 M rows on
a 2-core machine; 7.5 M rows for a province).  On a live PostgreSQL create it
by hand first, without blocking the scanners, then upgrade; the migration
sees it and skips it::

    CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_scan_events_location_id
        ON scan_events (location_id, id);

(If a CONCURRENTLY build fails it leaves an INVALID index: ``DROP INDEX
ix_scan_events_location_id`` and run it again.)  About 22 bytes a scan
(~160 MB for 7.5 M scans).  Downgrade drops the index; the pages stay correct,
only the end of a long log is slow again.
"""
from alembic import op
import sqlalchemy as sa

revision = '0005_scan_events_location_id'
down_revision = '0004_label_registry'
branch_labels = None
depends_on = None

INDEX = 'ix_scan_events_location_id'


def upgrade() -> None:
    """Create the index unless an operator already made it (CONCURRENTLY, by hand)."""
    existing = {ix['name'] for ix in sa.inspect(op.get_bind()).get_indexes('scan_events')}
    if INDEX not in existing:
        op.create_index(INDEX, 'scan_events', ['location_id', 'id'])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index(INDEX, table_name='scan_events')
