"""Requests and responses of programmes, students, volunteers, pairings and sessions.

A student is named by the household it comes from; no answer here carries a person's name or
phone, so the same shapes serve admins and the donors who volunteer.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.types import BigInteger, CountyCode, Date, Id, Integer, Text, code
from app.funds.schemas import Voucher
from app.programmes.states import PaymentState
from app.programmes.vocabulary import SLOT_PATTERN, GradeBand, Kind, Subject

Slot = Annotated[str, Text(16, strip=False, pattern=SLOT_PATTERN)]
SLOT_DOC = "Weekly slots: mon_morning, mon_afternoon, mon_evening … sun_evening"
Subjects = Annotated[list[Subject], Field(max_length=10)]
Slots = Annotated[list[Slot], Field(max_length=21, description=SLOT_DOC)]
Fen = Annotated[BigInteger, Field(gt=0, le=10**10)]
RegionOrAnywhere = Annotated[str, code(0, 2, 4, 6, 9, 12)]
KIND_DOC = "sponsorship 一助一 (a sponsor pays each term), tutoring 云支教 (online lessons)"


class ProgrammeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind = Field(description=KIND_DOC)
    name: Annotated[str, Text(100)] = Field(examples=["2027年春季云支教"])
    county_code: CountyCode | None = Field(
        default=None, description="The programme's county; a county admin's own by default"
    )
    term_start: Date
    term_end: Date = Field(description="The day after the term's last day")
    amount_per_term_fen: Fen | None = Field(
        default=None, description="Sponsorship: what a sponsor pays for one student a term"
    )
    sessions_per_term: Annotated[Integer, Field(ge=1, le=500)] | None = Field(
        default=None, description="Tutoring: the lessons planned for one student a term"
    )

    @model_validator(mode="after")
    def _terms(self) -> Self:
        if self.term_end <= self.term_start:
            raise ValueError("term_end must come after term_start")
        if self.kind == "sponsorship" and (
            self.amount_per_term_fen is None or self.sessions_per_term is not None
        ):
            raise ValueError("a sponsorship programme has amount_per_term_fen, no sessions")
        if self.kind == "tutoring" and (
            self.sessions_per_term is None or self.amount_per_term_fen is not None
        ):
            raise ValueError("a tutoring programme has sessions_per_term, no amount")
        return self


class ProgrammeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    county_code: str
    kind: Kind
    name: str
    term_start: dt.date
    term_end: dt.date
    amount_per_term_fen: int | None
    sessions_per_term: int | None
    created_at: dt.datetime


class StudentEnrol(BaseModel):
    model_config = ConfigDict(extra="forbid")

    household_id: Id
    grade: Annotated[Integer, Field(ge=1, le=12, description="School grade, 1 to 12")]
    subjects: Subjects = Field(default_factory=list, description="Tutoring: subjects wanted")
    slots: Slots = Field(default_factory=list)


class StudentRead(BaseModel):
    id: int
    programme_id: int
    household_id: int
    village_code: str
    grade: int
    grade_band: GradeBand
    subjects: list[Subject]
    slots: list[str]
    paired: bool = Field(description="Whether the student is in an ongoing pairing")
    created_at: dt.datetime


class VolunteerSignUp(BaseModel):
    """A tutor's subjects, grade bands and slots, or a sponsor's amount and region."""

    model_config = ConfigDict(extra="forbid")

    subjects: Subjects = Field(default_factory=list)
    grade_bands: Annotated[list[GradeBand], Field(max_length=4)] = Field(default_factory=list)
    slots: Slots = Field(default_factory=list)
    region: RegionOrAnywhere = Field(
        default="",
        description="Sponsorship: students must live inside it (the programme's county when "
        "empty); tutoring: students inside it are preferred",
    )
    amount_fen: Fen | None = Field(
        default=None, description="Sponsorship: what the sponsor gives a term, in all"
    )
    max_students: Annotated[Integer, Field(ge=1, le=50)] = 1


class VolunteerRead(BaseModel):
    id: int
    programme_id: int
    donor_id: int
    subjects: list[Subject]
    grade_bands: list[GradeBand]
    slots: list[str]
    region: str
    amount_fen: int | None
    max_students: int
    created_at: dt.datetime


class ProgrammePairingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    programme_id: int
    student_id: int
    volunteer_id: int
    donor_id: int
    village_code: str
    status: str
    score: int = Field(description="Shared subjects and slots, and the preference met")
    started_on: dt.date
    ends_on: dt.date = Field(description="The day after the current term's last day")
    renewals: int
    sessions_planned: int
    sessions_held: int = 0
    success: float | None = Field(
        default=None, description="Tutoring: sessions held / sessions planned; null otherwise"
    )
    version: int
    created_at: dt.datetime
    ended_at: dt.datetime | None


class MatchingRead(BaseModel):
    programme_id: int
    students_waiting: int = Field(description="Students without an ongoing pairing before the run")
    capacity: int = Field(description="Places the volunteers had left before the run")
    paired: int
    total_score: int
    solver_seconds: float
    pairings: list[ProgrammePairingRead]


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    held_on: Date
    minutes: Annotated[Integer, Field(ge=1, le=480)]
    note: Annotated[str, Text(500, min_length=0)] = ""


class SessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pairing_id: int
    held_on: dt.date
    minutes: int
    note: str
    recorded_by_id: int
    created_at: dt.datetime


class PaymentReceived(BaseModel):
    """A sponsor's payment as the county office received it."""

    model_config = ConfigDict(extra="forbid")

    voucher_no: Voucher = Field(examples=["YZY2026-0001"])
    received_on: Date = Field(
        description="The day the money arrived (CST): not in the future, nor before the day "
        "the pairing was made"
    )


class PaymentDisbursed(BaseModel):
    """A received payment as the county office paid it out to the student's household."""

    model_config = ConfigDict(extra="forbid")

    voucher_no: Voucher = Field(examples=["YZF2026-0001"])
    disbursed_on: Date = Field(
        description="The day the money was paid out (CST): not in the future, nor before the "
        "day it was received"
    )


class PaymentRefunded(BaseModel):
    """A terminated pairing's payment, received and not paid out, as the county office
    refunded it to the sponsor."""

    model_config = ConfigDict(extra="forbid")

    voucher_no: Voucher = Field(examples=["YZT2026-0001"])
    refunded_on: Date = Field(
        description="The day the money was refunded (CST): not in the future, nor before the "
        "day it was received"
    )


class SponsorshipPaymentRead(BaseModel):
    """A term's payment of a sponsorship pairing; it names no person of the household."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    pairing_id: int
    term: int = Field(description="1 for the first term, 2 after one renewal …")
    due_on: dt.date
    amount_fen: int
    status: PaymentState = Field(
        description="scheduled → received (from the sponsor) → disbursed (to the household); "
        "cancelled when the pairing was terminated before it was received; refunded (to the "
        "sponsor) when it was terminated after"
    )
    received_on: dt.date | None
    receipt_voucher_no: str | None
    disbursed_on: dt.date | None
    disbursement_voucher_no: str | None
    refunded_on: dt.date | None
    refund_voucher_no: str | None
