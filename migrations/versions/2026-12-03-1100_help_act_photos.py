"""Photos of help acts (帮扶记录): help_act_photos, at most 6 to an act.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 11:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "help_act_photos",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("help_act_id", BIGINT, nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("thumbnail_size_bytes", sa.Integer(), nullable=False),
        sa.Column("thumbnail_width", sa.Integer(), nullable=False),
        sa.Column("thumbnail_height", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_id", BIGINT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("slot BETWEEN 1 AND 6", name=op.f("ck_help_act_photos_slot")),
        sa.CheckConstraint(
            "media_type IN ('image/jpeg', 'image/png', 'image/webp')",
            name=op.f("ck_help_act_photos_media_type"),
        ),
        sa.ForeignKeyConstraint(
            ["help_act_id"], ["help_acts.id"], name=op.f("fk_help_act_photos_help_act_id_help_acts")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["users.id"], name=op.f("fk_help_act_photos_uploaded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_help_act_photos")),
        sa.UniqueConstraint(
            "help_act_id", "slot", name=op.f("uq_help_act_photos_help_act_id_slot")
        ),
        sa.UniqueConstraint("key", name=op.f("uq_help_act_photos_key")),
    )


def downgrade() -> None:
    # Below this revision a help act has no photos: their rows go (the stored bytes stay).
    op.drop_table("help_act_photos")
