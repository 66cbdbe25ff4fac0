"""charts and dashboards: saved charts of a dataset, dashboards of blocks

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chart',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('dataset_id', sa.String(length=32), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('access', sa.String(length=20), nullable=False),
    sa.Column('organisation_id', sa.String(length=32), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('chart', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chart_dataset_id'), ['dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chart_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('dashboard',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('access', sa.String(length=20), nullable=False),
    sa.Column('organisation_id', sa.String(length=32), nullable=False),
    sa.Column('blocks', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dashboard', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dashboard_organisation_id'), ['organisation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dashboard', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dashboard_organisation_id'))
    op.drop_table('dashboard')
    with op.batch_alter_table('chart', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chart_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_chart_dataset_id'))
    op.drop_table('chart')
