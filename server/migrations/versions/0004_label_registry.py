"""Label registry: the verification code (and signature) of every label the server knows of.

Revision ID: 0004_label_registry
Revises: 0003_ledger
Create Date: 2026-11-28

Operational notes: creates the empty ``label_registry`` table; no existing
table is touched, so it is safe on a live database.  It fills from
``print-labels`` / ``reprint``, from ``import-labels FILE`` (the
``jejak-labels render --format codes`` output of labels printed elsewhere) and
from every genuine label scanned.  Until a package has a registered label its
hand-typed codes are recorded unchecked (the scan answer says so): after the
upgrade, import the codes files of labels already printed.  About 200 bytes a
label (the 103-character signature, the code, the unique (package, code)
index); ~300 MB for a province's 1.5 million packages.  Downgrade drops the
table: typed codes are then unchecked again.
"""
from alembic import op
import sqlalchemy as sa

revision = '0004_label_registry'
down_revision = '0003_ledger'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'label_registry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('package_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('verification_code', sa.String(length=9), nullable=False),
        sa.Column('key_id', sa.String(length=16), nullable=False),
        sa.Column('signature', sa.String(length=128), nullable=False),
        sa.Column('source', sa.String(length=8), nullable=False),
        sa.Column('registered_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['package_id'], ['packages.id'],
                                name='fk_label_registry_package_id_packages'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('package_id', 'verification_code',
                            name='uq_label_registry_package_code'),
    )


def downgrade() -> None:
    op.drop_table('label_registry')
