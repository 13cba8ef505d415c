"""The surat jalan: shipments, their receipts and the koli on each list.

Revision ID: 0011_shipments
Revises: 0010_anomaly_facts
Create Date: 2026-12-05

Adds ``shipments`` (a dispatch as one shipment: client uuid, the number the
server gives it, from and to), ``shipment_receipts`` (the receiver's check of
one shipment, at most one per shipment) and ``shipment_koli`` (the koli on a
shipment's list, ``receipt_id`` null, or on its receipt's).

Operational notes: three new, empty tables; nothing existing is rewritten, so
the upgrade is instant on both databases.  Downgrade drops them (and with them
every recorded shipment: export first); the anomalies ``short_shipment`` and
``not_in_shipment`` they raised stay in ``anomalies``.
"""
from alembic import op
import sqlalchemy as sa

revision = '0011_shipments'
down_revision = '0010_anomaly_facts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the shipment tables."""
    op.create_table(
        'shipments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('number', sa.String(length=32), nullable=True),
        sa.Column('origin_id', sa.Integer(), nullable=False),
        sa.Column('destination_id', sa.Integer(), nullable=False),
        sa.Column('operator', sa.String(length=100), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=True),
        sa.Column('token_id', sa.Integer(), nullable=True),
        sa.Column('closed_at', sa.DateTime(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['destination_id'], ['locations.id']),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id']),
        sa.ForeignKeyConstraint(['origin_id'], ['locations.id']),
        sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('number'),
        sa.UniqueConstraint('uuid'),
    )
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.create_index('ix_shipments_destination', ['destination_id', 'closed_at'],
                              unique=False)
        batch_op.create_index('ix_shipments_origin', ['origin_id', 'closed_at'], unique=False)
    op.create_table(
        'shipment_receipts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('operator', sa.String(length=100), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=True),
        sa.Column('token_id', sa.Integer(), nullable=True),
        sa.Column('closed_at', sa.DateTime(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id']),
        sa.ForeignKeyConstraint(['location_id'], ['locations.id']),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id']),
        sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('shipment_id'),
        sa.UniqueConstraint('uuid'),
    )
    op.create_table(
        'shipment_koli',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('receipt_id', sa.Integer(), nullable=True),
        sa.Column('package_id', sa.Integer(), nullable=True),
        sa.Column('claimed_package', sa.String(length=80), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['package_id'], ['packages.id']),
        sa.ForeignKeyConstraint(['receipt_id'], ['shipment_receipts.id']),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('shipment_koli', schema=None) as batch_op:
        batch_op.create_index('ix_shipment_koli_package', ['package_id'], unique=False)
        batch_op.create_index('ix_shipment_koli_shipment', ['shipment_id', 'receipt_id'],
                              unique=False)


def downgrade() -> None:
    """Drop the shipment tables (every recorded shipment with them)."""
    op.drop_table('shipment_koli')
    op.drop_table('shipment_receipts')
    op.drop_table('shipments')
