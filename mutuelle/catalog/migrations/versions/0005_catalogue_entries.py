"""catalogue entries: one flat row per dataset for listings, search and facets, and the
catalogue's revision

Revision ID: 0005
Revises: 0004

The entries of an existing catalogue are made by the first process that reads it
(``catalog.entries.build_all``, while ``built`` is false), with the same code that keeps
them up to date afterwards.
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('catalog_entry',
    sa.Column('dataset_id', sa.String(length=32), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('licence', sa.String(length=200), nullable=False),
    sa.Column('frequency', sa.String(length=20), nullable=False),
    sa.Column('access', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('organisation_id', sa.String(length=32), nullable=False),
    sa.Column('organisation_slug', sa.String(length=100), nullable=False),
    sa.Column('organisation_name', sa.String(length=300), nullable=False),
    sa.Column('themes', sa.JSON(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('territories', sa.JSON(), nullable=False),
    sa.Column('territory_names', sa.JSON(), nullable=False),
    sa.Column('formats', sa.JSON(), nullable=False),
    sa.Column('schema_name', sa.String(length=200), nullable=False),
    sa.Column('field_text', sa.Text(), nullable=False),
    sa.Column('records_count', sa.BigInteger(), nullable=False),
    sa.Column('version_number', sa.Integer(), nullable=True),
    sa.Column('has_geo', sa.Boolean(), nullable=False),
    sa.Column('modified', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('popularity', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('dataset_id')
    )
    with op.batch_alter_table('catalog_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_entry_revision'), ['revision'], unique=False)

    state = op.create_table('catalog_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('epoch', sa.String(length=32), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.Column('built', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # A new epoch: readers holding an older copy of the catalogue (another database that had
    # the same URL) start again from nothing.
    op.bulk_insert(state, [{"id": 1, "epoch": uuid.uuid4().hex, "revision": 0, "built": False}])


def downgrade() -> None:
    op.drop_table('catalog_state')
    with op.batch_alter_table('catalog_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_entry_revision'))
    op.drop_table('catalog_entry')
