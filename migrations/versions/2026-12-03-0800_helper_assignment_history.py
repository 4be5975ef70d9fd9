"""A household's helpers and liaisons keep their history: helper_assignments.ended_at, one current row per role.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 08:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT = sa.text('ended_at IS NULL')


def upgrade() -> None:
    # Every existing row is the current holder of its role: ended_at stays null.
    with op.batch_alter_table('helper_assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint('uq_helper_assignments_household_role', type_='unique')
        batch_op.create_check_constraint(
            op.f('ck_helper_assignments_period'), 'ended_at IS NULL OR ended_at >= assigned_at'
        )
        batch_op.create_index(
            'uq_helper_assignments_household_role_current', ['household_id', 'role'],
            unique=True, sqlite_where=CURRENT, postgresql_where=CURRENT,
        )  # fmt: skip
        batch_op.create_index(
            'ix_helper_assignments_household_id_role_assigned_at',
            ['household_id', 'role', 'assigned_at'], unique=False,
        )  # fmt: skip


def downgrade() -> None:
    # Below this revision a household holds one row per role: the ended assignments go.
    op.execute('DELETE FROM helper_assignments WHERE ended_at IS NOT NULL')
    with op.batch_alter_table('helper_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_helper_assignments_household_id_role_assigned_at')
        batch_op.drop_index(
            'uq_helper_assignments_household_role_current',
            sqlite_where=CURRENT, postgresql_where=CURRENT,
        )  # fmt: skip
        batch_op.drop_constraint(op.f('ck_helper_assignments_period'), type_='check')
        batch_op.create_unique_constraint(
            'uq_helper_assignments_household_role', ['household_id', 'role']
        )
        batch_op.drop_column('ended_at')
