"""Matching runs, and the pairings they propose.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 02:39:43.836352+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('matching_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scope_code', sa.String(length=12), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('needs_considered', sa.Integer(), nullable=False),
    sa.Column('offers_considered', sa.Integer(), nullable=False),
    sa.Column('offer_units', sa.Integer(), nullable=False),
    sa.Column('pairs_proposed', sa.Integer(), nullable=False),
    sa.Column('objective', sa.Float(), nullable=False),
    sa.Column('expected_successes', sa.Float(), nullable=False),
    sa.Column('blocks', sa.JSON(), nullable=False),
    sa.Column('load_seconds', sa.Float(), nullable=False),
    sa.Column('solve_seconds', sa.Float(), nullable=False),
    sa.Column('write_seconds', sa.Float(), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('completed', 'failed')", name=op.f('ck_matching_runs_status')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_matching_runs_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_matching_runs'))
    )
    with op.batch_alter_table('matching_runs', schema=None) as batch_op:
        batch_op.create_index('ix_matching_runs_scope_code_id', ['scope_code', 'id'], unique=False)

    with op.batch_alter_table('pairings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('score', sa.Float(), nullable=True))
        batch_op.drop_index(batch_op.f('ix_pairings_offer_id'))
        batch_op.create_index('ix_pairings_offer_id_status', ['offer_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_pairings_run_id'), ['run_id'], unique=False)
        batch_op.create_index('uq_pairings_need_proposed', ['need_id'], unique=True, sqlite_where=sa.text("status = 'proposed'"), postgresql_where=sa.text("status = 'proposed'"))
        batch_op.create_foreign_key(batch_op.f('fk_pairings_run_id_matching_runs'), 'matching_runs', ['run_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('pairings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_pairings_run_id_matching_runs'), type_='foreignkey')
        batch_op.drop_index('uq_pairings_need_proposed', sqlite_where=sa.text("status = 'proposed'"), postgresql_where=sa.text("status = 'proposed'"))
        batch_op.drop_index(batch_op.f('ix_pairings_run_id'))
        batch_op.drop_index('ix_pairings_offer_id_status')
        batch_op.create_index(batch_op.f('ix_pairings_offer_id'), ['offer_id'], unique=False)
        batch_op.drop_column('score')
        batch_op.drop_column('run_id')

    with op.batch_alter_table('matching_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_matching_runs_scope_code_id')

    op.drop_table('matching_runs')
