"""Statistics: when a pairing began to hold its need, donors' roll-of-honour consent, the
learned success model, and the index of publish cohorts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:06:50.465645+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('success_segments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('band', sa.Integer(), nullable=False),
    sa.Column('successes', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('rate', sa.Float(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('band >= 0 AND band <= 5', name=op.f('ck_success_segments_band')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_success_segments')),
    sa.UniqueConstraint('category', 'band', name=op.f('uq_success_segments_category_band'))
    )
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.create_index('ix_needs_county_code_published_at', ['county_code', 'published_at'], unique=False)

    with op.batch_alter_table('pairings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active_at', sa.DateTime(timezone=True), nullable=True))
    # Claims held their need from the start; accepted proposals from their "active" event.
    op.execute("UPDATE pairings SET active_at = created_at WHERE source = 'claim'")
    op.execute(
        "UPDATE pairings SET active_at = (SELECT min(events.at) FROM events"
        " WHERE events.entity = 'pairing' AND events.entity_id = pairings.id"
        " AND events.to_status = 'active') WHERE source = 'match'"
    )

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('honour_roll', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('honour_roll')

    with op.batch_alter_table('pairings', schema=None) as batch_op:
        batch_op.drop_column('active_at')

    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.drop_index('ix_needs_county_code_published_at')

    op.drop_table('success_segments')
