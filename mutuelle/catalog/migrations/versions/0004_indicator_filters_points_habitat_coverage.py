"""indicators defined by users: filters, point aggregation, habitat IRIS only, coverage threshold

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Server defaults fill the rows already there; the model gives the values of new rows.
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.add_column(sa.Column('filters', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('points', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('habitat_only', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('min_coverage', sa.Integer(), nullable=True))
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.alter_column('filters', server_default=None)
        batch_op.alter_column('habitat_only', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.drop_column('min_coverage')
        batch_op.drop_column('habitat_only')
        batch_op.drop_column('points')
        batch_op.drop_column('filters')
