"""A county's public disclosure (公示) and its money figures: read from the ledger alone.

Income is what the income accounts gave (less reversals), by month and channel; allocations
and disbursements are what reached and left needs' accounts, by township and category; each
disbursement names its need, category, village and amount, never a household. 一助一 sponsorship
money is apart from donations: what sponsors paid, what reached the sponsored households and what
was refunded to sponsors, by month, with no pairing, student or household named.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import Literal

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Unprocessable
from app.funds import sponsorship
from app.funds.common import CST, county, village_names
from app.funds.models import FundAccount, FundEntry, FundTransaction, NeedFunding
from app.funds.schemas import (
    Balances,
    Disbursement,
    DisclosureRead,
    FundStats,
    IncomeRow,
    SpendingRow,
    SponsorshipFigures,
    SponsorshipRow,
)

PERIOD = re.compile(r"^([0-9]{4})(?:-([0-9]{2})|Q([1-4]))?$")
INCOME_KINDS = ("clearing", "offline")
SPONSORSHIP_KINDS = (sponsorship.INCOME_KIND, sponsorship.PAID_KIND)
Figure = Literal["received_fen", "disbursed_fen", "refunded_fen"]  # of SponsorshipFigures


def sponsorship_figure(transaction_kind: str, account_kind: str) -> tuple[Figure, int] | None:
    """The sponsorship figure a leg counts in, and the sign it counts with: a receipt takes
    from the county's sponsorship income (received), its reversal gives back to it (refunded),
    a disbursement adds to what reached households (disbursed)."""
    if account_kind == sponsorship.INCOME_KIND:
        return ("refunded_fen", 1) if transaction_kind == "reversal" else ("received_fen", -1)
    if account_kind == sponsorship.PAID_KIND:
        return "disbursed_fen", 1
    return None


def period_bounds(period: str) -> tuple[dt.datetime, dt.datetime]:
    """``2026`` (a year), ``2026Q4`` (a quarter) or ``2026-11`` (a month), in Beijing time."""
    found = PERIOD.match(period)
    if found is None:
        raise Unprocessable("A period is 2026, 2026Q4 or 2026-11", code="period_invalid")
    year = int(found.group(1))
    if found.group(2):
        month = int(found.group(2))
        if not 1 <= month <= 12:
            raise Unprocessable("A month runs from 01 to 12", code="period_invalid")
        first, months = month, 1
    elif found.group(3):
        first, months = 3 * int(found.group(3)) - 2, 3
    else:
        first, months = 1, 12
    if not 2000 <= year <= 2100:
        raise Unprocessable("Periods run from 2000 to 2100", code="period_invalid")
    start = dt.datetime(year, first, 1, tzinfo=CST)
    end_month = first + months
    end = dt.datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=CST)
    return start, end


async def _legs(session: AsyncSession, county_code: str, start: dt.datetime, end: dt.datetime):  # type: ignore[no-untyped-def]
    return (
        await session.execute(
            select(FundTransaction, FundEntry, FundAccount)
            .join(FundEntry, FundEntry.transaction_id == FundTransaction.id)
            .join(FundAccount, FundAccount.id == FundEntry.account_id)
            .where(
                FundTransaction.county_code == county_code,
                FundTransaction.created_at >= start,
                FundTransaction.created_at < end,
            )
            .order_by(FundTransaction.id, FundEntry.id)
        )
    ).all()


async def disclose(session: AsyncSession, code: str, period: str) -> DisclosureRead:
    region = await county(session, code)
    start, end = period_bounds(period)
    rows = await _legs(session, region.code, start, end)
    fundings = {
        f.account_id: f
        for f in await session.scalars(
            select(NeedFunding).where(NeedFunding.county_code == region.code)
        )
    }
    income: dict[tuple[str, str], int] = defaultdict(int)
    sponsored: dict[str, dict[Figure, int]] = defaultdict(_no_sponsorship)
    spending: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    paid_out: list[tuple[NeedFunding, int, dt.datetime]] = []
    for transaction, entry, account in rows:
        month = transaction.created_at.astimezone(CST).strftime("%Y-%m")
        if account.kind in INCOME_KINDS:
            channel = transaction.channel or account.channel or "offline"
            income[(month, channel)] -= entry.amount_fen
        counted = sponsorship_figure(transaction.kind, account.kind)
        if counted is not None:
            figure, sign = counted
            sponsored[month][figure] += sign * entry.amount_fen
        funding = fundings.get(account.id)
        if funding is None:
            continue
        key = (funding.village_code[:9], funding.category)
        if transaction.kind == "allocation" or (
            transaction.kind == "reversal"
            and entry.amount_fen < 0
            and funding.source == "allocation"
        ):
            spending[key][0] += entry.amount_fen
        if transaction.kind == "disbursement":
            spending[key][1] -= entry.amount_fen
            paid_out.append((funding, -entry.amount_fen, transaction.created_at))
    names = await village_names(
        session, {k[0] for k in spending} | {f.village_code for f, _, _ in paid_out}
    )
    return DisclosureRead(
        county_code=region.code,
        county_name=region.name,
        period=period,
        income=[
            IncomeRow(month=m, channel=c, amount_fen=a) for (m, c), a in sorted(income.items())
        ],
        spending=[
            SpendingRow(
                township_code=t,
                township_name=names.get(t, t),
                category=c,
                allocated_fen=a,
                disbursed_fen=d,
            )
            for (t, c), (a, d) in sorted(spending.items())
        ],
        sponsorship=[SponsorshipRow(month=m, **f) for m, f in sorted(sponsored.items())],
        balance=await balances(session, region.code),
        disbursements=[
            Disbursement(
                need_id=f.need_id,
                category=f.category,
                village_code=f.village_code,
                village_name=names.get(f.village_code, f.village_code),
                amount_fen=amount,
                disbursed_at=when,
            )
            for f, amount, when in paid_out
        ],
    )


async def balances(session: AsyncSession, county_code: str) -> Balances:
    sums = dict(
        (
            await session.execute(
                select(FundAccount.kind, func.coalesce(func.sum(FundAccount.balance_fen), 0))
                .where(
                    FundAccount.county_code == county_code,
                    FundAccount.kind.in_(("pool", "need", "credits", "sponsorship")),
                )
                .group_by(FundAccount.kind)
            )
        ).all()
    )
    return Balances(
        pool_fen=int(sums.get("pool", 0)),
        restricted_fen=int(sums.get("need", 0)),
        credits_fen=int(sums.get("credits", 0)),
        sponsorship_fen=int(sums.get("sponsorship", 0)),
    )


def _no_sponsorship() -> dict[Figure, int]:
    return {"received_fen": 0, "disbursed_fen": 0, "refunded_fen": 0}


async def stats(session: AsyncSession, code: str) -> FundStats:
    """Online and offline income of a county, all time and this year (as Dongkou reports them),
    and its sponsorship money."""
    region = await county(session, code)
    year_start = dt.datetime(dt.datetime.now(CST).year, 1, 1, tzinfo=CST)
    this_year = case((FundTransaction.created_at >= year_start, FundEntry.amount_fen), else_=0)
    rows = await session.execute(
        select(
            FundAccount.kind,
            FundTransaction.kind,
            func.sum(FundEntry.amount_fen),
            func.sum(this_year),
        )
        .join(FundEntry, FundEntry.account_id == FundAccount.id)
        .join(FundTransaction, FundTransaction.id == FundEntry.transaction_id)
        .where(
            FundTransaction.county_code == region.code,
            FundAccount.kind.in_(INCOME_KINDS + SPONSORSHIP_KINDS),
        )
        .group_by(FundAccount.kind, FundTransaction.kind)
    )
    totals: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))
    every_time, year = _no_sponsorship(), _no_sponsorship()
    for account_kind, transaction_kind, every_sum, year_sum in rows.all():
        every_fen, year_fen = int(every_sum or 0), int(year_sum or 0)
        counted = sponsorship_figure(transaction_kind, account_kind)
        if counted is None:
            # Income accounts give what the county receives: their legs are negative.
            all_time, this = totals[account_kind]
            totals[account_kind] = (all_time - every_fen, this - year_fen)
            continue
        figure, sign = counted
        every_time[figure] += sign * every_fen
        year[figure] += sign * year_fen
    held = await balances(session, region.code)
    return FundStats(
        county_code=region.code,
        online_fen=totals.get("clearing", (0, 0))[0],
        offline_fen=totals.get("offline", (0, 0))[0],
        online_year_fen=totals.get("clearing", (0, 0))[1],
        offline_year_fen=totals.get("offline", (0, 0))[1],
        pool_fen=held.pool_fen,
        sponsorship=SponsorshipFigures(**every_time),
        sponsorship_year=SponsorshipFigures(**year),
    )
