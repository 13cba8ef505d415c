"""Anomalies: the facts of each one as JSON, so its detail can be read in any language and zone.

Revision ID: 0010_anomaly_facts
Revises: 0009_counts_and_returns
Create Date: 2026-12-02

Operational notes: adds ``anomalies.facts_json`` (text, not null, default ``''``).
The rules and ingest write the facts of every anomaly they raise or update
(``server.reconcile.details``); pages, exports, the BAST and the API put them in
the reader's language and time zone.  Rows stored before this revision keep an
empty value and are shown with their stored English ``detail``, as before; the
next scan of their package re-judges it and fills the facts of its derived
anomalies.  Adding a column with a constant default is a catalogue change on
PostgreSQL 11+ and SQLite (no table rewrite, no long lock).  Downgrade drops the
column.
"""
from alembic import op
import sqlalchemy as sa

revision = '0010_anomaly_facts'
down_revision = '0009_counts_and_returns'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add anomalies.facts_json."""
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('facts_json', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    """Drop anomalies.facts_json."""
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        batch_op.drop_column('facts_json')
