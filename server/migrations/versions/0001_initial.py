"""Initial schema: regions, item catalogue, plan, scan log, anomalies, access.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-28

Operational notes: creates every table on an empty database and seeds the item
type catalogue.  ``locations.path`` uses the "C" collation on PostgreSQL so that
the region range scan (path >= '/35/3513/' AND path < '/35/3513/~') orders
bytewise whatever the database's default collation is.
"""
from alembic import op
import sqlalchemy as sa

# Frozen copy of the catalogue at this revision (migrations never import live models).
ITEM_TYPES = [
    ('SS-PPWP', 'Surat suara Presiden dan Wakil Presiden', 'Presidential ballot papers', False),
    ('SS-DPR', 'Surat suara DPR', 'DPR ballot papers', True),
    ('SS-DPD', 'Surat suara DPD', 'DPD ballot papers', False),
    ('SS-DPRDP', 'Surat suara DPRD Provinsi', 'Provincial DPRD ballot papers', True),
    ('SS-DPRDK', 'Surat suara DPRD Kabupaten/Kota', 'Regency/city DPRD ballot papers', True),
    ('KOTAK', 'Kotak suara', 'Ballot box', False),
    ('BILIK', 'Bilik suara', 'Voting booth', False),
    ('TINTA', 'Tinta', 'Ink', False),
    ('SEGEL', 'Segel', 'Seals', False),
    ('FORMULIR', 'Formulir', 'Forms', False),
    ('SAMPUL', 'Sampul', 'Envelopes', False),
    ('DPT', 'Daftar pemilih tetap', 'Voter list', False),
    ('LAINNYA', 'Perlengkapan lainnya', 'Other equipment', False),
]

PATH_TYPE = sa.String(length=300).with_variant(sa.String(length=300, collation="C"), "postgresql")


revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('item_types',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name_id', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=False),
    sa.Column('has_dapil', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('label_keys',
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('public_key_pem', sa.Text(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key_id')
    )
    op.create_table('locations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('path', PATH_TYPE, nullable=False),
    sa.Column('dapil', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['locations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.create_index('ix_locations_level_path', ['level', 'path'], unique=False)
        batch_op.create_index('ix_locations_parent', ['parent_id'], unique=False)
        batch_op.create_index('ix_locations_path', ['path'], unique=False)

    op.create_table('deadlines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('deadline', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['locations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('region_id', 'level', name='uq_deadlines_region_level')
    )
    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('packages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('package_id', sa.String(length=40), nullable=False),
    sa.Column('item_type', sa.String(length=16), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('destination_id', sa.Integer(), nullable=False),
    sa.Column('dapil', sa.String(length=32), nullable=False),
    sa.Column('label_version', sa.Integer(), nullable=False),
    sa.Column('container_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['container_id'], ['packages.id'], ),
    sa.ForeignKeyConstraint(['destination_id'], ['locations.id'], ),
    sa.ForeignKeyConstraint(['item_type'], ['item_types.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('package_id')
    )
    with op.batch_alter_table('packages', schema=None) as batch_op:
        batch_op.create_index('ix_packages_container', ['container_id'], unique=False)
        batch_op.create_index('ix_packages_destination', ['destination_id', 'item_type'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['locations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('anomalies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('dedup_key', sa.String(length=200), nullable=False),
    sa.Column('package_id', sa.Integer(), nullable=True),
    sa.Column('claimed_package', sa.String(length=80), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('detected_at', sa.DateTime(), nullable=False),
    sa.Column('evidence_json', sa.Text(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=100), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_by', sa.String(length=100), nullable=False),
    sa.Column('resolution_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], ),
    sa.ForeignKeyConstraint(['package_id'], ['packages.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedup_key', name='uq_anomalies_dedup_key')
    )
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        batch_op.create_index('ix_anomalies_detected', ['detected_at'], unique=False)
        batch_op.create_index('ix_anomalies_kind_status', ['kind', 'status'], unique=False)
        batch_op.create_index('ix_anomalies_location', ['location_id', 'status'], unique=False)
        batch_op.create_index('ix_anomalies_package', ['package_id'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ),
    sa.ForeignKeyConstraint(['region_id'], ['locations.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('scan_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('package_id', sa.Integer(), nullable=True),
    sa.Column('claimed_package', sa.String(length=80), nullable=False),
    sa.Column('label_version', sa.Integer(), nullable=True),
    sa.Column('raw_code', sa.Text(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('disposition', sa.String(length=16), nullable=False),
    sa.Column('container_id', sa.Integer(), nullable=True),
    sa.Column('container_raw', sa.Text(), nullable=False),
    sa.Column('seal', sa.String(length=64), nullable=False),
    sa.Column('operator', sa.String(length=100), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('token_id', sa.Integer(), nullable=True),
    sa.Column('scanned_at', sa.DateTime(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('offline', sa.Boolean(), nullable=False),
    sa.Column('counted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['container_id'], ['packages.id'], ),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], ),
    sa.ForeignKeyConstraint(['package_id'], ['packages.id'], ),
    sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.create_index('ix_scan_events_container_time', ['container_id', 'scanned_at'], unique=False)
        batch_op.create_index('ix_scan_events_device', ['device_id', 'scanned_at'], unique=False)
        batch_op.create_index('ix_scan_events_location_time', ['location_id', 'scanned_at'], unique=False)
        batch_op.create_index('ix_scan_events_package_time', ['package_id', 'scanned_at'], unique=False)
        batch_op.create_index('ix_scan_events_received', ['received_at'], unique=False)
    item_types = sa.table("item_types", sa.column("code"), sa.column("name_id"),
                          sa.column("name_en"), sa.column("has_dapil"))
    op.bulk_insert(item_types, [dict(code=c, name_id=i, name_en=e, has_dapil=d)
                                for c, i, e, d in ITEM_TYPES])


def downgrade() -> None:
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.drop_index('ix_scan_events_received')
        batch_op.drop_index('ix_scan_events_package_time')
        batch_op.drop_index('ix_scan_events_location_time')
        batch_op.drop_index('ix_scan_events_device')
        batch_op.drop_index('ix_scan_events_container_time')

    op.drop_table('scan_events')
    op.drop_table('api_tokens')
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        batch_op.drop_index('ix_anomalies_package')
        batch_op.drop_index('ix_anomalies_location')
        batch_op.drop_index('ix_anomalies_kind_status')
        batch_op.drop_index('ix_anomalies_detected')

    op.drop_table('anomalies')
    op.drop_table('users')
    with op.batch_alter_table('packages', schema=None) as batch_op:
        batch_op.drop_index('ix_packages_destination')
        batch_op.drop_index('ix_packages_container')

    op.drop_table('packages')
    op.drop_table('devices')
    op.drop_table('deadlines')
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.drop_index('ix_locations_path')
        batch_op.drop_index('ix_locations_parent')
        batch_op.drop_index('ix_locations_level_path')

    op.drop_table('locations')
    op.drop_table('label_keys')
    op.drop_table('item_types')
