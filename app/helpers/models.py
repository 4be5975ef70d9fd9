"""Helpers (主体帮扶人), liaisons (帮扶联络员) and help acts (帮扶记录).

A helper or liaison is a person: name and phone encrypted at rest like a household's head, the
phone found by its keyed hash. A person serves the region of its ``region_code`` (a village, or
a township for a liaison of many households), and an assignment names the one helper and the
one liaison of a household.

Assignments keep their history: each holds its role from ``assigned_at`` until ``ended_at``
(null while current), and a replacement ends the current row and starts a new one, so the
coverage of a past day reads who held each role then.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, UTCDateTime, utcnow
from app.core.vocabulary import sql_in
from app.helpers.vocabulary import ACT_KINDS, ROLES


class Helper(Base):
    __tablename__ = "helpers"
    __table_args__ = (Index("ix_helpers_region_code_id", "region_code", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), ForeignKey("regions.code"))
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    name_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    name_masked: Mapped[str] = mapped_column(String(40))
    phone_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    phone_masked: Mapped[str] = mapped_column(String(20))
    # HMAC-SHA256 of the phone under the index key: found by number, never read back.
    phone_index: Mapped[str] = mapped_column(String(64), index=True)
    # A helper who has a donor account records help acts through it.
    donor_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def _unique_while_current(name: str, *columns: str) -> Index:
    """A unique index over the rows whose period has not ended, on both engines."""
    current = text("ended_at IS NULL")
    return Index(name, *columns, unique=True, sqlite_where=current, postgresql_where=current)


class HelperAssignment(Base):
    """A household's helper or liaison over a period: one current holder of each role."""

    __tablename__ = "helper_assignments"
    __table_args__ = (
        CheckConstraint(f"role IN {sql_in(ROLES)}", name="role"),
        CheckConstraint("ended_at IS NULL OR ended_at >= assigned_at", name="period"),
        # One current holder of each role per household, held by the database itself.
        _unique_while_current(
            "uq_helper_assignments_household_role_current", "household_id", "role"
        ),
        Index(
            "ix_helper_assignments_household_id_role_assigned_at",
            "household_id",
            "role",
            "assigned_at",
        ),
        Index("ix_helper_assignments_village_code", "village_code"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    household_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("households.id"))
    role: Mapped[str] = mapped_column(String(8))
    helper_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("helpers.id"), index=True)
    village_code: Mapped[str] = mapped_column(String(12))
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    assigned_by_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"))
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When a replacement took the role over; null while the assignment is current.
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class HelpAct(Base):
    """One act of help to a household: a visit, care, help with production, schooling, health."""

    __tablename__ = "help_acts"
    __table_args__ = (
        CheckConstraint(f"kind IN {sql_in(ACT_KINDS)}", name="kind"),
        Index("ix_help_acts_county_code_acted_on", "county_code", "acted_on"),
        Index("ix_help_acts_household_id_acted_on", "household_id", "acted_on"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    household_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("households.id"))
    helper_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("helpers.id"))
    village_code: Mapped[str] = mapped_column(String(12))
    county_code: Mapped[str] = mapped_column(String(6))
    acted_on: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(String(500))
    recorded_by_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
