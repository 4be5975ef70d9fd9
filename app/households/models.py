"""Households (受助对象): personal data encrypted at rest, found by a keyed hash."""

from __future__ import annotations

import datetime as dt
from typing import get_args

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, UTCDateTime, utcnow
from app.core.vocabulary import sql_in
from app.households.schemas import SupportCategory

SUPPORT_CATEGORIES: tuple[str, ...] = get_args(SupportCategory)


class Household(Base):
    __tablename__ = "households"
    __table_args__ = (
        CheckConstraint(
            f"support_category IN {sql_in(SUPPORT_CATEGORIES)}", name="support_category"
        ),
        CheckConstraint("size BETWEEN 1 AND 30", name="size"),
        Index("ix_households_village_code_id", "village_code", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    village_code: Mapped[str] = mapped_column(String(12), ForeignKey("regions.code"))
    # Every hot table carries its county code: the shard key of a distributed PostgreSQL.
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    # Personal data: encrypted (Fernet); the masked name is what anyone else may see.
    head_name_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    head_name_masked: Mapped[str] = mapped_column(String(40))
    id_number_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # HMAC-SHA256 of the ID number under a separate key: uniqueness without the plaintext.
    id_number_index: Mapped[str] = mapped_column(String(64), unique=True)
    phone_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    support_category: Mapped[str] = mapped_column(String(16))
    key_household: Mapped[bool] = mapped_column(Boolean, default=False)
    main_helper: Mapped[str | None] = mapped_column(String(100))
    liaison: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class HouseholdAccess(Base):
    """One read (or write) of a household's personal data: who, when, what."""

    __tablename__ = "household_access_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    household_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("households.id"), index=True)
    actor_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(128))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
