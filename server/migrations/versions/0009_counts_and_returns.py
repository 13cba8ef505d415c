"""Counts at the door and the way back: scan counts, schedule direction and item type.

Revision ID: 0009_counts_and_returns
Revises: 0008_ledger_head
Create Date: 2026-12-01

Adds ``scan_events.counted_quantity`` and ``scan_events.damaged_quantity``
(nullable integers: what the receiver counted on receive/unpack/inspect), and
``deadlines.direction`` (``outbound`` or ``return``) and ``deadlines.item_type``
(blank: every type), with the unique constraint widened from (region, level)
to (region, level, direction, item_type); and to ``package_states`` the way
back: ``returned_at`` (first return scan) and ``back_<level>_at`` for the
regency, district and village (first receipt back there).

Operational notes: the new scan columns are nullable with no default, so on
PostgreSQL adding them is a catalogue change (instant whatever the size of
``scan_events``), the same for ``package_states``; the way-back columns of
packages judged before the upgrade stay null until the package is scanned
again (no return scan predates this revision).  ``deadlines`` is a table of a few rows; on SQLite it is
rebuilt (batch mode) to change its constraint.  Existing deadlines become
outbound deadlines for every type, which is what they meant.  Downgrade drops
the columns; it fails if two deadlines then share a region and level (a return
deadline beside an outbound one): delete the return rows first.
"""
from alembic import op
import sqlalchemy as sa

revision = '0009_counts_and_returns'
down_revision = '0008_ledger_head'
branch_labels = None
depends_on = None

STATE_COLUMNS = ('returned_at', 'back_regency_at', 'back_district_at', 'back_village_at')


def upgrade() -> None:
    """Add the count columns and the schedule's direction and item type."""
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counted_quantity', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('damaged_quantity', sa.Integer(), nullable=True))
    with op.batch_alter_table('package_states', schema=None) as batch_op:
        for name in STATE_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.DateTime(), nullable=True))
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('direction', sa.String(length=8), nullable=False,
                                      server_default='outbound'))
        batch_op.add_column(sa.Column('item_type', sa.String(length=16), nullable=False,
                                      server_default=''))
        batch_op.drop_constraint('uq_deadlines_region_level', type_='unique')
        batch_op.create_unique_constraint('uq_deadlines_region_level_direction_type',
                                          ['region_id', 'level', 'direction', 'item_type'])


def downgrade() -> None:
    """Drop them again (the return deadlines must be deleted first)."""
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_constraint('uq_deadlines_region_level_direction_type', type_='unique')
        batch_op.create_unique_constraint('uq_deadlines_region_level', ['region_id', 'level'])
        batch_op.drop_column('item_type')
        batch_op.drop_column('direction')
    with op.batch_alter_table('package_states', schema=None) as batch_op:
        for name in reversed(STATE_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.drop_column('damaged_quantity')
        batch_op.drop_column('counted_quantity')
