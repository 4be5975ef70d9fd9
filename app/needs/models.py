"""Needs (爱心需求): what a household lacks, with a life from posting to receipt."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, UTCDateTime, utcnow
from app.core.vocabulary import CATEGORIES, sql_in
from app.needs.states import MONEY_SOURCES, OPEN, ORIGINS


class Need(Base):
    __tablename__ = "needs"
    __table_args__ = (
        CheckConstraint(f"category IN {sql_in(CATEGORIES)}", name="category"),
        CheckConstraint("urgency BETWEEN 1 AND 3", name="urgency"),
        CheckConstraint("value_fen >= 0", name="value_fen"),
        CheckConstraint(f"origin IN {sql_in(ORIGINS)}", name="origin"),
        CheckConstraint(
            f"funding_source IS NULL OR funding_source IN {sql_in(MONEY_SOURCES)}",
            name="funding_source",
        ),
        # One open need of a category per household, held by the database itself.
        Index(
            "uq_needs_household_open_category",
            "household_id",
            "category",
            unique=True,
            sqlite_where=text(f"status IN {sql_in(OPEN)}"),
            postgresql_where=text(f"status IN {sql_in(OPEN)}"),
        ),
        # Browse: keyset pages in each sort order, within a status.
        Index("ix_needs_status_created_at_id", "status", "created_at", "id"),
        Index("ix_needs_status_urgency_created_at_id", "status", "urgency", "created_at", "id"),
        Index("ix_needs_status_deadline_id", "status", "deadline", "id"),
        Index("ix_needs_village_code_status", "village_code", "status"),
        # Statistics: the publish cohorts of a county.
        Index("ix_needs_county_code_published_at", "county_code", "published_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    household_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("households.id"), index=True)
    village_code: Mapped[str] = mapped_column(String(12), ForeignKey("regions.code"))
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    category: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    value_fen: Mapped[int] = mapped_column(BigInteger)
    urgency: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[dt.date] = mapped_column(Date)
    origin: Mapped[str] = mapped_column(String(16), default="admin")
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Set while money pays for the need (app/funds): a crowdfunding not expired, or an allocation.
    funding_source: Mapped[str | None] = mapped_column(String(16))
    created_by_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    fulfilled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_reason: Mapped[str | None] = mapped_column(String(500))
