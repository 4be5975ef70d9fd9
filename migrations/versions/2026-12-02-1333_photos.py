"""Photos: a need's and its deliveries' (at most six an album, one numbered slot each); their
bytes are kept in the photo storage, not here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 13:33:30.191123+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('photos',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('need_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pairing_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('media_type', sa.String(length=16), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('thumbnail_size_bytes', sa.Integer(), nullable=False),
    sa.Column('thumbnail_width', sa.Integer(), nullable=False),
    sa.Column('thumbnail_height', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'need' AND pairing_id IS NULL) OR (kind = 'delivery' AND pairing_id IS NOT NULL)", name=op.f('ck_photos_album')),
    sa.CheckConstraint("kind IN ('need', 'delivery')", name=op.f('ck_photos_kind')),
    sa.CheckConstraint("media_type IN ('image/jpeg', 'image/png', 'image/webp')", name=op.f('ck_photos_media_type')),
    sa.CheckConstraint('slot BETWEEN 1 AND 6', name=op.f('ck_photos_slot')),
    sa.ForeignKeyConstraint(['need_id'], ['needs.id'], name=op.f('fk_photos_need_id_needs')),
    sa.ForeignKeyConstraint(['pairing_id'], ['pairings.id'], name=op.f('fk_photos_pairing_id_pairings')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_photos_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_photos')),
    sa.UniqueConstraint('key', name=op.f('uq_photos_key'))
    )
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.create_index('ix_photos_need_id_kind_id', ['need_id', 'kind', 'id'], unique=False)
        batch_op.create_index('uq_photos_need_slot', ['need_id', 'slot'], unique=True, sqlite_where=sa.text("kind = 'need'"), postgresql_where=sa.text("kind = 'need'"))
        batch_op.create_index('uq_photos_pairing_slot', ['pairing_id', 'slot'], unique=True, sqlite_where=sa.text("kind = 'delivery'"), postgresql_where=sa.text("kind = 'delivery'"))


def downgrade() -> None:
    # Dropping the table drops its indexes; the stored bytes stay in the photo storage.
    op.drop_table('photos')
