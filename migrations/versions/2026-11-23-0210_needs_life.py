"""Households, needs, pairings, offers, events and idempotency keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 02:09:26.680232+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('idempotency_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('principal', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('content_type', sa.Text(), nullable=True),
    sa.Column('response_body', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('pending', 'committed', 'completed')", name=op.f('ck_idempotency_keys_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('principal', 'key', name=op.f('uq_idempotency_keys_principal_key'))
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_keys_expires_at'), ['expires_at'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entity', sa.String(length=8), nullable=False),
    sa.Column('entity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('need_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('county_code', sa.String(length=6), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("entity IN ('need', 'pairing', 'offer')", name=op.f('ck_events_entity')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_events_actor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_county_code'), ['county_code'], unique=False)
        batch_op.create_index('ix_events_entity_entity_id_id', ['entity', 'entity_id', 'id'], unique=False)
        batch_op.create_index('ix_events_need_id_id', ['need_id', 'id'], unique=False)

    op.create_table('households',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('village_code', sa.String(length=12), nullable=False),
    sa.Column('county_code', sa.String(length=6), nullable=False),
    sa.Column('head_name_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('head_name_masked', sa.String(length=40), nullable=False),
    sa.Column('id_number_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('id_number_index', sa.String(length=64), nullable=False),
    sa.Column('phone_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('support_category', sa.String(length=16), nullable=False),
    sa.Column('key_household', sa.Boolean(), nullable=False),
    sa.Column('main_helper', sa.String(length=100), nullable=True),
    sa.Column('liaison', sa.String(length=100), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("support_category IN ('poor', 'dibao', 'tekun', 'edge', 'other')", name=op.f('ck_households_support_category')),
    sa.CheckConstraint('size BETWEEN 1 AND 30', name=op.f('ck_households_size')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_households_created_by_id_users')),
    sa.ForeignKeyConstraint(['village_code'], ['regions.code'], name=op.f('fk_households_village_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_households')),
    sa.UniqueConstraint('id_number_index', name=op.f('uq_households_id_number_index'))
    )
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_households_county_code'), ['county_code'], unique=False)
        batch_op.create_index('ix_households_village_code_id', ['village_code', 'id'], unique=False)

    op.create_table('offers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('donor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('capacity_used', sa.Integer(), nullable=False),
    sa.Column('region_preference', sa.String(length=12), nullable=False),
    sa.Column('value_cap_fen', sa.BigInteger(), nullable=True),
    sa.Column('available_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("category IN ('goods', 'schooling', 'health', 'employment', 'service', 'skills')", name=op.f('ck_offers_category')),
    sa.CheckConstraint("status IN ('open', 'withdrawn', 'exhausted', 'expired')", name=op.f('ck_offers_status')),
    sa.CheckConstraint('capacity >= 1', name=op.f('ck_offers_capacity')),
    sa.CheckConstraint('capacity_used >= 0 AND capacity_used <= capacity', name=op.f('ck_offers_capacity_used')),
    sa.CheckConstraint('value_cap_fen IS NULL OR value_cap_fen >= 0', name=op.f('ck_offers_value_cap_fen')),
    sa.ForeignKeyConstraint(['donor_id'], ['users.id'], name=op.f('fk_offers_donor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offers'))
    )
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.create_index('ix_offers_donor_id_id', ['donor_id', 'id'], unique=False)
        batch_op.create_index('ix_offers_status_category_region_preference', ['status', 'category', 'region_preference'], unique=False)

    op.create_table('household_access_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('household_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_household_access_log_actor_id_users')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_household_access_log_household_id_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_access_log'))
    )
    with op.batch_alter_table('household_access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_access_log_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_household_access_log_household_id'), ['household_id'], unique=False)

    op.create_table('needs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('household_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('village_code', sa.String(length=12), nullable=False),
    sa.Column('county_code', sa.String(length=6), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('value_fen', sa.BigInteger(), nullable=False),
    sa.Column('urgency', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_reason', sa.String(length=500), nullable=True),
    sa.CheckConstraint("category IN ('goods', 'schooling', 'health', 'employment', 'service', 'skills')", name=op.f('ck_needs_category')),
    sa.CheckConstraint("origin IN ('admin', 'household')", name=op.f('ck_needs_origin')),
    sa.CheckConstraint('urgency BETWEEN 1 AND 3', name=op.f('ck_needs_urgency')),
    sa.CheckConstraint('value_fen >= 0', name=op.f('ck_needs_value_fen')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_needs_created_by_id_users')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_needs_household_id_households')),
    sa.ForeignKeyConstraint(['village_code'], ['regions.code'], name=op.f('fk_needs_village_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_needs'))
    )
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_needs_county_code'), ['county_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_needs_household_id'), ['household_id'], unique=False)
        batch_op.create_index('ix_needs_status_deadline_id', ['status', 'deadline', 'id'], unique=False)
        batch_op.create_index('ix_needs_status_created_at_id', ['status', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_needs_status_urgency_created_at_id', ['status', 'urgency', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_needs_village_code_status', ['village_code', 'status'], unique=False)
        batch_op.create_index('uq_needs_household_open_category', ['household_id', 'category'], unique=True, sqlite_where=sa.text("status IN ('pending_review', 'published', 'claimed', 'delivered')"), postgresql_where=sa.text("status IN ('pending_review', 'published', 'claimed', 'delivered')"))

    op.create_table('pairings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('need_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('donor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('offer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('predicted_success', sa.Float(), nullable=False),
    sa.Column('village_code', sa.String(length=12), nullable=False),
    sa.Column('county_code', sa.String(length=6), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivery_note', sa.Text(), nullable=True),
    sa.Column('thanks', sa.Text(), nullable=True),
    sa.CheckConstraint("source IN ('claim', 'match')", name=op.f('ck_pairings_source')),
    sa.CheckConstraint("status IN ('proposed', 'active', 'delivered', 'confirmed', 'released', 'expired', 'declined', 'cancelled', 'superseded')", name=op.f('ck_pairings_status')),
    sa.CheckConstraint('predicted_success >= 0 AND predicted_success <= 1', name=op.f('ck_pairings_predicted')),
    sa.ForeignKeyConstraint(['donor_id'], ['users.id'], name=op.f('fk_pairings_donor_id_users')),
    sa.ForeignKeyConstraint(['need_id'], ['needs.id'], name=op.f('fk_pairings_need_id_needs')),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_pairings_offer_id_offers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pairings'))
    )
    with op.batch_alter_table('pairings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pairings_county_code'), ['county_code'], unique=False)
        batch_op.create_index('ix_pairings_donor_id_status', ['donor_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_pairings_need_id'), ['need_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pairings_offer_id'), ['offer_id'], unique=False)
        batch_op.create_index('ix_pairings_status_expires_at', ['status', 'expires_at'], unique=False)
        batch_op.create_index('ix_pairings_village_code_id', ['village_code', 'id'], unique=False)
        batch_op.create_index('uq_pairings_need_holding', ['need_id'], unique=True, sqlite_where=sa.text("status IN ('active', 'delivered')"), postgresql_where=sa.text("status IN ('active', 'delivered')"))



def downgrade() -> None:
    with op.batch_alter_table('pairings', schema=None) as batch_op:
        batch_op.drop_index('uq_pairings_need_holding', sqlite_where=sa.text("status IN ('active', 'delivered')"), postgresql_where=sa.text("status IN ('active', 'delivered')"))
        batch_op.drop_index('ix_pairings_village_code_id')
        batch_op.drop_index('ix_pairings_status_expires_at')
        batch_op.drop_index(batch_op.f('ix_pairings_offer_id'))
        batch_op.drop_index(batch_op.f('ix_pairings_need_id'))
        batch_op.drop_index('ix_pairings_donor_id_status')
        batch_op.drop_index(batch_op.f('ix_pairings_county_code'))

    op.drop_table('pairings')
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.drop_index('uq_needs_household_open_category', sqlite_where=sa.text("status IN ('pending_review', 'published', 'claimed', 'delivered')"), postgresql_where=sa.text("status IN ('pending_review', 'published', 'claimed', 'delivered')"))
        batch_op.drop_index('ix_needs_village_code_status')
        batch_op.drop_index('ix_needs_status_urgency_created_at_id')
        batch_op.drop_index('ix_needs_status_created_at_id')
        batch_op.drop_index('ix_needs_status_deadline_id')
        batch_op.drop_index(batch_op.f('ix_needs_household_id'))
        batch_op.drop_index(batch_op.f('ix_needs_county_code'))

    op.drop_table('needs')
    with op.batch_alter_table('household_access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_access_log_household_id'))
        batch_op.drop_index(batch_op.f('ix_household_access_log_actor_id'))

    op.drop_table('household_access_log')
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_index('ix_offers_status_category_region_preference')
        batch_op.drop_index('ix_offers_donor_id_id')

    op.drop_table('offers')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index('ix_households_village_code_id')
        batch_op.drop_index(batch_op.f('ix_households_county_code'))

    op.drop_table('households')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_need_id_id')
        batch_op.drop_index('ix_events_entity_entity_id_id')
        batch_op.drop_index(batch_op.f('ix_events_county_code'))

    op.drop_table('events')
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_keys_expires_at'))

    op.drop_table('idempotency_keys')
