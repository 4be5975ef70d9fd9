"""Events: the append-only history of every state change of a need, pairing or offer."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, UTCDateTime, utcnow


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("entity IN ('need', 'pairing', 'offer')", name="entity"),
        Index("ix_events_entity_entity_id_id", "entity", "entity_id", "id"),
        Index("ix_events_need_id_id", "need_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    entity: Mapped[str] = mapped_column(String(8))
    entity_id: Mapped[int] = mapped_column(BigIntPK)
    # The need concerned, when there is one, so a need's whole history is one indexed read.
    need_id: Mapped[int | None] = mapped_column(BigIntPK)
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    # None when the system acted (a claim lapsing, a deadline passing).
    actor_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(String(500))
    county_code: Mapped[str | None] = mapped_column(String(6), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
