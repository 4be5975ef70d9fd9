"""The fund pool's endpoints: donations and the payment channel's notifications, crowdfunding,
allocations, and the public disclosure and figures."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from app.accounts.deps import Admin, AdminScope, CurrentUser, Donor
from app.core.db import SessionDep
from app.core.errors import Conflict
from app.core.openapi import problems
from app.core.settings import Settings
from app.core.types import CountyCode, IdParam, Text
from app.funds import allocation as allocations
from app.funds import crowdfunding, disclosure, donations
from app.funds.common import CST, receipt_text
from app.funds.models import Allocation, Donation, NeedFunding
from app.funds.schemas import (
    AllocationCreate,
    AllocationItemRead,
    AllocationRead,
    DecideAllocation,
    DisclosureRead,
    DonationCreate,
    DonationRead,
    FundingCreate,
    FundingRead,
    FundStats,
    NotifyAnswer,
    OfflineDonationCreate,
    Purchase,
    Receipt,
    ReverseDonation,
)
from app.funds.wechatpay import WechatPay
from app.regions.models import Region

router = APIRouter(tags=["funds"])
STEP = problems(403, 404, 409)
Period = Annotated[str, Text(7, strip=False, pattern=r"^[0-9]{4}(-[0-9]{2}|Q[1-4])?$")]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _provider(request: Request) -> WechatPay | None:
    provider: WechatPay | None = request.app.state.wechat_pay
    return provider


def donation_read(donation: Donation) -> DonationRead:
    return DonationRead(
        id=donation.id, status=donation.status, channel=donation.channel,
        amount_fen=donation.amount_fen, to_need_fen=donation.to_need_fen,
        county_code=donation.county_code, need_id=donation.need_id,
        out_trade_no=donation.out_trade_no, code_url=donation.code_url,
        receipt_no=receipt_text(donation.county_code, donation.receipt_year, donation.receipt_no)
        if donation.receipt_year and donation.receipt_no else None,
        paid_at=donation.paid_at, created_at=donation.created_at,
    )  # fmt: skip


async def funding_read(session: SessionDep, funding: NeedFunding) -> FundingRead:
    return FundingRead(
        id=funding.id, need_id=funding.need_id, category=funding.category,
        village_code=funding.village_code, source=funding.source,
        status=funding.status,
        target_fen=funding.target_fen, raised_fen=await crowdfunding.raised(session, funding),
        deadline=funding.deadline, funded_at=funding.funded_at,
        purchased_at=funding.purchased_at, completed_at=funding.completed_at,
        version=funding.version,
    )  # fmt: skip


async def allocation_read(session: SessionDep, allocation: Allocation) -> AllocationRead:
    chosen = await allocations.items(session, allocation.id)
    return AllocationRead(
        id=allocation.id, county_code=allocation.county_code,
        status=allocation.status,
        pool_fen=allocation.pool_fen, total_fen=allocation.total_fen,
        objective=round(allocation.objective, 2), candidates=allocation.candidates,
        solver_seconds=round(allocation.solver_seconds, 3),
        items=[
            AllocationItemRead(
                need_id=i.need_id, amount_fen=i.amount_fen, priority=round(i.priority, 4)
            )
            for i in chosen
        ],
        version=allocation.version, created_at=allocation.created_at,
        decided_at=allocation.decided_at,
    )  # fmt: skip


# -- donations ---------------------------------------------------------------------------------


@router.post(
    "/donations",
    response_model=DonationRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(403, 404, 409, 503),
)
async def create_donation(
    session: SessionDep, donor: Donor, body: DonationCreate, request: Request
) -> DonationRead:
    """Give to a county's pool or a crowdfunded need: a WeChat Pay order, or from credits."""
    donation = await donations.donate(session, donor, body, _settings(request), _provider(request))
    return donation_read(donation)


@router.post(
    "/offline-donations",
    response_model=DonationRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(403, 404, 409),
)
async def record_offline_donation(
    session: SessionDep, admin: Admin, scope: AdminScope, body: OfflineDonationCreate
) -> DonationRead:
    """The county office records money received in person, by its voucher (once per voucher)."""
    return donation_read(await donations.record_offline(session, admin, scope, body))


@router.get("/donations/{donation_id}", response_model=DonationRead, responses=problems(404))
async def read_donation(
    session: SessionDep, user: CurrentUser, donation_id: Annotated[IdParam, Path()]
) -> DonationRead:
    """A donation, for its donor or an admin of its county."""
    return donation_read(await donations.get_own(session, user, donation_id))


@router.post(
    "/donations/{donation_id}/close",
    response_model=DonationRead,
    responses=problems(403, 404, 409, 503),
)
async def close_donation(
    session: SessionDep, donor: Donor, donation_id: Annotated[IdParam, Path()], request: Request
) -> DonationRead:
    """The donor gives up an order not yet paid."""
    return donation_read(await donations.close(session, donor, donation_id, _provider(request)))


@router.post("/donations/{donation_id}/reverse", response_model=DonationRead, responses=STEP)
async def reverse_donation(
    session: SessionDep,
    admin: Admin,
    scope: AdminScope,
    donation_id: Annotated[IdParam, Path()],
    body: ReverseDonation,
) -> DonationRead:
    """Undo a donation recorded by mistake (or refunded) by a reversing ledger transaction."""
    return donation_read(await donations.reverse(session, admin, scope, donation_id, body.reason))


