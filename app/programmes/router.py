"""结对: programmes (county admins), students (admins in scope), volunteers and sponsors
(donors), exact pairing runs, the pairings' life, tutoring sessions and sponsorship payments."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Path, status
from starlette.convertors import Convertor, register_url_convertor

from app.accounts.deps import Admin, CurrentUser, Donor
from app.core.db import SessionDep
from app.core.openapi import problems
from app.core.pagination import Cursor, Limit, Page
from app.core.types import IdParam
from app.programmes import payments, service
from app.programmes.schemas import (
    MatchingRead,
    PaymentDisbursed,
    PaymentReceived,
    PaymentRefunded,
    ProgrammeCreate,
    ProgrammePairingRead,
    ProgrammeRead,
    SessionCreate,
    SessionRead,
    SponsorshipPaymentRead,
    StudentEnrol,
    StudentRead,
    VolunteerRead,
    VolunteerSignUp,
)

programmes_router = APIRouter(prefix="/programmes", tags=["programmes"])
pairings_router = APIRouter(prefix="/programme-pairings", tags=["programmes"])

ProgrammeId = Annotated[IdParam, Path()]
PairingId = Annotated[IdParam, Path()]
PaymentId = Annotated[IdParam, Path()]
Action = Literal["renew", "pause", "resume", "complete", "terminate"]


class ActionConvertor(Convertor[str]):
    """A path segment that is one of the pairing's actions, and nothing else: so that another
    method on a sibling path (``POST …/payments``) is a 405, not an action named "payments"."""

    regex = "|".join(get_args(Action))

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("programme_pairing_action", ActionConvertor())


@programmes_router.post(
    "",
    response_model=ProgrammeRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(403),
)
async def create_programme(
    session: SessionDep, admin: Admin, body: ProgrammeCreate
) -> ProgrammeRead:
    """A county's one-to-one programme: sponsorship (一助一) or tutoring (云支教), for a term."""
    programme = await service.create_programme(session, admin, body)
    return ProgrammeRead.model_validate(programme)


@programmes_router.get("", response_model=Page[ProgrammeRead])
async def list_programmes(
    session: SessionDep, user: CurrentUser, limit: Limit = 20, cursor: Cursor = None
) -> Page[ProgrammeRead]:
    """Programmes, newest first: every one for a donor, those of its counties for an admin."""
    rows, next_cursor = await service.list_programmes(session, user, limit=limit, cursor=cursor)
    items = [ProgrammeRead.model_validate(row) for row in rows]
    return Page[ProgrammeRead](items=items, next_cursor=next_cursor)


@programmes_router.get("/{programme_id}", response_model=ProgrammeRead)
async def read_programme(
    session: SessionDep, user: CurrentUser, programme_id: ProgrammeId
) -> ProgrammeRead:
    """One programme the caller may see."""
    return ProgrammeRead.model_validate(await service.get_programme(session, user, programme_id))


@programmes_router.post(
    "/{programme_id}/students",
    response_model=StudentRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(403),
)
async def enrol_student(
    session: SessionDep, admin: Admin, programme_id: ProgrammeId, body: StudentEnrol
) -> StudentRead:
    """Enrol a student of a household of your scope (its grade, and for tutoring its subjects
    and weekly slots)."""
    return await service.enrol(session, admin, programme_id, body)


