"""A need paid for with money says so: needs.funding_source, set while a crowdfunding or an allocation pays for it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 07:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('funding_source', sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_needs_funding_source'),
            "funding_source IS NULL OR funding_source IN ('crowdfunding', 'allocation')",
        )
    # Derived from the fundings: every funding but an expired crowdfunding pays for its need.
    op.execute(
        "UPDATE needs SET funding_source = ("
        "SELECT need_fundings.source FROM need_fundings "
        "WHERE need_fundings.need_id = needs.id AND need_fundings.status != 'expired')"
    )


def downgrade() -> None:
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_needs_funding_source'), type_='check')
        batch_op.drop_column('funding_source')
