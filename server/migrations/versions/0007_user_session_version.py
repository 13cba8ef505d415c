"""Users: a session version, so logout, a new password and deactivation end every session.

Revision ID: 0007_user_session_version
Revises: 0006_anomaly_region_paths
Create Date: 2026-12-02

Operational notes: adds ``users.session_version`` (an integer, 0 for existing
users).  The dashboard's session cookie carries the version it was issued
under and is refused once the user's version has moved on: logging out, a new
password (``jejak-server set-password``) and deactivation
(``jejak-server deactivate-user``) bump it.  Cookies issued before this
revision carry no version and are refused once: every user logs in again.
Instant on both databases (a column with a constant default).
"""
from alembic import op
import sqlalchemy as sa

revision = "0007_user_session_version"
down_revision = "0006_anomaly_region_paths"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
