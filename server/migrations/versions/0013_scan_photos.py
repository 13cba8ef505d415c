"""Photo evidence: the photos attached to scans.

Revision ID: 0013_scan_photos
Revises: 0011_shipments
Create Date: 2026-12-05

Adds ``scan_photos``: one row per photo attached to a scan (its SHA-256, the
media type sniffed from its bytes, size, pixel size, who sent it and when).
The bytes themselves live in the photo store on disk (``PHOTO_DIR``), named
by their SHA-256; each row is chained in the ledger as a ``scan_photo`` record.

Operational notes: one new, empty table; nothing existing is rewritten, so the
upgrade is instant on both databases.  Downgrade drops the table (the files in
``PHOTO_DIR`` stay, and the ledger keeps the chained records: ``verify-log``
then reports them as deleted).
"""
from alembic import op
import sqlalchemy as sa

revision = '0013_scan_photos'
down_revision = '0011_shipments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the scan_photos table."""
    op.create_table(
        'scan_photos',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scan_id', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('media_type', sa.String(length=16), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('uploaded_by', sa.String(length=100), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=True),
        sa.Column('device_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id']),
        sa.ForeignKeyConstraint(['scan_id'], ['scan_events.id']),
        sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('scan_id', 'sha256', name='uq_scan_photos_scan_sha256'),
    )
    with op.batch_alter_table('scan_photos', schema=None) as batch_op:
        batch_op.create_index('ix_scan_photos_sha256', ['sha256'], unique=False)


def downgrade() -> None:
    """Drop the scan_photos table (the photo files stay on disk)."""
    op.drop_table('scan_photos')
