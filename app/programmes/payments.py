"""一助一 sponsorship payments through the fund pool: the county office records a term's payment
received from the sponsor, then paid out to the student's household.

Each step is a compare-and-set on the payment's status (:data:`app.programmes.states.PAYMENT`)
followed by its posting in the ledger (:mod:`app.funds.sponsorship`), in the request's one
transaction: of two admins acting at once one wins, the other gets 409 and posts nothing.
Terminating a pairing cancels its scheduled payments (:func:`app.programmes.service.move`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.accounts.policy import require
from app.core.db import utcnow
from app.core.errors import Forbidden, NotFound
from app.core.pagination import page_by_id
from app.core.transitions import compare_and_set
from app.funds import sponsorship
from app.programmes.models import SponsorshipPayment
from app.programmes.schemas import PaymentDisbursed, PaymentReceived
from app.programmes.service import CREATORS, get_pairing
from app.programmes.states import PAYMENT


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
    body: PaymentReceived | PaymentDisbursed,
) -> SponsorshipPayment:
    """A payment of a pairing of the admin's scope (else 404), recorded by its county's office
    (else 403) as received from the sponsor, or as paid out to the student's household: a
    compare-and-set on its status, then its posting in the ledger."""
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
    action, values = _step(admin, body)
    require(admin, PAYMENT.check(payment.status, action).by)
    if admin.role not in CREATORS:
        raise Forbidden("Only the county office records sponsorship money", code="county_only")
    await compare_and_set(
        session, payment, PAYMENT, action, lost="sponsorship_payment_changed", **values
    )
    await sponsorship.post(
        session, "receipt" if action == "receive" else "disbursement", payment.id, pairing.id,
        pairing.county_code, payment.amount_fen, body.voucher_no,
    )  # fmt: skip
    return payment


def _step(admin: User, body: PaymentReceived | PaymentDisbursed) -> tuple[str, dict[str, Any]]:
    """The action a body asks for, and what it writes on the payment."""
    now = utcnow()
    if isinstance(body, PaymentReceived):
        return "receive", {
            "received_on": body.received_on, "receipt_voucher_no": body.voucher_no,
            "received_by_id": admin.id, "received_at": now,
        }  # fmt: skip
    return "disburse", {
        "disbursed_on": body.disbursed_on, "disbursement_voucher_no": body.voucher_no,
        "disbursed_by_id": admin.id, "disbursed_at": now,
    }  # fmt: skip
