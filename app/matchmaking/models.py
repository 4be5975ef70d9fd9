"""Matching runs: one allocation of the pool to the open needs of a scope."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, UTCDateTime, utcnow


class MatchingRun(Base):
    __tablename__ = "matching_runs"
    __table_args__ = (
        CheckConstraint("status IN ('completed', 'failed')", name="status"),
        Index("ix_matching_runs_scope_code_id", "scope_code", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    scope_code: Mapped[str] = mapped_column(String(12))
    categories: Mapped[list[str]] = mapped_column(JSON)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    # The weights, floor and budget the engine ran with, so a run can be explained later.
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    needs_considered: Mapped[int] = mapped_column(Integer, default=0)
    offers_considered: Mapped[int] = mapped_column(Integer, default=0)
    offer_units: Mapped[int] = mapped_column(Integer, default=0)
    pairs_proposed: Mapped[int] = mapped_column(Integer, default=0)
    objective: Mapped[float] = mapped_column(Float, default=0.0)
    expected_successes: Mapped[float] = mapped_column(Float, default=0.0)
    # Per independent block: needs, offer units, path taken (dense or sparse), solver seconds.
    blocks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    load_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    solve_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    write_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_by_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
