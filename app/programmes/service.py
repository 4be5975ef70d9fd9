"""Programmes: creation by a county, enrolment of students, volunteers' sign-up, the exact
pairing of students with volunteers (`matching.pair_students`, in a worker thread), and the
pairings' life: renewals, pauses, ends, and the tutoring sessions held.

Every change of a pairing's status is :func:`move`, a compare-and-set on the status and the
version against the table of :mod:`app.programmes.states`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, exists, func, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import matching
from app.accounts.models import User
from app.accounts.policy import admin_scope, require
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.pagination import page_by_id
from app.core.scope import Scope
from app.core.transitions import compare_and_set
from app.households import service as households_service
from app.programmes.models import (
    Programme,
    ProgrammePairing,
    SponsorshipPayment,
    Student,
    TutoringSession,
    Volunteer,
)
from app.programmes.schemas import (
    MatchingRead,
    ProgrammeCreate,
    ProgrammePairingRead,
    SessionCreate,
    SessionRead,
    StudentEnrol,
    StudentRead,
    VolunteerRead,
    VolunteerSignUp,
)
from app.programmes.states import ENDED, ONGOING, PAYMENT, TABLE
from app.programmes.vocabulary import (
    GRADE_BANDS,
    SLOTS,
    SUBJECTS,
    band_of_grade,
    full,
    mask,
    words,
)
from app.regions.models import Region

CST = dt.timezone(dt.timedelta(hours=8), "CST")
CREATORS = ("county", "platform")
PREFERENCE_WEIGHT = 2  # a tutor's preferred region is worth two shared slots or subjects


def today() -> dt.date:
    """Today in China: terms and sessions are calendar days there."""
    return utcnow().astimezone(CST).date()


def _programme_not_found(programme_id: int) -> NotFound:
    return NotFound(f"No programme {programme_id} you may see", code="programme_not_found")


def _pairing_not_found(pairing_id: int) -> NotFound:
    return NotFound(
        f"No programme pairing {pairing_id} of yours", code="programme_pairing_not_found"
    )


def _terms(detail: str) -> Unprocessable:
    return Unprocessable(detail, code="programme_terms")


# -- programmes -------------------------------------------------------------------------------


def _visible(user: User) -> ColumnElement[bool]:
    """Donors see every programme; an admin those of the counties its scope meets."""
    if not user.is_admin:
        return true()
    scope = admin_scope(user)
    if len(scope.code) >= 6:
        return Programme.county_code == scope.code[:6]
    return scope.where(Programme.county_code)


async def get_programme(session: AsyncSession, user: User, programme_id: int) -> Programme:
    """A programme the caller may see, else 404."""
    programme = await session.scalar(
        select(Programme).where(Programme.id == programme_id, _visible(user))
    )
    if programme is None:
        raise _programme_not_found(programme_id)
    return programme


async def create_programme(session: AsyncSession, admin: User, data: ProgrammeCreate) -> Programme:
    """A county's programme, created by its county admin (or a platform admin)."""
    if admin.role not in CREATORS:
        raise Forbidden("Only a county or platform admin creates a programme", code="not_allowed")
    scope = admin_scope(admin)
    county = data.county_code or (scope.code if len(scope.code) == 6 else None)
    if county is None:
        raise _terms("Name the programme's county_code")
    region = await session.get(Region, county)
    if region is None or region.level != "county":
        raise Unprocessable(f"{county} is not the code of a county", code="unknown_region")
    if not scope.covers(county):
        raise Forbidden(f"The county {county} lies outside your scope", code="out_of_scope")
    programme = Programme(
        county_code=county,
        kind=data.kind,
        name=data.name,
        term_start=data.term_start,
        term_end=data.term_end,
        amount_per_term_fen=data.amount_per_term_fen,
        sessions_per_term=data.sessions_per_term,
        created_by_id=admin.id,
        created_at=utcnow(),
    )
    session.add(programme)
    await session.flush()
    return programme


async def list_programmes(
    session: AsyncSession, user: User, *, limit: int, cursor: str | None
) -> tuple[Sequence[Programme], str | None]:
    """The programmes the caller may see, newest first."""
    return await page_by_id(
        session, select(Programme).where(_visible(user)), Programme.id, limit=limit, cursor=cursor
    )


# -- students and volunteers -----------------------------------------------------------------


def _ongoing(student_id: Any) -> ColumnElement[bool]:
    return exists().where(
        ProgrammePairing.student_id == student_id, ProgrammePairing.status.in_(ONGOING)
    )


