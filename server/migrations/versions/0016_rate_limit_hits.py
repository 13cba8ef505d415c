"""Rate limits shared by every app instance: the table ``rate_limit_hits``.

Revision ID: 0016_rate_limit_hits
Revises: 0015_label_text_mac
Create Date: 2026-12-05

The API's per-token limit and the dashboard's login throttle counted in each
process's memory; with several instances (or gunicorn workers) a token got N
times its limit.  They now count in this table (server/ratelimit.py): one row per
counted request, deleted once it leaves its window.

Operational notes: a new, empty table; nothing existing is rewritten, so the
upgrade is instant on both databases.  Downgrade drops it (the windows in
progress are forgotten: every key starts afresh, as after a restart before).
"""
from alembic import op
import sqlalchemy as sa

revision = '0016_rate_limit_hits'
down_revision = '0015_label_text_mac'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the shared rate-limit window."""
    op.create_table(
        'rate_limit_hits',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('scope', sa.String(length=16), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('at', sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_rate_limit_hits_key', 'rate_limit_hits', ['scope', 'key', 'at'])


def downgrade() -> None:
    """Drop the shared rate-limit window."""
    op.drop_index('ix_rate_limit_hits_key', table_name='rate_limit_hits')
    op.drop_table('rate_limit_hits')
