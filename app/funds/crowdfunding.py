"""A need's funding: crowdfunded by donors (open until 100%, or its deadline), or allocated from
the county's pool; then the purchase, recorded against the need's account, and receipt.

Nothing is bought before a need is funded at 100%. A crowdfunding past its deadline unfunded
expires: each donor's share of the need's account becomes that donor's credits for a number of
days (a setting, 30 by default), to give to another need; credits not given by then go to the
county's pool.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.scope import Scope
from app.core.settings import Settings
from app.core.transitions import move_each
from app.funds import ledger
from app.funds.common import move
from app.funds.models import Donation, FundAccount, FundEntry, FundTransaction, NeedFunding
from app.funds.schemas import FundingCreate, Purchase
from app.funds.states import FUNDING
from app.needs import lifecycle as need_lifecycle
from app.needs.models import Need
from app.photos.models import Photo

DEADLINE_PASSED = "deadline passed"


async def need_account(session: AsyncSession, need: Need, target_fen: int) -> FundAccount:
    """A need's restricted account: it never holds more than the need's value."""
    return await ledger.account(
        session, f"need:{need.id}", "need", county_code=need.county_code, need_id=need.id,
        ceiling_fen=target_fen,
    )  # fmt: skip


async def credits_account(
    session: AsyncSession, donor_id: int, funding: NeedFunding, days: int
) -> FundAccount:
    """A donor's credits from one funding, lapsing ``days`` after they were first made."""
    return await ledger.account(
        session, f"credits:{donor_id}:{funding.id}", "credits", county_code=funding.county_code,
        donor_id=donor_id, expires_at=utcnow() + dt.timedelta(days=days),
    )  # fmt: skip


async def open_funding(
    session: AsyncSession, admin: User, scope: Scope, body: FundingCreate, settings: Settings
) -> NeedFunding:
    """Crowdfund a published need of at least the setting's value, in the admin's scope."""
    need = await session.scalar(
        select(Need).where(Need.id == body.need_id, scope.where(Need.village_code))
    )
    if need is None:
        raise NotFound(f"No need {body.need_id}", code="need_not_found")
    if need.status != "published":
        raise Conflict("Only a published need is crowdfunded", code="need_not_published")
    if need.value_fen < settings.crowdfunding_min_fen:
        raise Unprocessable(
            "The need is worth less than a crowdfunding's least value",
            code="funding_too_small", min_fen=settings.crowdfunding_min_fen,
        )  # fmt: skip
    if body.deadline <= utcnow().date():
        raise Unprocessable("The deadline must be after today", code="deadline_in_past")
    return await _start(session, admin, need, "crowdfunding", "open", deadline=body.deadline)


async def _start(
    session: AsyncSession, admin: User, need: Need, source: str, status: str, **values: object
) -> NeedFunding:
    await need_lifecycle.paid_with_money(session, need, source)
    account = await need_account(session, need, need.value_fen)
    funding = NeedFunding(
        need_id=need.id, county_code=need.county_code, village_code=need.village_code,
        category=need.category, source=source, target_fen=need.value_fen, account_id=account.id,
        status=status, opened_by_id=admin.id, **values,
    )  # fmt: skip
    try:
        async with session.begin_nested():
            session.add(funding)
            await session.flush()
    except IntegrityError:
        raise Conflict("The need is funded already", code="funding_exists") from None
    return funding


async def start_allocated(
    session: AsyncSession, admin: User, need: Need, allocation_id: int
) -> NeedFunding:
    """A need paid from the pool: its funding starts funded."""
    return await _start(
        session, admin, need, "allocation", "funded", allocation_id=allocation_id,
        funded_at=utcnow(),
    )  # fmt: skip


async def reached_target(session: AsyncSession, funding: NeedFunding) -> None:
    """Funded at 100%: the crowdfunding closes (the caller holds the funding's row lock)."""
    if await ledger.balance(session, funding.account_id) == funding.target_fen:
        await move(session, funding, FUNDING, "fund", lost="funding_changed", funded_at=utcnow())


