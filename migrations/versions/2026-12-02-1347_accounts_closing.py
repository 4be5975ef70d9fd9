"""Accounts that can be closed: a token generation per user (a password change or disabling ends
every access token issued before), who did what to an account, and donors who sign in by mobile
number (the number encrypted, its keyed hash unique) with the codes texted to prove it.

Usernames are now stored in a canonical form (NFKC, case-folded, ASCII lookalikes folded); every
name the earlier rule allowed (lower-case ASCII letters, digits, '_', '.', '-') is already its
own canonical form, so no row changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 13:47:41.431667+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sms_codes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('phone_index', sa.String(length=64), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_codes'))
    )
    with op.batch_alter_table('sms_codes', schema=None) as batch_op:
        batch_op.create_index('ix_sms_codes_phone_index_id', ['phone_index', 'id'], unique=False)

    op.create_table('account_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("action IN ('disable', 'enable', 'password_change')", name=op.f('ck_account_events_action')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_account_events_actor_id_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_account_events_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_events'))
    )
    with op.batch_alter_table('account_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_events_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index('ix_account_events_user_id_id', ['user_id', 'id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_encrypted', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('phone_index', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('token_generation', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_users_phone_index'), ['phone_index'])


def downgrade() -> None:
    # Donors registered by phone keep their accounts and generated usernames, without the number.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_phone_index'), type_='unique')
        batch_op.drop_column('token_generation')
        batch_op.drop_column('phone_index')
        batch_op.drop_column('phone_encrypted')

    with op.batch_alter_table('account_events', schema=None) as batch_op:
        batch_op.drop_index('ix_account_events_user_id_id')
        batch_op.drop_index(batch_op.f('ix_account_events_actor_id'))

    op.drop_table('account_events')
    with op.batch_alter_table('sms_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_codes_phone_index_id')

    op.drop_table('sms_codes')
