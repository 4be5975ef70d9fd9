"""一助一 sponsorship payments through the fund pool: the county office records a term's payment
received from the sponsor, then paid out to the student's household, or, the pairing terminated
before it was paid out, refunded to the sponsor.

Each step is a compare-and-set on the payment's status (:data:`app.programmes.states.PAYMENT`)
followed by its posting in the ledger (:mod:`app.funds.sponsorship`), in the request's one
transaction: of two admins acting at once one wins, the other gets 409 and posts nothing. A
step's day is a day in China, not in the future, and not before the step it follows.
Terminating a pairing cancels its scheduled payments (:func:`app.programmes.service.move`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.accounts.policy import require
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.pagination import page_by_id
from app.core.transitions import compare_and_set
from app.funds import sponsorship
from app.programmes.models import ProgrammePairing, SponsorshipPayment
from app.programmes.schemas import PaymentDisbursed, PaymentReceived, PaymentRefunded
from app.programmes.service import CREATORS, CST, get_pairing, today
from app.programmes.states import PAYMENT, REFUNDABLE

Step = PaymentReceived | PaymentDisbursed | PaymentRefunded


async def list_payments(
    session: AsyncSession, user: User, pairing_id: int, *, limit: int, cursor: str | None
) -> tuple[Sequence[SponsorshipPayment], str | None]:
    """A pairing's payments by term: for admins in scope, and for its sponsor."""
    pairing = await get_pairing(session, user, pairing_id)
    return await page_by_id(
        session,
        select(SponsorshipPayment).where(SponsorshipPayment.pairing_id == pairing.id),
        SponsorshipPayment.id,
        limit=limit,
        cursor=cursor,
        newest_first=False,
    )


async def record(
    session: AsyncSession,
    admin: User,
    pairing_id: int,
    payment_id: int,
    body: Step,
) -> SponsorshipPayment:
    """A payment of a pairing of the admin's scope (else 404), recorded by its county's office
    (else 403) as received from the sponsor, as paid out to the student's household, or as
    refunded to the sponsor (a terminated pairing's only, else 409): a compare-and-set on its
    status, then its posting in the ledger."""
    pairing = await get_pairing(session, admin, pairing_id)
    payment = await session.scalar(
        select(SponsorshipPayment).where(
            SponsorshipPayment.id == payment_id, SponsorshipPayment.pairing_id == pairing.id
        )
    )
    if payment is None:
        raise NotFound(
            f"No payment {payment_id} of programme pairing {pairing_id}",
            code="sponsorship_payment_not_found",
        )
    action, day, values = _step(admin, body)
    require(admin, PAYMENT.check(payment.status, action).by)
    if admin.role not in CREATORS:
        raise Forbidden("Only the county office records sponsorship money", code="county_only")
    if action == "refund" and pairing.status not in REFUNDABLE:
        raise Conflict(
            f"A {pairing.status} pairing's payment is not refunded; only a terminated one's is",
            code="pairing_not_terminated",
            state=pairing.status,
        )
    _check_day(payment, pairing, action, day)
    await compare_and_set(
        session, payment, PAYMENT, action, lost="sponsorship_payment_changed", **values
    )
    if action == "refund":
        await sponsorship.refund(session, payment.id, body.voucher_no)
        return payment
    await sponsorship.post(
        session, "receipt" if action == "receive" else "disbursement", payment.id, pairing.id,
        pairing.county_code, payment.amount_fen, body.voucher_no,
    )  # fmt: skip
    return payment


def _step(admin: User, body: Step) -> tuple[str, dt.date, dict[str, Any]]:
    """The action a body asks for, its day, and what it writes on the payment."""
    now = utcnow()
    if isinstance(body, PaymentReceived):
        return "receive", body.received_on, {
            "received_on": body.received_on, "receipt_voucher_no": body.voucher_no,
            "received_by_id": admin.id, "received_at": now,
        }  # fmt: skip
    if isinstance(body, PaymentRefunded):
        return "refund", body.refunded_on, {
            "refunded_on": body.refunded_on, "refund_voucher_no": body.voucher_no,
            "refunded_by_id": admin.id, "refunded_at": now,
        }  # fmt: skip
    return "disburse", body.disbursed_on, {
        "disbursed_on": body.disbursed_on, "disbursement_voucher_no": body.voucher_no,
        "disbursed_by_id": admin.id, "disbursed_at": now,
    }  # fmt: skip


def _check_day(
    payment: SponsorshipPayment, pairing: ProgrammePairing, action: str, day: dt.date
) -> None:
    """A step's day (in China) is not in the future, and not before the step it follows: money
    is received once the pairing was made, and paid out or refunded once it was received."""
    if day > today():
        raise Unprocessable(
            f"A payment cannot be {PAYMENT.check(payment.status, action).to} on {day}, "
            f"in the future (today is {today()} in China)",
            code="payment_in_future",
        )
    earliest = (
        pairing.created_at.astimezone(CST).date() if action == "receive" else payment.received_on
    )
    assert earliest is not None, "a received payment has its day"
    if day < earliest:
        after = "the pairing was made" if action == "receive" else "it was received"
        raise Unprocessable(
            f"A payment cannot be {PAYMENT.check(payment.status, action).to} on {day}, "
            f"before {earliest}, the day {after}",
            code="payment_too_early",
            earliest=earliest.isoformat(),
        )