def student_read(student: Student, paired: bool) -> StudentRead:
    return StudentRead(
        id=student.id,
        programme_id=student.programme_id,
        household_id=student.household_id,
        village_code=student.village_code,
        grade=student.grade,
        grade_band=GRADE_BANDS[band_of_grade(student.grade)],
        subjects=words(student.subjects, SUBJECTS),
        slots=words(student.slots, SLOTS),
        paired=paired,
        created_at=student.created_at,
    )


async def enrol(
    session: AsyncSession, admin: User, programme_id: int, data: StudentEnrol
) -> StudentRead:
    """Enrol a student of a household of the admin's scope in a programme of its county."""
    programme = await get_programme(session, admin, programme_id)
    household = await households_service.get_in_scope(
        session, admin_scope(admin), data.household_id
    )
    if household.county_code != programme.county_code:
        raise Unprocessable(
            f"Household {household.id} lies outside the programme's county {programme.county_code}",
            code="student_outside_programme",
        )
    if programme.kind == "tutoring" and not (data.subjects and data.slots):
        raise _terms("A tutoring student needs subjects and weekly slots")
    student = Student(
        programme_id=programme.id,
        household_id=household.id,
        village_code=household.village_code,
        county_code=household.county_code,
        grade=data.grade,
        subjects=mask(data.subjects, SUBJECTS),
        slots=mask(data.slots, SLOTS),
        created_by_id=admin.id,
        created_at=utcnow(),
    )
    session.add(student)
    await session.flush()
    return student_read(student, paired=False)


async def list_students(
    session: AsyncSession, admin: User, programme_id: int, *, limit: int, cursor: str | None
) -> tuple[list[StudentRead], str | None]:
    """The programme's students of the admin's scope, by id."""
    programme = await get_programme(session, admin, programme_id)
    statement = select(Student).where(
        Student.programme_id == programme.id, admin_scope(admin).where(Student.village_code)
    )
    rows, next_cursor = await page_by_id(
        session, statement, Student.id, limit=limit, cursor=cursor, newest_first=False
    )
    paired = set(
        await session.scalars(
            select(ProgrammePairing.student_id).where(
                ProgrammePairing.student_id.in_([row.id for row in rows]),
                ProgrammePairing.status.in_(ONGOING),
            )
        )
    )
    return [student_read(row, row.id in paired) for row in rows], next_cursor


def volunteer_read(volunteer: Volunteer) -> VolunteerRead:
    return VolunteerRead(
        id=volunteer.id,
        programme_id=volunteer.programme_id,
        donor_id=volunteer.donor_id,
        subjects=words(volunteer.subjects, SUBJECTS),
        grade_bands=words(volunteer.grade_bands, GRADE_BANDS),
        slots=words(volunteer.slots, SLOTS),
        region=volunteer.region,
        amount_fen=volunteer.amount_fen,
        max_students=volunteer.max_students,
        created_at=volunteer.created_at,
    )


def _check_offer(programme: Programme, data: VolunteerSignUp) -> None:
    if programme.kind == "tutoring":
        if not (data.subjects and data.grade_bands and data.slots):
            raise _terms("A tutor names subjects, grade bands and weekly slots")
        if data.amount_fen is not None:
            raise _terms("A tutor gives lessons, not an amount")
        return
    assert programme.amount_per_term_fen is not None
    if data.amount_fen is None or data.amount_fen < programme.amount_per_term_fen:
        raise _terms(
            f"A sponsor gives at least one student's term: {programme.amount_per_term_fen} fen"
        )
    region = data.region or programme.county_code
    if not (region.startswith(programme.county_code) or programme.county_code.startswith(region)):
        raise _terms(f"The region {region} does not meet the programme's county")


