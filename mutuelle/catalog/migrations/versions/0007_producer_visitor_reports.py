"""a dataset's producer (who made the data, beside the organisation publishing them), in the
catalogue entries too; threads started by visitors without an account (problem reports) and
the address they leave to be answered

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Server defaults fill the rows already there, and stay: on SQLite, dropping them would
    # rebuild the tables, and rebuilding ``dataset`` under its versions' foreign keys is what
    # a plain ADD COLUMN spares us. The model gives the values of new rows all the same.
    for table in ('dataset', 'catalog_entry'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('producer', sa.String(length=300), nullable=False,
                                          server_default=''))
    with op.batch_alter_table('thread', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visitor', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('contact', sa.String(length=320), nullable=False,
                                      server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('thread', schema=None) as batch_op:
        batch_op.drop_column('contact')
        batch_op.drop_column('visitor')
    for table in ('catalog_entry', 'dataset'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('producer')
