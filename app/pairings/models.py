"""Pairings (对接): a need with a donor, from claim or proposal to its outcome."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, UTCDateTime, utcnow
from app.core.vocabulary import sql_in
from app.pairings.states import HOLDING, SOURCES, STATES


class Pairing(Base):
    __tablename__ = "pairings"
    __table_args__ = (
        CheckConstraint(f"source IN {sql_in(SOURCES)}", name="source"),
        CheckConstraint(f"status IN {sql_in(STATES)}", name="status"),
        CheckConstraint("predicted_success >= 0 AND predicted_success <= 1", name="predicted"),
        # At most one pairing holds a need at a time, whatever the concurrency.
        Index(
            "uq_pairings_need_holding",
            "need_id",
            unique=True,
            sqlite_where=text(f"status IN {sql_in(HOLDING)}"),
            postgresql_where=text(f"status IN {sql_in(HOLDING)}"),
        ),
        # At most one open proposal per need: two runs never propose the same need twice.
        Index(
            "uq_pairings_need_proposed",
            "need_id",
            unique=True,
            sqlite_where=text("status = 'proposed'"),
            postgresql_where=text("status = 'proposed'"),
        ),
        Index("ix_pairings_donor_id_status", "donor_id", "status"),
        Index("ix_pairings_offer_id_status", "offer_id", "status"),
        Index("ix_pairings_status_expires_at", "status", "expires_at"),
        Index("ix_pairings_village_code_id", "village_code", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    need_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("needs.id"), index=True)
    donor_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"))
    offer_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("offers.id"))
    run_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("matching_runs.id"), index=True)
    source: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    predicted_success: Mapped[float] = mapped_column(Float)
    # The engine's score of a proposed pair (None for a direct claim).
    score: Mapped[float | None] = mapped_column(Float)
    village_code: Mapped[str] = mapped_column(String(12))
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the donor began to hold the need (claimed, or accepted the proposal); None for a
    # proposal never accepted. "Matched" in the statistics means this is set.
    active_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivery_note: Mapped[str | None] = mapped_column(Text)
    thanks: Mapped[str | None] = mapped_column(Text)


class SuccessSegment(Base):
    """The learned success model: ended pairings per (category, distance band), refreshed.

    Written by ``aixin model refresh`` and periodically by the service; read when a claim or a
    matching run predicts a pairing's success. Band 0..5 is the distance band of
    ``matching.BANDS`` (village ... farther); a direct claim, with no region preference, is
    counted in band 5 ("farther": anywhere).
    """

    __tablename__ = "success_segments"
    __table_args__ = (
        UniqueConstraint("category", "band"),
        CheckConstraint("band >= 0 AND band <= 5", name="band"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    category: Mapped[str] = mapped_column(String(16))
    band: Mapped[int] = mapped_column(Integer)
    successes: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer)
    rate: Mapped[float] = mapped_column(Float)
    refreshed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
