"""一季度一排名: a county's townships ranked by the quarter's 对接成功率, with 一月一考核.

The cohort is the needs of each township published in the quarter; the rank, its tie rule and
each month's figures are computed in SQL. Each month also carries the township's 户帮户亲帮亲:
its coverage of key households at the month's end and its help acts in the month.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, Subquery, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.accounts.policy import admin_scope
from app.core.errors import Forbidden, NotFound
from app.core.scope import Scope
from app.needs.models import Need
from app.regions import service as regions_service
from app.regions.models import LEVEL_LENGTHS, Region
from app.stats import coverage, periods, sql, success
from app.stats.common import or_zero, ratio, total
from app.stats.schemas import MonthFigures, Ranking, TownshipRank

NOT_RANKING = ("township", "village")  # these admins are ranked, they do not rank
TIE_RULE = (
    "Higher success_rate first; then more needs published; then township code ascending. "
    "Townships with no published need have success_rate null and come last, by code. Ranks are "
    "1-based and distinct."
)
RANKING_DEFINITIONS = {
    "cohort": "The needs of the township published in the quarter (months in CST, UTC+8)",
    "published": success.DEFINITIONS["published"],
    "fulfilled": success.DEFINITIONS["fulfilled"],
    "success_rate": success.DEFINITIONS["success_rate"],
    **coverage.DEFINITIONS,
}


def _check_ranker(admin: User, county: str) -> None:
    if admin.role in NOT_RANKING:
        raise Forbidden(
            "Only county, platform (or wider) admins rank a county's townships",
            code="not_allowed",
        )
    if not admin_scope(admin).covers(county):
        raise NotFound(f"No region {county!r} in your scope", code="region_not_found")


def _township_cohort(county: str, start: dt.datetime, end: dt.datetime) -> Subquery:
    township = func.substr(Need.village_code, 1, LEVEL_LENGTHS["township"])
    return (
        select(
            township.label("township"),
            sql.cst_month(Need.published_at).label("period"),
            case((Need.status == "fulfilled", 1), else_=0).label("fulfilled"),
        )
        .where(
            Need.county_code == county,
            Scope(county).where(Need.village_code),
            Need.published_at >= start,
            Need.published_at < end,
        )
        .subquery("cohort")
    )


def ranking_statement(county: str, start: dt.datetime, end: dt.datetime) -> Select[Any]:
    """The county's townships with the quarter's figures, in rank order (the tie rule)."""
    cohort = _township_cohort(county, start, end)
    quarter = (
        select(
            cohort.c.township,
            func.count().label("published"),
            func.sum(cohort.c.fulfilled).label("fulfilled"),
        )
        .group_by(cohort.c.township)
        .subquery("quarter")
    )
    published = func.coalesce(quarter.c.published, 0)
    rate = ratio(quarter.c.fulfilled, quarter.c.published)
    rank = func.row_number().over(
        order_by=(rate.desc().nulls_last(), published.desc(), Region.code.asc())
    )
    return (
        select(
            rank.label("rank"),
            Region.code,
            Region.name,
            published.label("published"),
            or_zero(quarter.c.fulfilled).label("fulfilled"),
            rate.label("success_rate"),
        )
        .select_from(Region)
        .outerjoin(quarter, quarter.c.township == Region.code)
        .where(Region.parent_code == county, Region.level == "township")
        .order_by("rank")
    )


def monthly_statement(county: str, start: dt.datetime, end: dt.datetime) -> Select[Any]:
    """The figures of each township and month of the quarter that had a published need."""
    cohort = _township_cohort(county, start, end)
    return select(
        cohort.c.township,
        cohort.c.period,
        func.count().label("published"),
        total(cohort.c.fulfilled).label("fulfilled"),
        ratio(func.sum(cohort.c.fulfilled), func.count()).label("success_rate"),
    ).group_by(cohort.c.township, cohort.c.period)


async def report(session: AsyncSession, admin: User, county: str, quarter: str) -> Ranking:
    """一季度一排名: the townships of a county by the quarter's 对接成功率, with 一月一考核."""
    _check_ranker(admin, county)
    region = await regions_service.get_region(session, county)
    lower, upper = periods.quarter_range(quarter)
    start, end = periods.midnight(lower), periods.midnight(upper)
    months = periods.labels(lower, upper, "month")
    cohorts = {
        (row.township, row.period): row
        for row in await session.execute(monthly_statement(county, start, end))
    }
    helped = await coverage.months(session, county, lower, upper)

    def figures(township: str, month: str) -> MonthFigures:
        cohort = cohorts.get((township, month))
        return MonthFigures(
            period=month,
            published=cohort.published if cohort else 0,
            fulfilled=cohort.fulfilled if cohort else 0,
            success_rate=cohort.success_rate if cohort else None,
            help_acts=helped.help_acts(township, month),
            coverage=helped.coverage(township, month),
        )

    townships = [
        TownshipRank(
            rank=row.rank,
            code=row.code,
            name=row.name,
            published=row.published,
            fulfilled=row.fulfilled,
            success_rate=row.success_rate,
            months=[figures(row.code, month) for month in months],
        )
        for row in await session.execute(ranking_statement(county, start, end))
    ]
    return Ranking(
        scope=county,
        name=region.name,
        quarter=quarter,
        tie_rule=TIE_RULE,
        definitions=RANKING_DEFINITIONS,
        townships=townships,
    )