async def raised(session: AsyncSession, funding: NeedFunding) -> int:
    """What reached the need's account (before any purchase or expiry)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(FundEntry.amount_fen), 0)).where(
            FundEntry.account_id == funding.account_id, FundEntry.amount_fen > 0
        )
    )
    return int(total or 0)


async def get_funding(
    session: AsyncSession, funding_id: int, scope: Scope | None = None
) -> NeedFunding:
    query = select(NeedFunding).where(NeedFunding.id == funding_id)
    if scope is not None:
        query = query.where(scope.where(NeedFunding.village_code))
    funding = await session.scalar(query)
    if funding is None:
        raise NotFound(f"No funding {funding_id}", code="funding_not_found")
    return funding


async def purchase(
    session: AsyncSession, admin: User, scope: Scope, funding_id: int, body: Purchase
) -> NeedFunding:
    """The village records what the need's money bought: a voucher or a receipt photo."""
    funding = await get_funding(session, funding_id, scope)
    FUNDING.check(funding.status, "purchase")
    if body.voucher_no is None and body.photo_id is None:
        raise Unprocessable(
            "Give a voucher number or a receipt photo", code="purchase_proof_required"
        )
    if body.photo_id is not None:
        photo = await session.get(Photo, body.photo_id)
        if photo is None or photo.need_id != funding.need_id:
            raise NotFound("No such photo of this need", code="photo_not_found")
    await move(session, funding, FUNDING, "purchase", lost="funding_changed", purchased_at=utcnow(),
        purchase_voucher=body.voucher_no, purchase_photo_id=body.photo_id,
        purchase_note=body.note,
    )  # fmt: skip
    account = await ledger.lock(session, funding.account_id)
    target = await ledger.disbursed(session, funding.county_code)
    await ledger.post(
        session, f"disbursement:{funding.id}", "disbursement",
        [ledger.Leg(account, -account.balance_fen), ledger.Leg(target, account.balance_fen)],
        county_code=funding.county_code, funding_id=funding.id,
    )  # fmt: skip
    return funding


async def confirm(session: AsyncSession, admin: User, scope: Scope, funding_id: int) -> NeedFunding:
    """The village confirms the household received what was bought: the need is fulfilled."""
    funding = await get_funding(session, funding_id, scope)
    await move(session, funding, FUNDING, "confirm", lost="funding_changed", completed_at=utcnow())
    await need_lifecycle.settle(session, funding.need_id, funding.source, actor_id=admin.id)
    return funding


# -- scheduled steps (app/jobs.py) -------------------------------------------------------------


async def expire_fundings(
    session: AsyncSession, today: dt.date, credits_days: int, *, batch: int = 200
) -> int:
    """Crowdfundings past their deadline unfunded: each donor's share becomes credits."""
    due = (
        await session.scalars(
            select(NeedFunding)
            .where(NeedFunding.status == "open", NeedFunding.deadline < today)
            .order_by(NeedFunding.deadline, NeedFunding.id)
            .limit(batch)
        )
    ).all()

    async def expire(funding: NeedFunding) -> None:
        await move(session, funding, FUNDING, "expire", lost="funding_changed", expired_at=utcnow())
        await need_lifecycle.no_longer_paid_with_money(session, funding.need_id, funding.source)
        await refund_to_credits(session, funding, credits_days)

    return await move_each(session, due, expire)


async def refund_to_credits(session: AsyncSession, funding: NeedFunding, days: int) -> None:
    """Each donor's net share of an expired need's account, to that donor's credits."""
    account = await ledger.lock(session, funding.account_id)
    shares = (
        await session.execute(
            select(Donation.donor_id, func.sum(FundEntry.amount_fen))
            .join(FundTransaction, FundTransaction.id == FundEntry.transaction_id)
            .join(Donation, Donation.id == FundTransaction.donation_id)
            .where(FundEntry.account_id == account.id, Donation.donor_id.is_not(None))
            .group_by(Donation.donor_id)
            .order_by(Donation.donor_id)
        )
    ).all()
    legs, left = [], account.balance_fen
    for donor_id, share in shares:
        share = min(int(share or 0), left)
        if share > 0 and donor_id is not None:
            held = await credits_account(session, donor_id, funding, days)
            legs.append(ledger.Leg(held, share))
            left -= share
    if left:
        legs.append(ledger.Leg(await ledger.pool(session, funding.county_code), left))
    if legs:
        legs.append(ledger.Leg(account, -account.balance_fen))
        await ledger.post(
            session, f"credit:{funding.id}", "credit", legs, county_code=funding.county_code,
            funding_id=funding.id, memo=DEADLINE_PASSED,
        )  # fmt: skip


async def lapse_credits(session: AsyncSession, now: dt.datetime, *, batch: int = 500) -> int:
    """Credits not given by their end go to the county's pool."""
    due = (
        await session.scalars(
            select(FundAccount)
            .where(
                FundAccount.kind == "credits",
                FundAccount.expires_at < now,
                FundAccount.balance_fen > 0,
            )
            .order_by(FundAccount.expires_at, FundAccount.id)
            .limit(batch)
        )
    ).all()

    async def lapse(account: FundAccount) -> None:
        held = await ledger.lock(session, account.id)
        if held.balance_fen <= 0:
            raise Conflict("spent meanwhile", code="credits_changed")
        assert held.county_code is not None
        pool = await ledger.pool(session, held.county_code)
        await ledger.post(
            session, f"credit-expiry:{held.id}:{held.version}", "credit_expiry",
            [ledger.Leg(held, -held.balance_fen), ledger.Leg(pool, held.balance_fen)],
            county_code=held.county_code,
        )  # fmt: skip

    return await move_each(session, due, lapse)
