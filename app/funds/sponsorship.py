"""一助一 sponsorship money in the ledger: a sponsor's payment for a term of a pairing, received
by the county office into the pairing's restricted account, then paid out of it to the student's
household, or (the pairing terminated) refunded to the sponsor by the reversal of its receipt.

The pairing's account (``sponsorship:<pairing>``) is protected, so nothing is paid out before it
was received. What sponsors paid is the county's ``sponsor-income`` account (its balance is minus
the income) and what reached households its ``sponsor-paid`` account. None of these is an account
of donations: the disclosure's income and the county's online and offline totals stay donations
alone. Each posting is written once by its payment's business key.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.funds import ledger
from app.funds.models import FundAccount, FundTransaction

CHANNEL = "sponsorship"
INCOME_KIND, PAID_KIND = "sponsor_income", "sponsor_paid"


async def held(session: AsyncSession, pairing_id: int, county_code: str) -> FundAccount:
    """A pairing's money received from its sponsor and not yet paid out."""
    return await ledger.account(
        session, f"sponsorship:{pairing_id}", "sponsorship", county_code=county_code
    )


async def _income(session: AsyncSession, county_code: str) -> FundAccount:
    return await ledger.account(
        session, f"sponsor-income:{county_code}", INCOME_KIND, county_code=county_code
    )


async def _paid(session: AsyncSession, county_code: str) -> FundAccount:
    return await ledger.account(
        session, f"sponsor-paid:{county_code}", PAID_KIND, county_code=county_code
    )


async def post(
    session: AsyncSession,
    step: Literal["receipt", "disbursement"],
    payment_id: int,
    pairing_id: int,
    county_code: str,
    amount_fen: int,
    voucher_no: str,
) -> FundTransaction:
    """Post a payment's ``step``, once: its receipt from the sponsor into the pairing's account,
    or its disbursement out of that account to the student's household (409
    ``insufficient_funds`` if the account does not hold it)."""
    pairing = await held(session, pairing_id, county_code)
    if step == "receipt":
        source, target, kind = await _income(session, county_code), pairing, "income"
    else:
        source, target, kind = pairing, await _paid(session, county_code), "disbursement"
    legs = [ledger.Leg(source, -amount_fen), ledger.Leg(target, amount_fen)]
    posted = await ledger.post(
        session, _key(step, payment_id), kind, legs, county_code=county_code,
        channel=CHANNEL, memo=f"voucher {voucher_no}",
    )  # fmt: skip
    return posted.transaction


async def refund(session: AsyncSession, payment_id: int, voucher_no: str) -> FundTransaction:
    """Refund a payment received and not paid out, once: its receipt is reversed, out of the
    pairing's account and off the county's sponsorship income (409 ``insufficient_funds`` if
    the account no longer holds it)."""
    receipt = await session.scalar(
        select(FundTransaction).where(FundTransaction.business_key == _key("receipt", payment_id))
    )
    assert receipt is not None, f"payment {payment_id} was received without its posting"
    posted = await ledger.reverse(session, receipt, memo=f"refund voucher {voucher_no}")
    return posted.transaction


def _key(step: str, payment_id: int) -> str:
    return f"sponsorship-{step}:{payment_id}"
