"""Programmes, their students and volunteers, the pairings between them, tutoring sessions and
sponsorship payments."""

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
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, UTCDateTime, utcnow
from app.core.vocabulary import sql_in
from app.programmes.states import ONGOING, PAYMENT_STATES, STATES
from app.programmes.vocabulary import KINDS


class Programme(Base):
    """A county's programme: its kind, its term, and what a term holds."""

    __tablename__ = "programmes"
    __table_args__ = (
        CheckConstraint(f"kind IN {sql_in(KINDS)}", name="kind"),
        CheckConstraint("term_end > term_start", name="term"),
        CheckConstraint(
            "(kind = 'sponsorship' AND amount_per_term_fen > 0 AND sessions_per_term IS NULL) OR "
            "(kind = 'tutoring' AND sessions_per_term > 0 AND amount_per_term_fen IS NULL)",
            name="terms_of_kind",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(100))
    term_start: Mapped[dt.date] = mapped_column(Date)
    term_end: Mapped[dt.date] = mapped_column(Date)
    amount_per_term_fen: Mapped[int | None] = mapped_column(BigInteger)
    sessions_per_term: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Student(Base):
    """A student of a household enrolled in a programme (no name: the household stands for it)."""

    __tablename__ = "programme_students"
    __table_args__ = (
        CheckConstraint("grade BETWEEN 1 AND 12", name="grade"),
        Index("ix_programme_students_programme_id_id", "programme_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    programme_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("programmes.id"))
    household_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("households.id"), index=True)
    village_code: Mapped[str] = mapped_column(String(12))
    county_code: Mapped[str] = mapped_column(String(6))
    grade: Mapped[int] = mapped_column(Integer)
    subjects: Mapped[int] = mapped_column(Integer)  # bit mask of vocabulary.SUBJECTS
    slots: Mapped[int] = mapped_column(Integer)  # bit mask of vocabulary.SLOTS
    created_by_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Volunteer(Base):
    """A donor signed up to a programme: a tutor, or a sponsor with an amount and a region."""

    __tablename__ = "programme_volunteers"
    __table_args__ = (
        UniqueConstraint("programme_id", "donor_id", name="uq_programme_volunteers_donor"),
        CheckConstraint("max_students BETWEEN 1 AND 50", name="max_students"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    programme_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("programmes.id"), index=True)
    donor_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"), index=True)
    subjects: Mapped[int] = mapped_column(Integer)
    grade_bands: Mapped[int] = mapped_column(Integer)  # bit mask of vocabulary.GRADE_BANDS
    slots: Mapped[int] = mapped_column(Integer)
    # Students served: a sponsor's region (required), a tutor's preferred region (a bonus).
    region: Mapped[str] = mapped_column(String(12), default="")
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    max_students: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProgrammePairing(Base):
    """A student with a volunteer for a term, renewed term by term."""

    __tablename__ = "programme_pairings"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(STATES)}", name="status"),
        CheckConstraint("ends_on > started_on", name="term"),
        # One ongoing pairing per student, held by the database itself.
        Index(
            "uq_programme_pairings_student_ongoing",
            "student_id",
            unique=True,
            sqlite_where=text(f"status IN {sql_in(ONGOING)}"),
            postgresql_where=text(f"status IN {sql_in(ONGOING)}"),
        ),
        Index("ix_programme_pairings_programme_id_id", "programme_id", "id"),
        Index("ix_programme_pairings_village_code", "village_code"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    programme_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("programmes.id"))
    student_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("programme_students.id"))
    volunteer_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("programme_volunteers.id"), index=True
    )
    donor_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"), index=True)
    village_code: Mapped[str] = mapped_column(String(12))
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    status: Mapped[str] = mapped_column(String(12))
    score: Mapped[int] = mapped_column(Integer)
    started_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    renewals: Mapped[int] = mapped_column(Integer, default=0)
    sessions_planned: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class TutoringSession(Base):
    """One lesson held in a tutoring pairing."""

    __tablename__ = "tutoring_sessions"
    __table_args__ = (CheckConstraint("minutes BETWEEN 1 AND 480", name="minutes"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    pairing_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("programme_pairings.id"), index=True
    )
    held_on: Mapped[dt.date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(500), default="")
    recorded_by_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SponsorshipPayment(Base):
    """A sponsor's payment for one term of a pairing: due on the term's first day, received by
    the county office, then paid out to the student's household (or, the pairing terminated,
    refunded to the sponsor)."""

    __tablename__ = "sponsorship_payments"
    __table_args__ = (
        UniqueConstraint("pairing_id", "term", name="uq_sponsorship_payments_pairing_term"),
        CheckConstraint("amount_fen > 0", name="amount_fen"),
        CheckConstraint(f"status IN {sql_in(PAYMENT_STATES)}", name="status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    pairing_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("programme_pairings.id"))
    term: Mapped[int] = mapped_column(Integer)  # 1 for the first term, 2 after one renewal …
    due_on: Mapped[dt.date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    received_on: Mapped[dt.date | None] = mapped_column(Date)
    receipt_voucher_no: Mapped[str | None] = mapped_column(String(64))
    received_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id"))
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disbursed_on: Mapped[dt.date | None] = mapped_column(Date)
    disbursement_voucher_no: Mapped[str | None] = mapped_column(String(64))
    disbursed_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id"))
    disbursed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    refunded_on: Mapped[dt.date | None] = mapped_column(Date)
    refund_voucher_no: Mapped[str | None] = mapped_column(String(64))
    refunded_by_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id"))
    refunded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