async def sign_up(
    session: AsyncSession, donor: User, programme_id: int, data: VolunteerSignUp
) -> VolunteerRead:
    """A donor signs up to a programme as a tutor or a sponsor (once per programme)."""
    if donor.role != "donor":
        raise Forbidden("Only a donor signs up as a volunteer or sponsor", code="donor_only")
    programme = await get_programme(session, donor, programme_id)
    _check_offer(programme, data)
    volunteer = Volunteer(
        programme_id=programme.id,
        donor_id=donor.id,
        subjects=mask(data.subjects, SUBJECTS),
        grade_bands=mask(data.grade_bands, GRADE_BANDS),
        slots=mask(data.slots, SLOTS),
        region=data.region,
        amount_fen=data.amount_fen,
        max_students=data.max_students,
        created_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(volunteer)
    except IntegrityError as exc:
        raise Conflict(
            "You have signed up to this programme already", code="already_signed_up"
        ) from exc
    return volunteer_read(volunteer)


# -- pairing students with volunteers --------------------------------------------------------


async def _waiting_students(session: AsyncSession, programme: Programme) -> Sequence[Student]:
    return (
        await session.scalars(
            select(Student)
            .where(Student.programme_id == programme.id, ~_ongoing(Student.id))
            .order_by(Student.id)
        )
    ).all()


async def _places(session: AsyncSession, programme: Programme) -> list[tuple[Volunteer, int]]:
    """Each volunteer with the places it has left."""
    taken = (
        select(ProgrammePairing.volunteer_id, func.count().label("taken"))
        .where(ProgrammePairing.programme_id == programme.id, ProgrammePairing.status.in_(ONGOING))
        .group_by(ProgrammePairing.volunteer_id)
        .subquery()
    )
    rows = await session.execute(
        select(Volunteer, func.coalesce(taken.c.taken, 0))
        .outerjoin(taken, taken.c.volunteer_id == Volunteer.id)
        .where(Volunteer.programme_id == programme.id)
        .order_by(Volunteer.id)
    )
    places = []
    for volunteer, used in rows.all():
        most = volunteer.max_students
        if programme.kind == "sponsorship":
            assert programme.amount_per_term_fen
            assert volunteer.amount_fen
            most = min(most, volunteer.amount_fen // programme.amount_per_term_fen)
        places.append((volunteer, max(most - int(used), 0)))
    return places


def _problem(
    programme: Programme, students: Sequence[Student], places: list[tuple[Volunteer, int]]
) -> tuple[matching.Students, matching.Volunteers]:
    """The arrays of `matching.pair_students`: a sponsor is any subject, band and slot, and
    serves its region; a tutor serves anywhere and prefers its region."""
    sponsorship = programme.kind == "sponsorship"
    n, m = len(students), len(places)
    every_subject, every_slot = full(SUBJECTS), full(SLOTS)
    pupils = matching.Students(
        subjects=[every_subject if sponsorship else s.subjects for s in students],
        band=[band_of_grade(s.grade) for s in students],
        slots=[every_slot if sponsorship else s.slots for s in students],
        village=np.array([s.village_code for s in students], dtype=str).reshape(n),
    )
    region = [(v.region or programme.county_code) if sponsorship else "" for v, _ in places]
    volunteers = matching.Volunteers(
        subjects=[every_subject if sponsorship else v.subjects for v, _ in places],
        bands=[full(GRADE_BANDS) if sponsorship else v.grade_bands for v, _ in places],
        slots=[every_slot if sponsorship else v.slots for v, _ in places],
        capacity=[left for _, left in places],
        region=np.array(region, dtype=str).reshape(m),
        preferred=np.array(["" if sponsorship else v.region for v, _ in places], dtype=str),
    )
    return pupils, volunteers


async def run_matching(session: AsyncSession, admin: User, programme_id: int) -> MatchingRead:
    """Pair the programme's waiting students with its volunteers' free places, exactly: the
    most students paired, then the largest total score."""
    if admin.role not in CREATORS:
        raise Forbidden("Only a county or platform admin pairs a programme", code="not_allowed")
    programme = await get_programme(session, admin, programme_id)
    # One run of a programme at a time: the row lock serialises them (SQLite: the write lock).
    await session.execute(
        select(Programme.id).where(Programme.id == programme.id).with_for_update()
    )
    started = max(today(), programme.term_start)
    if started >= programme.term_end:
        raise _terms("The programme's term has ended")
    students = await _waiting_students(session, programme)
    places = await _places(session, programme)
    pupils, volunteers = _problem(programme, students, places)
    result = await asyncio.to_thread(
        matching.pair_students, pupils, volunteers, preference_weight=PREFERENCE_WEIGHT
    )
    created = []
    for i, j, score in zip(
        result.student.tolist(), result.volunteer.tolist(), result.score.tolist(), strict=True
    ):
        student, volunteer = students[i], places[j][0]
        created.append(await _start(session, programme, student, volunteer, score, started))
    try:
        await session.flush()
    except IntegrityError as exc:  # a student paired by a concurrent run
        raise Conflict(
            "Another run paired these students meanwhile; retry", code="concurrent_update"
        ) from exc
    return MatchingRead(
        programme_id=programme.id,
        students_waiting=len(students),
        capacity=int(volunteers.capacity.sum()),
        paired=result.matched,
        total_score=result.objective,
        solver_seconds=round(result.seconds, 6),  # a long float reads like an ID number
        pairings=[_read(pairing, 0) for pairing in created],
    )


async def _start(
    session: AsyncSession,
    programme: Programme,
    student: Student,
    volunteer: Volunteer,
    score: int,
    started: dt.date,
) -> ProgrammePairing:
    pairing = ProgrammePairing(
        programme_id=programme.id,
        student_id=student.id,
        volunteer_id=volunteer.id,
        donor_id=volunteer.donor_id,
        village_code=student.village_code,
        county_code=student.county_code,
        status="active",
        score=score,
        started_on=started,
        ends_on=programme.term_end,
        renewals=0,
        sessions_planned=programme.sessions_per_term or 0,
        version=1,
        created_at=utcnow(),
    )
    session.add(pairing)
    await session.flush()
    _schedule_payment(session, programme, pairing, term=1, due=started)
    return pairing


def _schedule_payment(
    session: AsyncSession,
    programme: Programme,
    pairing: ProgrammePairing,
    *,
    term: int,
    due: dt.date,
) -> None:
    """A sponsor's payment for one term of a sponsorship pairing, due on the term's first day."""
    if programme.amount_per_term_fen is None:
        return
    session.add(
        SponsorshipPayment(
            pairing_id=pairing.id,
            term=term,
            due_on=due,
            amount_fen=programme.amount_per_term_fen,
            county_code=pairing.county_code,
            status="scheduled",
            created_at=utcnow(),
        )
    )


async def _cancel_payments(session: AsyncSession, pairing: ProgrammePairing) -> None:
    """Cancel a terminated pairing's payments still scheduled: a conditional update, so one
    received meanwhile (its compare-and-set won) stays received."""
    before = "scheduled"
    await session.execute(
        update(SponsorshipPayment)
        .where(SponsorshipPayment.pairing_id == pairing.id, SponsorshipPayment.status == before)
        .values(status=PAYMENT.check(before, "cancel").to)
        .execution_options(synchronize_session=False)
    )


# -- pairings ---------------------------------------------------------------------------------


def _mine(user: User) -> ColumnElement[bool]:
    if user.is_admin:
        return admin_scope(user).where(ProgrammePairing.village_code)
    return ProgrammePairing.donor_id == user.id


async def _held(session: AsyncSession, pairing_ids: list[int]) -> dict[int, int]:
    rows = await session.execute(
        select(TutoringSession.pairing_id, func.count())
        .where(TutoringSession.pairing_id.in_(pairing_ids))
        .group_by(TutoringSession.pairing_id)
    )
    return {pairing_id: int(count) for pairing_id, count in rows.all()}


def _read(pairing: ProgrammePairing, held: int) -> ProgrammePairingRead:
    planned = pairing.sessions_planned
    return ProgrammePairingRead.model_validate(pairing).model_copy(
        update={"sessions_held": held, "success": held / planned if planned else None}
    )


async def get_pairing(session: AsyncSession, user: User, pairing_id: int) -> ProgrammePairing:
    """A pairing of the admin's scope, or of the donor who volunteers in it; else 404."""
    pairing = await session.scalar(
        select(ProgrammePairing).where(ProgrammePairing.id == pairing_id, _mine(user))
    )
    if pairing is None:
        raise _pairing_not_found(pairing_id)
    return pairing


async def read_pairing(session: AsyncSession, user: User, pairing_id: int) -> ProgrammePairingRead:
    pairing = await get_pairing(session, user, pairing_id)
    return _read(pairing, (await _held(session, [pairing.id])).get(pairing.id, 0))


async def list_pairings(
    session: AsyncSession, user: User, programme_id: int, *, limit: int, cursor: str | None
) -> tuple[list[ProgrammePairingRead], str | None]:
    """A programme's pairings: of the admin's scope, or the donor's own; newest first."""
    programme = await get_programme(session, user, programme_id)
    statement = select(ProgrammePairing).where(
        ProgrammePairing.programme_id == programme.id, _mine(user)
    )
    rows, next_cursor = await page_by_id(
        session, statement, ProgrammePairing.id, limit=limit, cursor=cursor
    )
    held = await _held(session, [row.id for row in rows])
    return [_read(row, held.get(row.id, 0)) for row in rows], next_cursor


async def move(
    session: AsyncSession, user: User, pairing_id: int, action: str
) -> ProgrammePairingRead:
    """Apply ``action`` to a pairing if it is still in the state and version it was read in;
    the loser of a race gets 409 (``programme_pairing_changed``)."""
    pairing = await get_pairing(session, user, pairing_id)
    require(user, TABLE.check(pairing.status, action).by)
    values: dict[str, Any] = {"version": pairing.version + 1}
    if action == "renew":
        programme = await session.get(Programme, pairing.programme_id)
        assert programme is not None
        term = programme.term_end - programme.term_start
        values |= {
            "ends_on": pairing.ends_on + term,
            "renewals": pairing.renewals + 1,
            "sessions_planned": pairing.sessions_planned + (programme.sessions_per_term or 0),
        }
    if TABLE.check(pairing.status, action).to in ENDED:
        values["ended_at"] = utcnow()
    old_end = pairing.ends_on
    await compare_and_set(
        session, pairing, TABLE, action,
        guard={"version": pairing.version},
        lost="programme_pairing_changed", **values,
    )  # fmt: skip
    if action == "renew":
        assert programme is not None
        _schedule_payment(session, programme, pairing, term=pairing.renewals + 1, due=old_end)
        await session.flush()
    if action == "terminate":
        await _cancel_payments(session, pairing)
    return _read(pairing, (await _held(session, [pairing.id])).get(pairing.id, 0))


# -- tutoring sessions -----------------------------------------------------------------------


async def record_session(
    session: AsyncSession, user: User, pairing_id: int, data: SessionCreate
) -> SessionRead:
    """A lesson held in an ongoing tutoring pairing: by its tutor or an admin in scope."""
    pairing = await get_pairing(session, user, pairing_id)
    programme = await session.get(Programme, pairing.programme_id)
    assert programme is not None
    if programme.kind != "tutoring":
        raise _terms("Sessions are held in tutoring pairings only")
    if pairing.status not in ONGOING:
        raise Conflict(f"A {pairing.status} pairing holds no more sessions", code="conflict")
    if not (pairing.started_on <= data.held_on < pairing.ends_on and data.held_on <= today()):
        raise Unprocessable(
            f"A session is held from {pairing.started_on} to {pairing.ends_on} (exclusive), "
            "and not in the future",
            code="session_outside_term",
        )
    lesson = TutoringSession(
        pairing_id=pairing.id,
        held_on=data.held_on,
        minutes=data.minutes,
        note=data.note,
        recorded_by_id=user.id,
        created_at=utcnow(),
    )
    session.add(lesson)
    await session.flush()
    return SessionRead.model_validate(lesson)


async def list_sessions(
    session: AsyncSession, user: User, pairing_id: int, *, limit: int, cursor: str | None
) -> tuple[list[SessionRead], str | None]:
    pairing = await get_pairing(session, user, pairing_id)
    rows, next_cursor = await page_by_id(
        session,
        select(TutoringSession).where(TutoringSession.pairing_id == pairing.id),
        TutoringSession.id,
        limit=limit,
        cursor=cursor,
    )
    return [SessionRead.model_validate(row) for row in rows], next_cursor


# -- figures for the statistics -------------------------------------------------------------


async def figures(
    session: AsyncSession, scope: str, lower: dt.date, upper: dt.date
) -> list[dict[str, Any]]:
    """Per programme kind: pairings started in ``[lower, upper)`` inside ``scope``, those
    ongoing, completed and terminated, sessions planned and held (tutoring), and the success
    (held / planned)."""
    held = (
        select(TutoringSession.pairing_id, func.count().label("held"))
        .group_by(TutoringSession.pairing_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            Programme.kind,
            func.count(),
            func.count().filter(ProgrammePairing.status.in_(ONGOING)),
            func.count().filter(ProgrammePairing.status == "completed"),
            func.count().filter(ProgrammePairing.status == "terminated"),
            func.coalesce(func.sum(ProgrammePairing.sessions_planned), 0),
            func.coalesce(func.sum(held.c.held), 0),
        )
        .join(Programme, Programme.id == ProgrammePairing.programme_id)
        .outerjoin(held, held.c.pairing_id == ProgrammePairing.id)
        .where(
            Scope(scope).where(ProgrammePairing.village_code),
            and_(ProgrammePairing.started_on >= lower, ProgrammePairing.started_on < upper),
        )
        .group_by(Programme.kind)
        .order_by(Programme.kind)
    )
    found = []
    for kind, started, ongoing, completed, terminated, planned, held_count in rows.all():
        found.append(
            {
                "kind": kind, "started": int(started), "ongoing": int(ongoing),
                "completed": int(completed), "terminated": int(terminated),
                "sessions_planned": int(planned), "sessions_held": int(held_count),
                "success": int(held_count) / int(planned) if planned else None,
            }
        )  # fmt: skip
    return found
