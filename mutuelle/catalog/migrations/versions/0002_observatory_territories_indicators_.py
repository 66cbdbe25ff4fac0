"""observatory: territories, indicators, scenarios

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('territory',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('vintage', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('name_folded', sa.String(length=300), nullable=False),
    sa.Column('parent_code', sa.String(length=20), nullable=True),
    sa.Column('commune', sa.String(length=10), nullable=True),
    sa.Column('epci', sa.String(length=12), nullable=True),
    sa.Column('departement', sa.String(length=5), nullable=True),
    sa.Column('region', sa.String(length=5), nullable=True),
    sa.Column('population', sa.Float(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('vintage', 'level', 'code')
    )
    with op.batch_alter_table('territory', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_territory_code'), ['code'], unique=False)
        batch_op.create_index('ix_territory_level_vintage', ['level', 'vintage'], unique=False)
        batch_op.create_index(batch_op.f('ix_territory_name_folded'), ['name_folded'], unique=False)

    op.create_table('territory_overlap',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('vintage', sa.Integer(), nullable=False),
    sa.Column('qpv', sa.String(length=20), nullable=False),
    sa.Column('iris', sa.String(length=20), nullable=False),
    sa.Column('area_share', sa.Float(), nullable=False),
    sa.Column('population_share', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('vintage', 'qpv', 'iris')
    )
    with op.batch_alter_table('territory_overlap', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_territory_overlap_iris'), ['iris'], unique=False)
        batch_op.create_index(batch_op.f('ix_territory_overlap_qpv'), ['qpv'], unique=False)

    op.create_table('territory_passage',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('from_vintage', sa.Integer(), nullable=False),
    sa.Column('from_code', sa.String(length=20), nullable=False),
    sa.Column('to_vintage', sa.Integer(), nullable=False),
    sa.Column('to_code', sa.String(length=20), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('territory_passage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_territory_passage_from_code'), ['from_code'], unique=False)

    op.create_table('scenario',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('access', sa.String(length=20), nullable=False),
    sa.Column('organisation_id', sa.String(length=32), nullable=True),
    sa.Column('duplicated_from', sa.String(length=16), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('indicator',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('label', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('theme', sa.String(length=100), nullable=False),
    sa.Column('unit', sa.String(length=50), nullable=False),
    sa.Column('dataset_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('code_column', sa.String(length=300), nullable=False),
    sa.Column('code_level', sa.String(length=20), nullable=False),
    sa.Column('numerator', sa.Text(), nullable=False),
    sa.Column('denominator', sa.Text(), nullable=True),
    sa.Column('aggregation', sa.String(length=20), nullable=False),
    sa.Column('scale', sa.Float(), nullable=False),
    sa.Column('vintage', sa.Integer(), nullable=True),
    sa.Column('source_note', sa.Text(), nullable=False),
    sa.Column('secrecy_threshold', sa.Integer(), nullable=False),
    sa.Column('secrecy_on', sa.String(length=20), nullable=False),
    sa.Column('access', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], ),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('indicator')
    op.drop_table('scenario')
    with op.batch_alter_table('territory_passage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_territory_passage_from_code'))

    op.drop_table('territory_passage')
    with op.batch_alter_table('territory_overlap', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_territory_overlap_qpv'))
        batch_op.drop_index(batch_op.f('ix_territory_overlap_iris'))

    op.drop_table('territory_overlap')
    with op.batch_alter_table('territory', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_territory_name_folded'))
        batch_op.drop_index('ix_territory_level_vintage')
        batch_op.drop_index(batch_op.f('ix_territory_code'))

    op.drop_table('territory')
