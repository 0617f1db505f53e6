"""subscriptions: sections a person follows, kinds of news, event reminder leads; drafts

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.base


revision: str = '0006'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLAGS = (
    'remind_day_before',
    'remind_hour_before',
    'news_events',
    'news_trainings',
    'news_dues',
    'news_deadlines',
    'news_general',
)


def upgrade() -> None:
    op.create_table('section_subscription',
    sa.Column('telegram_id', sa.BigInteger(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_section_subscription_section_id_section')),
    sa.ForeignKeyConstraint(['telegram_id'], ['tg_user.id'], name=op.f('fk_section_subscription_telegram_id_tg_user')),
    sa.PrimaryKeyConstraint('telegram_id', 'section_id', name=op.f('pk_section_subscription'))
    )
    with op.batch_alter_table('section_subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_section_subscription_section_id'), ['section_id'], unique=False)

    with op.batch_alter_table('tg_user', schema=None) as batch_op:
        for name in FLAGS:
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.true()))

    op.create_table('announcement_draft',
    sa.Column('author', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('link_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('audience', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('send_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('author', name=op.f('pk_announcement_draft'))
    )
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.drop_column('link_url')

    op.drop_table('announcement_draft')
    with op.batch_alter_table('tg_user', schema=None) as batch_op:
        for name in reversed(FLAGS):
            batch_op.drop_column(name)

    with op.batch_alter_table('section_subscription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_section_subscription_section_id'))

    op.drop_table('section_subscription')
