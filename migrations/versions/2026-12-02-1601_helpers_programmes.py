"""户帮户亲帮亲 and 结对: helpers and liaisons, help acts, one-to-one programmes, and the housing and industry categories.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 16:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
