"""The fund pool (基金库): the double-entry ledger, donations and payments, crowdfunding, allocations and disclosures.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 16:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('payment_notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('notification_id', sa.String(length=64), nullable=True),
    sa.Column('out_trade_no', sa.String(length=32), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.String(length=300), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("outcome IN ('accepted', 'duplicate', 'late', 'failed_trade', 'forged', 'stale', 'undecryptable', 'unknown_order', 'wrong_amount')", name=op.f('ck_payment_notifications_outcome')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_notifications'))
    )
    with op.batch_alter_table('payment_notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_notifications_out_trade_no'), ['out_trade_no'], unique=False)
        batch_op.create_index('ix_payment_notifications_received_at', ['received_at'], unique=False)

    op.create_table('receipt_counters',
    sa.Column('county_code', sa.String(length=6), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_no', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('county_code', 'year', name=op.f('pk_receipt_counters'))
    )
    op.create_table('allocations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('county_code', sa.String(length=6), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('pool_fen', sa.BigInteger(), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('objective', sa.Float(), nullable=False),
    sa.Column('candidates', sa.Integer(), nullable=False),
    sa.Column('weights', sa.JSON(), nullable=False),
    sa.Column('solver_seconds', sa.Float(), nullable=False),
    sa.Column('proposed_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('decided_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('executed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('proposed', 'approved', 'rejected', 'executed')", name=op.f('ck_allocations_status')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_allocations_decided_by_id_users')),
    sa.ForeignKeyConstraint(['proposed_by_id'], ['users.id'], name=op.f('fk_allocations_proposed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_allocations'))
    )
    with op.batch_alter_table('allocations', schema=None) as batch_op:
        batch_op.create_index('ix_allocations_county_code_id', ['county_code', 'id'], unique=False)

    op.create_table('allocation_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('allocation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('need_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('priority', sa.Float(), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_allocation_items_amount_fen')),
    sa.ForeignKeyConstraint(['allocation_id'], ['allocations.id'], name=op.f('fk_allocation_items_allocation_id_allocations')),
    sa.ForeignKeyConstraint(['need_id'], ['needs.id'], name=op.f('fk_allocation_items_need_id_needs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_allocation_items')),
    sa.UniqueConstraint('allocation_id', 'need_id', name=op.f('uq_allocation_items_allocation_id_need_id'))
    )
    with op.batch_alter_table('allocation_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_allocation_items_need_id'), ['need_id'], unique=False)

    op.create_table('donations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('donor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('donor_name', sa.String(length=60), nullable=True),
    sa.Column('county_code', sa.String(length=6), nullable=False),
    sa.Column('need_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('to_need_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('out_trade_no', sa.String(length=32), nullable=True),
    sa.Column('code_url', sa.String(length=256), nullable=True),
    sa.Column('provider_transaction_id', sa.String(length=32), nullable=True),
    sa.Column('voucher_no', sa.String(length=64), nullable=True),
    sa.Column('received_on', sa.Date(), nullable=True),
    sa.Column('recorded_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('receipt_year', sa.Integer(), nullable=True),
    sa.Column('receipt_no', sa.Integer(), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("channel IN ('wechat_pay', 'offline', 'credits')", name=op.f('ck_donations_channel')),
    sa.CheckConstraint("status IN ('pending', 'paid', 'failed', 'closed', 'reversed')", name=op.f('ck_donations_status')),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_donations_amount_fen')),
    sa.ForeignKeyConstraint(['donor_id'], ['users.id'], name=op.f('fk_donations_donor_id_users')),
    sa.ForeignKeyConstraint(['need_id'], ['needs.id'], name=op.f('fk_donations_need_id_needs')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_donations_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_donations')),
    sa.UniqueConstraint('county_code', 'channel', 'voucher_no', name=op.f('uq_donations_county_code_channel_voucher_no')),
    sa.UniqueConstraint('county_code', 'receipt_year', 'receipt_no', name=op.f('uq_donations_county_code_receipt_year_receipt_no')),
    sa.UniqueConstraint('out_trade_no', name=op.f('uq_donations_out_trade_no')),
    sa.UniqueConstraint('provider_transaction_id', name=op.f('uq_donations_provider_transaction_id'))
    )
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.create_index('ix_donations_county_code_status', ['county_code', 'status'], unique=False)
        batch_op.create_index('ix_donations_donor_id_id', ['donor_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_donations_need_id'), ['need_id'], unique=False)

    op.create_table('fund_accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('county_code', sa.String(length=6), nullable=True),
    sa.Column('need_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('donor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('protected', sa.Boolean(), nullable=False),
    sa.Column('ceiling_fen', sa.BigInteger(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('balance_fen', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('pool', 'need', 'credits', 'clearing', 'offline', 'disbursed')", name=op.f('ck_fund_accounts_kind')),
    sa.CheckConstraint('NOT protected OR balance_fen >= 0', name=op.f('ck_fund_accounts_not_negative')),
    sa.CheckConstraint('ceiling_fen IS NULL OR balance_fen <= ceiling_fen', name=op.f('ck_fund_accounts_ceiling')),
    sa.ForeignKeyConstraint(['donor_id'], ['users.id'], name=op.f('fk_fund_accounts_donor_id_users')),
    sa.ForeignKeyConstraint(['need_id'], ['needs.id'], name=op.f('fk_fund_accounts_need_id_needs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_accounts')),
    sa.UniqueConstraint('key', name=op.f('uq_fund_accounts_key'))
    )
    with op.batch_alter_table('fund_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fund_accounts_donor_id'), ['donor_id'], unique=False)
        batch_op.create_index('ix_fund_accounts_kind_county_code', ['kind', 'county_code'], unique=False)
        batch_op.create_index('ix_fund_accounts_kind_expires_at', ['kind', 'expires_at'], unique=False)

    op.create_table('need_fundings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('need_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('county_code', sa.String(length=6), nullable=False),
    sa.Column('village_code', sa.String(length=12), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('target_fen', sa.BigInteger(), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('opened_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('allocation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('funded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('purchased_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('purchase_voucher', sa.String(length=64), nullable=True),
    sa.Column('purchase_photo_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('purchase_note', sa.String(length=500), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('crowdfunding', 'allocation')", name=op.f('ck_need_fundings_source')),
    sa.CheckConstraint("status IN ('open', 'funded', 'purchased', 'completed', 'expired')", name=op.f('ck_need_fundings_status')),
    sa.CheckConstraint('target_fen > 0', name=op.f('ck_need_fundings_target_fen')),
    sa.ForeignKeyConstraint(['account_id'], ['fund_accounts.id'], name=op.f('fk_need_fundings_account_id_fund_accounts')),
    sa.ForeignKeyConstraint(['allocation_id'], ['allocations.id'], name=op.f('fk_need_fundings_allocation_id_allocations')),
    sa.ForeignKeyConstraint(['need_id'], ['needs.id'], name=op.f('fk_need_fundings_need_id_needs')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'], name=op.f('fk_need_fundings_opened_by_id_users')),
    sa.ForeignKeyConstraint(['purchase_photo_id'], ['photos.id'], name=op.f('fk_need_fundings_purchase_photo_id_photos')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_need_fundings')),
    sa.UniqueConstraint('need_id', name=op.f('uq_need_fundings_need_id'))
    )
    with op.batch_alter_table('need_fundings', schema=None) as batch_op:
        batch_op.create_index('ix_need_fundings_county_code_status', ['county_code', 'status'], unique=False)
        batch_op.create_index('ix_need_fundings_status_deadline', ['status', 'deadline'], unique=False)

    op.create_table('fund_transactions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('business_key', sa.String(length=96), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('county_code', sa.String(length=6), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('donation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('funding_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('allocation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reverses_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('memo', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('income', 'allocation', 'disbursement', 'credit', 'credit_gift', 'credit_expiry', 'reversal')", name=op.f('ck_fund_transactions_kind')),
    sa.ForeignKeyConstraint(['allocation_id'], ['allocations.id'], name=op.f('fk_fund_transactions_allocation_id_allocations')),
    sa.ForeignKeyConstraint(['donation_id'], ['donations.id'], name=op.f('fk_fund_transactions_donation_id_donations')),
    sa.ForeignKeyConstraint(['funding_id'], ['need_fundings.id'], name=op.f('fk_fund_transactions_funding_id_need_fundings')),
    sa.ForeignKeyConstraint(['reverses_id'], ['fund_transactions.id'], name=op.f('fk_fund_transactions_reverses_id_fund_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_transactions')),
    sa.UniqueConstraint('business_key', name=op.f('uq_fund_transactions_business_key')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_fund_transactions_reverses_id'))
    )
    with op.batch_alter_table('fund_transactions', schema=None) as batch_op:
        batch_op.create_index('ix_fund_transactions_county_code_created_at', ['county_code', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_fund_transactions_donation_id'), ['donation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fund_transactions_funding_id'), ['funding_id'], unique=False)

    op.create_table('fund_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('transaction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('balance_after_fen', sa.BigInteger(), nullable=False),
    sa.Column('account_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_fen <> 0', name=op.f('ck_fund_entries_amount_fen')),
    sa.ForeignKeyConstraint(['account_id'], ['fund_accounts.id'], name=op.f('fk_fund_entries_account_id_fund_accounts')),
    sa.ForeignKeyConstraint(['transaction_id'], ['fund_transactions.id'], name=op.f('fk_fund_entries_transaction_id_fund_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_entries')),
    sa.UniqueConstraint('account_id', 'account_version', name=op.f('uq_fund_entries_account_id_account_version'))
    )
    with op.batch_alter_table('fund_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fund_entries_transaction_id'), ['transaction_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('fund_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fund_entries_transaction_id'))

    op.drop_table('fund_entries')
    with op.batch_alter_table('fund_transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fund_transactions_funding_id'))
        batch_op.drop_index(batch_op.f('ix_fund_transactions_donation_id'))
        batch_op.drop_index('ix_fund_transactions_county_code_created_at')

    op.drop_table('fund_transactions')
    with op.batch_alter_table('need_fundings', schema=None) as batch_op:
        batch_op.drop_index('ix_need_fundings_status_deadline')
        batch_op.drop_index('ix_need_fundings_county_code_status')

    op.drop_table('need_fundings')
    with op.batch_alter_table('fund_accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_fund_accounts_kind_expires_at')
        batch_op.drop_index('ix_fund_accounts_kind_county_code')
        batch_op.drop_index(batch_op.f('ix_fund_accounts_donor_id'))

    op.drop_table('fund_accounts')
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_donations_need_id'))
        batch_op.drop_index('ix_donations_donor_id_id')
        batch_op.drop_index('ix_donations_county_code_status')

    op.drop_table('donations')
    with op.batch_alter_table('allocation_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_allocation_items_need_id'))

    op.drop_table('allocation_items')
    with op.batch_alter_table('allocations', schema=None) as batch_op:
        batch_op.drop_index('ix_allocations_county_code_id')

    op.drop_table('allocations')
    op.drop_table('receipt_counters')
    with op.batch_alter_table('payment_notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_notifications_received_at')
        batch_op.drop_index(batch_op.f('ix_payment_notifications_out_trade_no'))

    op.drop_table('payment_notifications')
