"""Tamper-evident ledger: one hash-chained entry per scan, resolution and signed checkpoint.

Revision ID: 0003_ledger
Revises: 0002_reconcile_state
Create Date: 2026-11-28

Operational notes: creates the empty ``ledger_entries`` table; no existing table
is touched, so it is safe on a live database.  Scans recorded before this
revision are not chained: on a database that already holds scans,
``jejak-server verify-log`` reports them as inserted (run it right after the
upgrade to see).  About 130 bytes a scan (two 32-byte hashes, the uuid, the
row id) plus the (kind, row_id) index; budget ~1.5 GB for a province's 7.5
million scans.  Downgrade drops the ledger and with it the proof: export it
first (``jejak-server export-log``).
"""
from alembic import op
import sqlalchemy as sa

revision = '0003_ledger'
down_revision = '0002_reconcile_state'
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('ledger_entries',
    sa.Column('seq', BIGINT, autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('row_id', BIGINT, nullable=True),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('chain', sa.LargeBinary(length=32), nullable=False),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_kind_row', ['kind', 'row_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_kind_row')
    op.drop_table('ledger_entries')
