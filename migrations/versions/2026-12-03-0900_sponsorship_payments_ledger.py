"""Sponsorship payments go through the fund pool: each payment's status (scheduled, received, disbursed, cancelled) with its vouchers, and the ledger's sponsorship accounts.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
OLD_KINDS = "'pool', 'need', 'credits', 'clearing', 'offline', 'disbursed'"
NEW_KINDS = "'sponsorship', 'sponsor_income', 'sponsor_paid'"
STATUSES = "status IN ('scheduled', 'received', 'disbursed', 'cancelled')"
USERS = ('received_by_id', 'disbursed_by_id')


def upgrade() -> None:
    with op.batch_alter_table('sponsorship_payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('received_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('receipt_voucher_no', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('received_by_id', ID, nullable=True))
        batch_op.add_column(sa.Column('received_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('disbursed_on', sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column('disbursement_voucher_no', sa.String(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column('disbursed_by_id', ID, nullable=True))
        batch_op.add_column(sa.Column('disbursed_at', sa.DateTime(timezone=True), nullable=True))
    # Nothing was received before: a terminated pairing's payments are cancelled, the rest due.
    op.execute(
        "UPDATE sponsorship_payments SET status = CASE WHEN EXISTS ("
        "SELECT 1 FROM programme_pairings WHERE programme_pairings.id = "
        "sponsorship_payments.pairing_id AND programme_pairings.status = 'terminated') "
        "THEN 'cancelled' ELSE 'scheduled' END"
    )
    with op.batch_alter_table('sponsorship_payments', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=12), nullable=False)
        batch_op.create_check_constraint(op.f('ck_sponsorship_payments_status'), STATUSES)
        for column in USERS:
            batch_op.create_foreign_key(
                op.f(f'fk_sponsorship_payments_{column}_users'), 'users', [column], ['id']
            )
    with op.batch_alter_table('fund_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_fund_accounts_kind'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_fund_accounts_kind'), f'kind IN ({OLD_KINDS}, {NEW_KINDS})'
        )


def downgrade() -> None:
    # Below this revision the ledger holds no sponsorship money: its postings and accounts go.
    # They touch no other account, so every other balance and version stays as it was.
    sponsorship = f'SELECT id FROM fund_accounts WHERE kind IN ({NEW_KINDS})'
    op.execute(f'DELETE FROM fund_entries WHERE account_id IN ({sponsorship})')
    op.execute(
        'DELETE FROM fund_transactions WHERE NOT EXISTS (SELECT 1 FROM fund_entries '
        'WHERE fund_entries.transaction_id = fund_transactions.id)'
    )
    op.execute(f'DELETE FROM fund_accounts WHERE kind IN ({NEW_KINDS})')
    with op.batch_alter_table('fund_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_fund_accounts_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_fund_accounts_kind'), f'kind IN ({OLD_KINDS})')
    with op.batch_alter_table('sponsorship_payments', schema=None) as batch_op:
        for column in USERS:
            batch_op.drop_constraint(
                op.f(f'fk_sponsorship_payments_{column}_users'), type_='foreignkey'
            )
        batch_op.drop_constraint(op.f('ck_sponsorship_payments_status'), type_='check')
        for column in (
            'disbursed_at', 'disbursed_by_id', 'disbursement_voucher_no', 'disbursed_on',
            'received_at', 'received_by_id', 'receipt_voucher_no', 'received_on', 'status',
        ):  # fmt: skip
            batch_op.drop_column(column)