@router.get(
    "/donations/{donation_id}/receipt", response_model=Receipt, responses=problems(404, 409)
)
async def read_receipt(
    session: SessionDep, user: CurrentUser, donation_id: Annotated[IdParam, Path()]
) -> Receipt:
    """The receipt of a settled donation, for its donor."""
    donation = await donations.get_own(session, user, donation_id)
    if donation.receipt_no is None or donation.receipt_year is None or donation.paid_at is None:
        raise Conflict("No receipt was issued for this donation", code="receipt_not_issued")
    region = await session.get(Region, donation.county_code)
    return Receipt(
        receipt_no=receipt_text(donation.county_code, donation.receipt_year, donation.receipt_no),
        donation_id=donation.id, amount_fen=donation.amount_fen, channel=donation.channel,
        county_code=donation.county_code, county_name=region.name if region else "",
        need_id=donation.need_id, donor=user.display_name if donation.donor_id == user.id else None,
        paid_at=donation.paid_at, reversed=donation.status == "reversed",
    )  # fmt: skip


@router.post(
    "/payments/notify/wechat_pay",
    response_model=NotifyAnswer,
    responses=problems(400, 404, 409, 422),
)
async def receive_wechat_pay_notification(session: SessionDep, request: Request) -> NotifyAnswer:
    """WeChat Pay's payment notification: signed by the platform, the transaction encrypted."""
    outcome = await donations.notified(
        session, _provider(request), request.headers, await request.body(),
        _settings(request).credits_days,
    )  # fmt: skip
    return NotifyAnswer(message="成功", outcome=outcome)


# -- crowdfunding ------------------------------------------------------------------------------


@router.post(
    "/fundings",
    response_model=FundingRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(403, 404, 409),
)
async def open_funding(
    session: SessionDep, admin: Admin, scope: AdminScope, body: FundingCreate, request: Request
) -> FundingRead:
    """Crowdfund a published need of at least the least value, until a deadline."""
    funding = await crowdfunding.open_funding(session, admin, scope, body, _settings(request))
    return await funding_read(session, funding)


@router.get("/fundings/{funding_id}", response_model=FundingRead, responses=problems(404))
async def read_funding(
    session: SessionDep, user: CurrentUser, funding_id: Annotated[IdParam, Path()]
) -> FundingRead:
    """A need's funding: its target, what was raised, and where it stands."""
    return await funding_read(session, await crowdfunding.get_funding(session, funding_id))


@router.post("/fundings/{funding_id}/purchase", response_model=FundingRead, responses=STEP)
async def purchase_funding(
    session: SessionDep,
    admin: Admin,
    scope: AdminScope,
    funding_id: Annotated[IdParam, Path()],
    body: Purchase,
) -> FundingRead:
    """Record what the funded need's money bought (a voucher or a receipt photo)."""
    funding = await crowdfunding.purchase(session, admin, scope, funding_id, body)
    return await funding_read(session, funding)


@router.post("/fundings/{funding_id}/confirm", response_model=FundingRead, responses=STEP)
async def confirm_funding(
    session: SessionDep, admin: Admin, scope: AdminScope, funding_id: Annotated[IdParam, Path()]
) -> FundingRead:
    """Confirm the household received what was bought."""
    funding = await crowdfunding.confirm(session, admin, scope, funding_id)
    return await funding_read(session, funding)


# -- allocations -------------------------------------------------------------------------------


@router.post(
    "/allocations",
    response_model=AllocationRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(403, 404),
)
async def propose_allocation(
    session: SessionDep, admin: Admin, scope: AdminScope, body: AllocationCreate
) -> AllocationRead:
    """Propose how to divide the county's pool among its open needs (no money moves)."""
    allocation = await allocations.propose(session, admin, scope, body)
    return await allocation_read(session, allocation)


@router.get(
    "/allocations/{allocation_id}", response_model=AllocationRead, responses=problems(403, 404)
)
async def read_allocation(
    session: SessionDep, scope: AdminScope, allocation_id: Annotated[IdParam, Path()]
) -> AllocationRead:
    """An allocation in the admin's scope."""
    allocation = await allocations.get_allocation(session, scope, allocation_id)
    return await allocation_read(session, allocation)


@router.post("/allocations/{allocation_id}/approve", response_model=AllocationRead, responses=STEP)
async def approve_allocation(
    session: SessionDep,
    admin: Admin,
    scope: AdminScope,
    allocation_id: Annotated[IdParam, Path()],
    body: DecideAllocation,
) -> AllocationRead:
    """Approve, and so execute: the money moves to each chosen need in one transaction."""
    allocation = await allocations.approve(session, admin, scope, allocation_id, body.reason)
    return await allocation_read(session, allocation)


@router.post("/allocations/{allocation_id}/reject", response_model=AllocationRead, responses=STEP)
async def reject_allocation(
    session: SessionDep,
    admin: Admin,
    scope: AdminScope,
    allocation_id: Annotated[IdParam, Path()],
    body: DecideAllocation,
) -> AllocationRead:
    """Reject a proposal; nothing moves."""
    allocation = await allocations.reject(session, admin, scope, allocation_id, body.reason)
    return await allocation_read(session, allocation)


# -- public figures ----------------------------------------------------------------------------


@router.get("/disclosure/{county}", response_model=DisclosureRead, responses=problems(404, 422))
async def read_disclosure(
    session: SessionDep,
    county: Annotated[CountyCode, Path()],
    period: Annotated[Period | None, Query(description="2026, 2026Q4 or 2026-11")] = None,
) -> DisclosureRead:
    """A county's public disclosure (公示): income, allocations, disbursements, balances."""
    return await disclosure.disclose(session, county, period or str(dt.datetime.now(CST).year))


@router.get("/stats/funds", response_model=FundStats, responses=problems(404))
async def read_fund_stats(
    session: SessionDep, county: Annotated[CountyCode, Query(examples=["430525"])]
) -> FundStats:
    """A county's online and offline donations and its pool, as its reports give them."""
    return await disclosure.stats(session, county)
