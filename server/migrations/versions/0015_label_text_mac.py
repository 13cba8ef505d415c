"""Label registry: a keyed digest of each registered label's exact text.

Revision ID: 0015_label_text_mac
Revises: 0014_device_keys_confirmations
Create Date: 2026-12-05

Adds ``label_registry.text_mac`` (nullable): HMAC-SHA256 of the label's exact
text under a key derived from the ledger key, written by ``print-labels``,
``reprint``, ``import-labels`` and ingest for the labels they sign or verify.
A scanned text whose MAC is registered is genuine without a second Ed25519
check (docs/security.md, "Label registry": why that proves as much as the
signature).

Operational notes: one nullable column, no default, so the upgrade rewrites
nothing and is instant on PostgreSQL and SQLite.  Rows registered before it
keep a null MAC (the registry never kept the whole text): their labels are
verified by signature as before, and the first scan of each fills the MAC.
Downgrade drops the column; ingest then verifies every label as before.
"""
from alembic import op
import sqlalchemy as sa

revision = '0015_label_text_mac'
down_revision = '0014_device_keys_confirmations'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the text MAC column."""
    with op.batch_alter_table('label_registry') as batch:
        batch.add_column(sa.Column('text_mac', sa.LargeBinary(length=32), nullable=True))


def downgrade() -> None:
    """Drop the text MAC column."""
    with op.batch_alter_table('label_registry') as batch:
        batch.drop_column('text_mac')
