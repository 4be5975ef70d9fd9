"""Realised success, computed by aggregation in the database, never by loading rows.

A cohort is the needs of a scope published in one CST month or quarter. Each figure is a
``GROUP BY`` over the cohort (the median too: window functions number the fulfilled needs of a
group, and the middle one or two are averaged), so a county's year is a handful of rows on the
wire whatever its size. Python only lists the groups and periods that had nothing, so that every
group × period is answered.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Row,
    Select,
    String,
    Subquery,
    and_,
    case,
    cast,
    func,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.accounts.models import User
from app.core.errors import Unprocessable
from app.core.scope import Scope
from app.core.vocabulary import CATEGORIES, DONOR_KINDS
from app.needs.models import Need
from app.pairings.models import Pairing
from app.pairings.states import ENDED
from app.pairings.states import SOURCES as PAIRING_SOURCES
from app.regions import service as regions_service
from app.regions.models import LEVEL_LENGTHS, Region
from app.stats import periods, sql
from app.stats.common import count_if, ratio, region_in_scope, total
from app.stats.periods import Period
from app.stats.schemas import Figures, GroupBy, PeriodFigures, SuccessGroup, SuccessReport

SOURCES = (*PAIRING_SOURCES, "none")
MAX_YEARS = 5
MAX_CELLS = 20_000  # groups × periods in one answer

DEFINITIONS = {
    "cohort": "The needs of the scope whose published_at falls in the period "
    "(calendar months or quarters in China Standard Time, UTC+8)",
    "published": "Needs of the cohort",
    "matched": "Needs of the cohort that a donor ever held (a pairing with active_at set)",
    "fulfilled": "Needs of the cohort whose status is fulfilled",
    "success_rate": "对接成功率 = fulfilled / published; null when published is 0",
    "proposals": "Matching-run pairings of the cohort's needs that were answered or ended "
    "(status other than proposed)",
    "accepted": "Proposals the donor accepted (active_at set)",
    "acceptance_rate": "accepted / proposals; null when proposals is 0",
    "pairings_ended": "Pairings of the cohort's needs that held the need and ended: "
    "confirmed, released, expired or cancelled",
    "pairings_confirmed": "Ended pairings that ended confirmed (receipt confirmed)",
    "fulfilment_rate": "pairings_confirmed / pairings_ended; null when pairings_ended is 0",
    "median_days_to_fulfil": "Median over the fulfilled needs of (fulfilled_at - published_at) "
    "in days; null when none",
    "source": "The source (claim or match) of the pairing that last began holding the need "
    "(latest active_at); none when no donor ever held it",
    "donor_kind": "The kind of the donor of that same pairing; none when no donor held it",
}


def _resolve_range(
    period: Period, lower: dt.date | None, upper: dt.date | None
) -> tuple[dt.date, dt.date]:
    if upper is None:
        upper = periods.default_range(period, periods.today())[1]
    if lower is None:
        lower = periods.add_years(upper, -1)
    if lower >= upper:
        raise Unprocessable(f"from ({lower}) must come before to ({upper})", code="invalid_range")
    if upper > periods.add_years(lower, MAX_YEARS):
        raise Unprocessable(f"A range spans at most {MAX_YEARS} years", code="range_too_long")
    return lower, upper


def _cohort(scope: str, start: dt.datetime, end: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    """The conditions on ``needs`` of a cohort: in the scope, published in ``[start, end)``."""
    return (
        # The county prefix lets ix_needs_county_code_published_at serve the range.
        Scope(scope[:6]).where(Need.county_code),
        Scope(scope).where(Need.village_code),
        Need.published_at >= start,
        Need.published_at < end,
    )


def _pairing_counts(cohort: tuple[ColumnElement[bool], ...], scope: str) -> Subquery:
    """Per need of the cohort: its pairings counted for each figure."""
    held = Pairing.active_at.is_not(None)
    answered = and_(Pairing.source == "match", Pairing.status != "proposed")
    return (
        select(
            Pairing.need_id,
            func.count(Pairing.active_at).label("held"),
            count_if(answered).label("proposals"),
            count_if(and_(answered, held)).label("accepted"),
            count_if(and_(held, Pairing.status.in_(ENDED))).label("ended"),
            count_if(and_(held, Pairing.status == "confirmed")).label("confirmed"),
        )
        .join(Need, Need.id == Pairing.need_id)
        .where(*cohort, Scope(scope).where(Pairing.village_code))
        .group_by(Pairing.need_id)
        .subquery("counts")
    )


def _latest_holder(cohort: tuple[ColumnElement[bool], ...], scope: str) -> Subquery:
    """Per need of the cohort, the pairings that held it, the latest numbered 1."""
    recency = func.row_number().over(
        partition_by=Pairing.need_id, order_by=(Pairing.active_at.desc(), Pairing.id.desc())
    )
    return (
        select(Pairing.need_id, Pairing.source, User.donor_kind, recency.label("recency"))
        .join(Need, Need.id == Pairing.need_id)
        .join(User, User.id == Pairing.donor_id)
        .where(*cohort, Scope(scope).where(Pairing.village_code), Pairing.active_at.is_not(None))
        .subquery("latest")
    )


def _counted(counts: Subquery) -> tuple[ColumnElement[int], ...]:
    c = counts.c
    return (c.held, c.proposals, c.accepted, c.ended, c.confirmed)


def _per_need(
    scope: str, group_by: GroupBy, period: Period, start: dt.datetime, end: dt.datetime
) -> Subquery:
    """One row per need of the cohort: group key, period, outcome, days to fulfil, counts."""
    cohort = _cohort(scope, start, end)
    counts = _pairing_counts(cohort, scope)
    fulfilled = Need.status == "fulfilled"
    days = case(
        (
            and_(fulfilled, Need.fulfilled_at.is_not(None)),
            sql.days_between(Need.published_at, Need.fulfilled_at),
        )
    )
    key: ColumnElement[Any] | InstrumentedAttribute[str]
    latest = None
    if group_by == "township":
        key = func.substr(Need.village_code, 1, LEVEL_LENGTHS["township"])
    elif group_by == "village":
        key = Need.village_code
    elif group_by == "category":
        key = Need.category
    else:
        latest = _latest_holder(cohort, scope)
        key = func.coalesce(
            latest.c.source if group_by == "source" else latest.c.donor_kind, "none"
        )
    statement = (
        select(
            key.label("grp"),
            sql.period_of(Need.published_at, period).label("period"),
            case((fulfilled, 1), else_=0).label("fulfilled"),
            days.label("days"),
            case((days.is_(None), 0), else_=1).label("timed"),
            *(func.coalesce(column, 0).label(column.name) for column in _counted(counts)),
        )
        .select_from(Need)
        .outerjoin(counts, counts.c.need_id == Need.id)
        .where(*cohort)
    )
    if latest is not None:
        statement = statement.outerjoin(
            latest, and_(latest.c.need_id == Need.id, latest.c.recency == 1)
        )
    return statement.subquery("per_need")


def _ranked(per_need: Subquery) -> CTE:
    """The needs numbered by days to fulfil within (group, period) and within the group.

    A CTE: both aggregations (per period and per group) read it, and it is computed once.
    """
    c = per_need.c

    def numbered(*partition: ColumnElement[Any]) -> tuple[ColumnElement[int], ColumnElement[int]]:
        return (
            func.row_number().over(partition_by=(*partition, c.timed), order_by=c.days),
            func.count().over(partition_by=(*partition, c.timed)),
        )

    in_period, of_period = numbered(c.grp, c.period)
    in_group, of_group = numbered(c.grp)
    return select(
        per_need,
        in_period.label("rn_period"),
        of_period.label("n_period"),
        in_group.label("rn_group"),
        of_group.label("n_group"),
    ).cte("ranked")


def _figures(ranked: CTE, rn: ColumnElement[int], n: ColumnElement[int]) -> list[Any]:
    """The aggregate columns of one group; ``rn`` of ``n`` numbers its fulfilled needs by days."""
    c = ranked.c
    middle = and_(c.timed == 1, or_(rn == (n + 1) // 2, rn == (n + 2) // 2))
    return [
        func.count().label("published"),
        count_if(c.held > 0).label("matched"),
        count_if(c.fulfilled == 1).label("fulfilled"),
        ratio(count_if(c.fulfilled == 1), func.count()).label("success_rate"),
        total(c.proposals).label("proposals"),
        total(c.accepted).label("accepted"),
        ratio(func.sum(c.accepted), func.sum(c.proposals)).label("acceptance_rate"),
        total(c.ended).label("pairings_ended"),
        total(c.confirmed).label("pairings_confirmed"),
        ratio(func.sum(c.confirmed), func.sum(c.ended)).label("fulfilment_rate"),
        func.avg(case((middle, c.days))).label("median_days_to_fulfil"),
    ]


def success_statement(
    scope: str, group_by: GroupBy, period: Period, start: dt.datetime, end: dt.datetime
) -> Select[Any]:
    """One statement: the figures per (group, period), then per group (period NULL)."""
    ranked = _ranked(_per_need(scope, group_by, period, start, end))
    c = ranked.c
    per_period = select(c.grp, c.period, *_figures(ranked, c.rn_period, c.n_period)).group_by(
        c.grp, c.period
    )
    per_group = select(
        c.grp, cast(null(), String).label("period"), *_figures(ranked, c.rn_group, c.n_group)
    ).group_by(c.grp)
    return select(union_all(per_period, per_group).subquery("figures"))


async def _groups(
    session: AsyncSession, scope: str, group_by: GroupBy, periods_in_range: int
) -> list[tuple[str, str]]:
    """Every group of the answer, with its name: regions under the scope, or a fixed list."""
    if group_by not in ("township", "village"):
        fixed = {"category": CATEGORIES, "source": SOURCES, "donor_kind": (*DONOR_KINDS, "none")}
        return [(key, key) for key in fixed[group_by]]
    length = LEVEL_LENGTHS[group_by]
    if len(scope) >= length:
        region = await regions_service.get_region(session, scope[:length])
        return [(region.code, region.name)]
    where = (Region.level == group_by, Scope(scope).where(Region.code))
    found = int(await session.scalar(select(func.count()).select_from(Region).where(*where)) or 0)
    if found * periods_in_range > MAX_CELLS:
        raise Unprocessable(
            f"{found} {group_by}s × {periods_in_range} periods is more than {MAX_CELLS} "
            "figures; narrow the scope or the range, or group more coarsely",
            code="result_too_large",
        )
    rows = await session.execute(
        select(Region.code, Region.name).where(*where).order_by(Region.code)
    )
    return [(code, name) for code, name in rows]


def _figures_of(row: Row[Any] | None) -> Figures:
    if row is None:
        return Figures(
            published=0, matched=0, fulfilled=0, success_rate=None, proposals=0, accepted=0,
            acceptance_rate=None, pairings_ended=0, pairings_confirmed=0, fulfilment_rate=None,
            median_days_to_fulfil=None,
        )  # fmt: skip
    values = row._mapping
    median = values["median_days_to_fulfil"]
    return Figures.model_validate(
        {
            **{name: values[name] for name in Figures.model_fields},
            "median_days_to_fulfil": None if median is None else round(float(median), 4),
        }
    )


async def report(
    session: AsyncSession,
    admin: User,
    *,
    scope: str | None,
    group_by: GroupBy,
    period: Period,
    lower: dt.date | None,
    upper: dt.date | None,
) -> SuccessReport:
    """The figures of each group and period of a range, every one computed in SQL."""
    code = await region_in_scope(session, admin, scope)
    lower, upper = _resolve_range(period, lower, upper)
    labels = periods.labels(lower, upper, period)
    groups = await _groups(session, code, group_by, len(labels))
    statement = success_statement(
        code, group_by, period, periods.midnight(lower), periods.midnight(upper)
    )
    rows = {(row.grp, row.period): row for row in await session.execute(statement)}
    return SuccessReport(
        scope=code,
        group_by=group_by,
        period=period,
        from_=lower,
        to=upper,
        definitions=DEFINITIONS,
        groups=[
            SuccessGroup(
                key=key,
                name=name,
                totals=_figures_of(rows.get((key, None))),
                periods=[
                    PeriodFigures(period=label, **_figures_of(rows.get((key, label))).model_dump())
                    for label in labels
                ],
            )
            for key, name in groups
        ],
    )
