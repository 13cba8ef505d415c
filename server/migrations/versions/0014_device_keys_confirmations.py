"""Both parties: device keys and handover confirmations.

Revision ID: 0014_device_keys_confirmations
Revises: 0013_scan_photos
Create Date: 2026-12-05

Adds ``devices.public_key`` and ``devices.key_registered_at`` (a device's Ed25519
public key, registered once by the device itself) and ``shipment_confirmations``
(the giver's and the receiver's signed confirmation of a shipment's digest, at
most one per party and shipment).  Follows 0013_scan_photos; 0012 is unused
(both were built side by side and the photos landed first).

Operational notes: two nullable columns on ``devices`` (a small table; instant on
both databases, no rewrite) and one new, empty table.  Downgrade drops the table
and the columns (and with them every recorded confirmation and registered key:
export the log first; the ledger keeps their chained content).
"""
from alembic import op
import sqlalchemy as sa

revision = '0014_device_keys_confirmations'
down_revision = '0013_scan_photos'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the device key columns and the confirmations table."""
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('key_registered_at', sa.DateTime(), nullable=True))
    op.create_table(
        'shipment_confirmations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('party', sa.String(length=16), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=True),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('covers_receipt', sa.Boolean(), nullable=False),
        sa.Column('signature', sa.String(length=128), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id']),
        sa.ForeignKeyConstraint(['location_id'], ['locations.id']),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id']),
        sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('shipment_id', 'party', name='uq_shipment_confirmations_party'),
    )


def downgrade() -> None:
    """Drop the confirmations table and the device key columns."""
    op.drop_table('shipment_confirmations')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('key_registered_at')
        batch_op.drop_column('public_key')
