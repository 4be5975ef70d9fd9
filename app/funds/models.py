"""The fund pool's tables: the ledger (accounts, transactions, entries), donations with their
receipts and provider notifications, needs' fundings, and allocations of a county's pool."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, UTCDateTime, utcnow
from app.core.vocabulary import sql_in
from app.funds.states import ALLOCATION_STATES, DONATION_STATES, FUNDING_STATES
from app.needs.states import MONEY_SOURCES

# pool: a county's unrestricted money; need: a need's restricted account; credits: a donor's
# credits from one expired crowdfunding; clearing: what a payment channel brought in;
# offline: what a county's office received; disbursed: what a county spent on needs;
# sponsorship: a 一助一 pairing's money received and not yet paid out; sponsor_income: what a
# county's sponsors paid; sponsor_paid: what a county paid out to sponsored households.
ACCOUNT_KINDS = (
    "pool",
    "need",
    "credits",
    "clearing",
    "offline",
    "disbursed",
    "sponsorship",
    "sponsor_income",
    "sponsor_paid",
)
# The accounts that hold money and so can never go below zero.
PROTECTED_KINDS = ("pool", "need", "credits", "sponsorship")
TRANSACTION_KINDS = (
    "income",
    "allocation",
    "disbursement",
    "credit",
    "credit_gift",
    "credit_expiry",
    "reversal",
)
CHANNELS = ("wechat_pay", "offline", "credits")
NOTIFICATION_OUTCOMES = (
    "accepted",
    "duplicate",
    "late",
    "failed_trade",
    "forged",
    "stale",
    "undecryptable",
    "unknown_order",
    "wrong_amount",
)
FUNDING_SOURCES = MONEY_SOURCES


class FundAccount(Base):
    """One account of the ledger: its balance and version change only with its entries."""

    __tablename__ = "fund_accounts"
    __table_args__ = (
        CheckConstraint(f"kind IN {sql_in(ACCOUNT_KINDS)}", name="kind"),
        CheckConstraint("NOT protected OR balance_fen >= 0", name="not_negative"),
        CheckConstraint("ceiling_fen IS NULL OR balance_fen <= ceiling_fen", name="ceiling"),
        Index("ix_fund_accounts_kind_county_code", "kind", "county_code"),
        Index("ix_fund_accounts_kind_expires_at", "kind", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # What the account is, written once: "pool:430525", "need:17", "credits:5:3" …
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    county_code: Mapped[str | None] = mapped_column(String(6))
    need_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("needs.id"))
    donor_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id"), index=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    protected: Mapped[bool] = mapped_column(Boolean)
    # The most the account may hold (a crowdfunded need's target), like a balance limit flag.
    ceiling_fen: Mapped[int | None] = mapped_column(BigInteger)
    # Credits lapse into the county's pool at this moment.
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FundTransaction(Base):
    """A balanced set of entries, posted once by its business key; never changed."""

    __tablename__ = "fund_transactions"
    __table_args__ = (
        CheckConstraint(f"kind IN {sql_in(TRANSACTION_KINDS)}", name="kind"),
        Index("ix_fund_transactions_county_code_created_at", "county_code", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    business_key: Mapped[str] = mapped_column(String(96), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    county_code: Mapped[str | None] = mapped_column(String(6))
    channel: Mapped[str | None] = mapped_column(String(16))
    donation_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("donations.id"), index=True
    )
    funding_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("need_fundings.id"), index=True
    )
    allocation_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("allocations.id"))
    # A reversal names the transaction it undoes; each is undone at most once.
    reverses_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("fund_transactions.id"), unique=True
    )
    memo: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FundEntry(Base):
    """One leg of a transaction on one account, with the balance and version it left."""

    __tablename__ = "fund_entries"
    __table_args__ = (
        CheckConstraint("amount_fen <> 0", name="amount_fen"),
        UniqueConstraint("account_id", "account_version"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("fund_transactions.id"), index=True
    )
    account_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("fund_accounts.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    balance_after_fen: Mapped[int] = mapped_column(BigInteger)
    account_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Donation(Base):
    """Money given: online through a payment channel, recorded offline, or from credits."""

    __tablename__ = "donations"
    __table_args__ = (
        CheckConstraint(f"channel IN {sql_in(CHANNELS)}", name="channel"),
        CheckConstraint(f"status IN {sql_in(DONATION_STATES)}", name="status"),
        CheckConstraint("amount_fen > 0", name="amount_fen"),
        UniqueConstraint("county_code", "channel", "voucher_no"),
        UniqueConstraint("county_code", "receipt_year", "receipt_no"),
        Index("ix_donations_donor_id_id", "donor_id", "id"),
        Index("ix_donations_county_code_status", "county_code", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    donor_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id"))
    # An offline donor's name as given at the office (optional); never a household's.
    donor_name: Mapped[str | None] = mapped_column(String(60))
    county_code: Mapped[str] = mapped_column(String(6))
    need_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("needs.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # The part that reached the need's account (the rest became the donor's credits).
    to_need_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    out_trade_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    code_url: Mapped[str | None] = mapped_column(String(256))
    provider_transaction_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    voucher_no: Mapped[str | None] = mapped_column(String(64))
    received_on: Mapped[dt.date | None] = mapped_column(Date)
    recorded_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id"))
    receipt_year: Mapped[int | None] = mapped_column(Integer)
    receipt_no: Mapped[int | None] = mapped_column(Integer)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReceiptCounter(Base):
    """The last receipt number of a county's year: taken under the row's lock, so gapless."""

    __tablename__ = "receipt_counters"

    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_no: Mapped[int] = mapped_column(Integer, default=0)


class PaymentNotification(Base):
    """Every notification a payment channel sent, and what became of it."""

    __tablename__ = "payment_notifications"
    __table_args__ = (
        CheckConstraint(f"outcome IN {sql_in(NOTIFICATION_OUTCOMES)}", name="outcome"),
        Index("ix_payment_notifications_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    notification_id: Mapped[str | None] = mapped_column(String(64))
    out_trade_no: Mapped[str | None] = mapped_column(String(32), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class NeedFunding(Base):
    """A need paid for with money: crowdfunded by donors, or allocated from the pool."""

    __tablename__ = "need_fundings"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(FUNDING_STATES)}", name="status"),
        CheckConstraint(f"source IN {sql_in(FUNDING_SOURCES)}", name="source"),
        CheckConstraint("target_fen > 0", name="target_fen"),
        Index("ix_need_fundings_status_deadline", "status", "deadline"),
        Index("ix_need_fundings_county_code_status", "county_code", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    need_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("needs.id"), unique=True)
    county_code: Mapped[str] = mapped_column(String(6))
    village_code: Mapped[str] = mapped_column(String(12))
    category: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    target_fen: Mapped[int] = mapped_column(BigInteger)
    account_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("fund_accounts.id"))
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    opened_by_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"))
    allocation_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("allocations.id"))
    funded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    purchased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    purchase_voucher: Mapped[str | None] = mapped_column(String(64))
    purchase_photo_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("photos.id"))
    purchase_note: Mapped[str | None] = mapped_column(String(500))
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    expired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Allocation(Base):
    """A proposed division of a county's pool among its open needs: an exact knapsack."""

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(ALLOCATION_STATES)}", name="status"),
        Index("ix_allocations_county_code_id", "county_code", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    pool_fen: Mapped[int] = mapped_column(BigInteger)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    objective: Mapped[float] = mapped_column(Float)
    candidates: Mapped[int] = mapped_column(Integer)
    weights: Mapped[dict[str, Any]] = mapped_column(JSON)
    solver_seconds: Mapped[float] = mapped_column(Float)
    proposed_by_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    executed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AllocationItem(Base):
    """One need an allocation serves, with the amount and the priority it was chosen by."""

    __tablename__ = "allocation_items"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_fen"),
        UniqueConstraint("allocation_id", "need_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    allocation_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("allocations.id"))
    need_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("needs.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    priority: Mapped[float] = mapped_column(Float)
