"""Derived reconciliation state: per-package progress, missing-sweep marks, anomaly episodes.

Revision ID: 0002_reconcile_state
Revises: 0001_initial
Create Date: 2026-11-28

Operational notes:
* ``package_states`` holds, per package, the device time of its first receipt at
  each level of its route, its first dispatch and where it was last seen.  It is
  derived from the scan log by ingest (``server.reconcile``) and can be rebuilt
  from it; progress reads it instead of aggregating 7.5 million scans.  About 80
  bytes a package (~120 MB for a province).  On a database that already holds
  scans it starts empty and fills as scans of each package arrive; rebuild it
  from the log with ``server.reconcile.sweep.rebuild_states`` after the upgrade.
* ``deadline_sweeps`` remembers which deadline (and which plan size and scan
  log position) the ``missing`` sweep has already judged, so reads sweep only
  when a deadline has passed, packages were added, or (incrementally) for the
  packages scanned since.
* ``anomalies.ended_at``: device time at which a ``missing`` episode ended (the
  package was received); nullable, no rewrite of existing rows.
* ``scan_events.client_device``: the device name a scanner reports in its scans,
  kept for audit next to the token's registered device.  Adding a column with a
  constant default is instant on PostgreSQL 11+.
"""
from alembic import op
import sqlalchemy as sa

revision = '0002_reconcile_state'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'package_states',
        sa.Column('package_id', sa.Integer(), nullable=False),
        sa.Column('province_at', sa.DateTime(), nullable=True),
        sa.Column('regency_at', sa.DateTime(), nullable=True),
        sa.Column('district_at', sa.DateTime(), nullable=True),
        sa.Column('village_at', sa.DateTime(), nullable=True),
        sa.Column('tps_at', sa.DateTime(), nullable=True),
        sa.Column('dispatched_at', sa.DateTime(), nullable=True),
        sa.Column('last_location_id', sa.Integer(), nullable=True),
        sa.Column('last_scanned_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['package_id'], ['packages.id'], name='fk_package_states_package'),
        sa.ForeignKeyConstraint(['last_location_id'], ['locations.id'],
                                name='fk_package_states_location'),
        sa.PrimaryKeyConstraint('package_id', name='pk_package_states'),
    )
    op.create_table(
        'deadline_sweeps',
        sa.Column('deadline_id', sa.Integer(), nullable=False),
        sa.Column('deadline', sa.DateTime(), nullable=False),
        sa.Column('max_package_id', sa.Integer(), nullable=False),
        sa.Column('max_scan_id', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('swept_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('deadline_id', name='pk_deadline_sweeps'),
    )
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_device', sa.String(length=100), nullable=False,
                                      server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.drop_column('client_device')
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        batch_op.drop_column('ended_at')
    op.drop_table('deadline_sweeps')
    op.drop_table('package_states')