@programmes_router.get("/{programme_id}/students", response_model=Page[StudentRead])
async def list_students(
    session: SessionDep,
    admin: Admin,
    programme_id: ProgrammeId,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[StudentRead]:
    """The programme's students of your scope, by id."""
    items, next_cursor = await service.list_students(
        session, admin, programme_id, limit=limit, cursor=cursor
    )
    return Page[StudentRead](items=items, next_cursor=next_cursor)


@programmes_router.post(
    "/{programme_id}/volunteers",
    response_model=VolunteerRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(403, 409),
)
async def sign_up(
    session: SessionDep, donor: Donor, programme_id: ProgrammeId, body: VolunteerSignUp
) -> VolunteerRead:
    """Sign up as a tutor (subjects, grade bands, weekly slots) or a sponsor (an amount and a
    region), with the most students you take."""
    return await service.sign_up(session, donor, programme_id, body)


@programmes_router.post(
    "/{programme_id}/matching",
    response_model=MatchingRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(403, 409),
)
async def run_programme_matching(
    session: SessionDep, admin: Admin, programme_id: ProgrammeId
) -> MatchingRead:
    """Pair the waiting students with the volunteers' free places, exactly: the most students
    paired, then the largest total score (shared subjects and slots, preferences met)."""
    return await service.run_matching(session, admin, programme_id)


@programmes_router.get("/{programme_id}/pairings", response_model=Page[ProgrammePairingRead])
async def list_programme_pairings(
    session: SessionDep,
    user: CurrentUser,
    programme_id: ProgrammeId,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[ProgrammePairingRead]:
    """The programme's pairings, newest first: of your scope, or your own as a volunteer."""
    items, next_cursor = await service.list_pairings(
        session, user, programme_id, limit=limit, cursor=cursor
    )
    return Page[ProgrammePairingRead](items=items, next_cursor=next_cursor)


@pairings_router.get("/{pairing_id}", response_model=ProgrammePairingRead)
async def read_programme_pairing(
    session: SessionDep, user: CurrentUser, pairing_id: PairingId
) -> ProgrammePairingRead:
    """One pairing of your scope, or your own as its volunteer; with its sessions' success."""
    return await service.read_pairing(session, user, pairing_id)


@pairings_router.post(
    "/{pairing_id}/sessions",
    response_model=SessionRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(409),
)
async def record_tutoring_session(
    session: SessionDep, user: CurrentUser, pairing_id: PairingId, body: SessionCreate
) -> SessionRead:
    """Log a lesson held in a tutoring pairing: its tutor, or an admin in scope."""
    return await service.record_session(session, user, pairing_id, body)


@pairings_router.get("/{pairing_id}/sessions", response_model=Page[SessionRead])
async def list_tutoring_sessions(
    session: SessionDep,
    user: CurrentUser,
    pairing_id: PairingId,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[SessionRead]:
    """The lessons of a pairing, newest first."""
    items, next_cursor = await service.list_sessions(
        session, user, pairing_id, limit=limit, cursor=cursor
    )
    return Page[SessionRead](items=items, next_cursor=next_cursor)


@pairings_router.get("/{pairing_id}/payments", response_model=Page[SponsorshipPaymentRead])
async def list_sponsorship_payments(
    session: SessionDep,
    user: CurrentUser,
    pairing_id: PairingId,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[SponsorshipPaymentRead]:
    """A sponsorship pairing's payments by term, with their status: admins in scope, and the
    pairing's sponsor."""
    rows, next_cursor = await payments.list_payments(
        session, user, pairing_id, limit=limit, cursor=cursor
    )
    items = [SponsorshipPaymentRead.model_validate(row) for row in rows]
    return Page[SponsorshipPaymentRead](items=items, next_cursor=next_cursor)


# The steps of a sponsorship payment, one operation each: its name, its path's last segment,
# the body it takes (which tells payments.record the step) and its description.
PAYMENT_STEPS: tuple[tuple[str, str, type[payments.Step], str], ...] = (
    (
        "receive_sponsorship_payment",
        "receive",
        PaymentReceived,
        """Record a scheduled payment received from the sponsor (the county office): it is posted
        to the pairing's account in the fund pool; 409 if it was received, or cancelled, already.
        """,
    ),
    (
        "disburse_sponsorship_payment",
        "disburse",
        PaymentDisbursed,
        """Record a received payment paid out to the student's household (the county office): it
        leaves the pairing's account in the fund pool; 409 unless it was received and not yet paid.
        """,
    ),
    (
        "refund_sponsorship_payment",
        "refund",
        PaymentRefunded,
        """Record a terminated pairing's payment, received and not paid out, refunded to its
        sponsor (the county office): its receipt is reversed out of the pairing's account in the
        fund pool; 409 unless the pairing was terminated and the payment received and not yet paid.
        """,
    ),
)


def _add_payment_step(name: str, action: str, body_type: type[payments.Step], doc: str) -> None:
    """Declare ``POST …/payments/{payment_id}/{action}``, the operation ``name``, on the router."""

    async def record_payment_step(
        session: SessionDep,
        admin: Admin,
        pairing_id: PairingId,
        payment_id: PaymentId,
        body: payments.Step,
    ) -> SponsorshipPaymentRead:
        payment = await payments.record(session, admin, pairing_id, payment_id, body)
        return SponsorshipPaymentRead.model_validate(payment)

    # FastAPI reads the request body's schema from the annotation: this step's body, not the
    # union of the three.
    record_payment_step.__annotations__["body"] = body_type
    record_payment_step.__doc__ = doc
    pairings_router.add_api_route(
        f"/{{pairing_id}}/payments/{{payment_id}}/{action}",
        record_payment_step,
        methods=["POST"],
        name=name,
        response_model=SponsorshipPaymentRead,
        responses=problems(403, 409),
    )


for step in PAYMENT_STEPS:
    _add_payment_step(*step)


# A path's last segment is an action only when it names one (ActionConvertor).
@pairings_router.post(
    "/{pairing_id}/{action:programme_pairing_action}",
    response_model=ProgrammePairingRead,
    responses=problems(403, 409),
)
async def move_programme_pairing(
    session: SessionDep, admin: Admin, pairing_id: PairingId, action: Action
) -> ProgrammePairingRead:
    """Renew a pairing for another term, pause, resume, complete or terminate it (admins in
    scope); 409 when its state does not allow the action or it changed meanwhile."""
    return await service.move(session, admin, pairing_id, action)
