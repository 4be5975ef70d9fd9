"""A terminated pairing's sponsorship money received and not paid out is refunded to its sponsor: the payment's refunded status, with its voucher, day and who recorded it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 12:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD_STATUSES = "status IN ('scheduled', 'received', 'disbursed', 'cancelled')"
NEW_STATUSES = "status IN ('scheduled', 'received', 'disbursed', 'cancelled', 'refunded')"


def upgrade() -> None:
    with op.batch_alter_table("sponsorship_payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refunded_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("refund_voucher_no", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("refunded_by_id", BIGINT, nullable=True))
        batch_op.add_column(sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_sponsorship_payments_refunded_by_id_users"), "users", ["refunded_by_id"], ["id"]
        )
        batch_op.drop_constraint(op.f("ck_sponsorship_payments_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_sponsorship_payments_status"), NEW_STATUSES)


def downgrade() -> None:
    # Below this revision a payment is not refunded: a refunded one is cancelled, which, like
    # it, holds no money and takes no further step. Its receipt and the reversal that refunded
    # it stay in the ledger, where together they leave the pairing's account as it was before.
    op.execute("UPDATE sponsorship_payments SET status = 'cancelled' WHERE status = 'refunded'")
    with op.batch_alter_table("sponsorship_payments", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_sponsorship_payments_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_sponsorship_payments_status"), OLD_STATUSES)
        batch_op.drop_constraint(
            op.f("fk_sponsorship_payments_refunded_by_id_users"), type_="foreignkey"
        )
        for column in ("refunded_at", "refunded_by_id", "refund_voucher_no", "refunded_on"):
            batch_op.drop_column(column)
