"""deadline codes for imports; documents on announcements composed in Telegram

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('deadline', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_deadline_code'), ['code'])

    for table in ('announcement', 'announcement_draft'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('document_file_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
            batch_op.add_column(sa.Column('document_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('document_file_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('document_file_id')

    for table in ('announcement_draft', 'announcement'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('document_name')
            batch_op.drop_column('document_file_id')

    with op.batch_alter_table('deadline', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_deadline_code'), type_='unique')
        batch_op.drop_column('code')
