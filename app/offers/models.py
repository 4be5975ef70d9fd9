"""Offers (捐赠意向): non-directed donations, the pool a matching run allocates."""

from __future__ import annotations

import datetime as dt
from typing import get_args

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, UTCDateTime, utcnow
from app.core.vocabulary import CATEGORIES, sql_in
from app.offers.schemas import OfferStatus

OFFER_STATUSES: tuple[str, ...] = get_args(OfferStatus)


class Offer(Base):
    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint(f"category IN {sql_in(CATEGORIES)}", name="category"),
        CheckConstraint(f"status IN {sql_in(OFFER_STATUSES)}", name="status"),
        CheckConstraint("capacity >= 1", name="capacity"),
        CheckConstraint("capacity_used >= 0 AND capacity_used <= capacity", name="capacity_used"),
        CheckConstraint("value_cap_fen IS NULL OR value_cap_fen >= 0", name="value_cap_fen"),
        Index(
            "ix_offers_status_category_region_preference", "status", "category", "region_preference"
        ),
        Index("ix_offers_donor_id_id", "donor_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    donor_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"))
    category: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    capacity: Mapped[int] = mapped_column(Integer)
    capacity_used: Mapped[int] = mapped_column(Integer, default=0)
    # A region-code prefix the donor wants to help ("" for anywhere).
    region_preference: Mapped[str] = mapped_column(String(12))
    value_cap_fen: Mapped[int | None] = mapped_column(BigInteger)
    available_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
