"""Ledger: the newest signed head, rewritten by every append.

Revision ID: 0008_ledger_head
Revises: 0007_user_session_version
Create Date: 2026-12-02

Operational notes: a new one-row table ``ledger_head``; instant.  Until the
first append after the upgrade, ``GET /api/v1/ledger/head`` signs the log's last
entry when asked.  Every append then rewrites the row in its own transaction
(one UPDATE of one row under the ledger lock: no contention beyond what the
lock already serialises).
"""
from alembic import op
import sqlalchemy as sa

revision = "0008_ledger_head"
down_revision = "0007_user_session_version"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", SEQ, nullable=False),
        sa.Column("chain", sa.LargeBinary(length=32), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("ledger_head")
