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
    BigInteger,
    ColumnElement,
    Float,
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

from app.accounts.models import DONOR_KINDS, User
from app.core.errors import Forbidden, NotFound, Unprocessable
from app.core.scope import Scope
from app.needs.models import CATEGORIES, Need
from app.pairings.models import Pairing
from app.pairings.prediction import FAILURE, SUCCESS
from app.regions import service as regions_service
from app.regions.models import LEVEL_LENGTHS, Region
from app.stats import periods, sql
from app.stats.periods import Period
from app.stats.schemas import (
    Calibration,
    CalibrationBin,
    Figures,
    GroupBy,
    HonourEntry,
    HonourRoll,
    MonthFigures,
    PeriodFigures,
    Ranking,
    SuccessGroup,
    SuccessReport,
    TownshipRank,
)

SOURCES = ("claim", "match", "none")
ENDED = ("confirmed", "released", "expired", "cancelled")
NOT_RANKING = ("township", "village")  # these admins are ranked, they do not rank
MAX_YEARS = 5
MAX_CELLS = 20_000  # groups × periods in one answer
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2100, 1, 1)
BINS = 10

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
TIE_RULE = (
    "Higher success_rate first; then more needs published; then township code ascending. "
    "Townships with no published need have success_rate null and come last, by code. Ranks are "
    "1-based and distinct."
)
RANKING_DEFINITIONS = {
    "cohort": "The needs of the township published in the quarter (months in CST, UTC+8)",
    "published": DEFINITIONS["published"],
    "fulfilled": DEFINITIONS["fulfilled"],
    "success_rate": DEFINITIONS["success_rate"],
}
CALIBRATION_DEFINITIONS = {
    "pairings": "Pairings of the scope that ended with an outcome, by ended_at in CST: "
    "confirmed (outcome 1), or released, expired or declined (outcome 0); cancelled and "
    "superseded pairings say nothing of the donor and are left out",
    "brier": "Mean of (predicted_success - outcome)²; lower is better",
    "observed_rate": "Mean outcome: the share confirmed",
    "mean_predicted": "Mean predicted_success",
    "reference_brier": "Brier score of always predicting observed_rate, r(1 - r): "
    "a useful model scores below it",
    "bins": "[0, 0.1), [0.1, 0.2), …, [0.9, 1.0] by predicted_success",
}
HONOUR_DEFINITION = (
    "爱心榜: donors who chose to be listed (PATCH /api/v1/me {honour_roll: true}), by confirmed "
    "pairings in the scope; then display name, then donor id. Donors who did not opt in are "
    "never listed."
)


# -- scopes and ranges -------------------------------------------------------------------------


async def _admin_scope(session: AsyncSession, admin: User, code: str | None) -> str:
    """The scope asked for (the admin's own by default): inside the admin's, and a real region."""
    assert admin.scope_code is not None
    code = admin.scope_code if code is None else code
    if not Scope(admin.scope_code).covers(code):
        raise NotFound(f"No region {code!r} in your scope", code="region_not_found")
    if code:
        await regions_service.get_region(session, code)
    return code


def _check_dates(*days: dt.date | None) -> None:
    for day in days:
        if day is not None and not EARLIEST <= day <= LATEST:
            raise Unprocessable(
                f"Dates lie between {EARLIEST} and {LATEST}, got {day}", code="date_out_of_range"
            )


def _resolve_range(
    period: Period, lower: dt.date | None, upper: dt.date | None
) -> tuple[dt.date, dt.date]:
    _check_dates(lower, upper)
    if upper is None:
        upper = periods.default_range(period, periods.today())[1]
    if lower is None:
        lower = periods.add_years(upper, -1)
    if lower >= upper:
        raise Unprocessable(f"from ({lower}) must come before to ({upper})", code="invalid_range")
    if upper > periods.add_years(lower, MAX_YEARS):
        raise Unprocessable(f"A range spans at most {MAX_YEARS} years", code="range_too_long")
    return lower, upper


def _ratio(numerator: ColumnElement[Any], denominator: ColumnElement[Any]) -> ColumnElement[Any]:
    """numerator / denominator as a float; NULL when the denominator is 0."""
    return cast(numerator, Float) / cast(func.nullif(denominator, 0), Float)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count(case((condition, 1)))


def _sum(column: ColumnElement[Any]) -> ColumnElement[int]:
    return _or_zero(func.sum(column))


def _or_zero(column: ColumnElement[Any]) -> ColumnElement[int]:
    return cast(func.coalesce(column, 0), BigInteger)


# -- success by cohort -------------------------------------------------------------------------


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
            _count_if(answered).label("proposals"),
            _count_if(and_(answered, held)).label("accepted"),
            _count_if(and_(held, Pairing.status.in_(ENDED))).label("ended"),
            _count_if(and_(held, Pairing.status == "confirmed")).label("confirmed"),
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
    latest = _latest_holder(cohort, scope) if group_by in ("source", "donor_kind") else None
    key: ColumnElement[Any] | InstrumentedAttribute[str]
    if group_by == "township":
        key = func.substr(Need.village_code, 1, LEVEL_LENGTHS["township"])
    elif group_by == "village":
        key = Need.village_code
    elif group_by == "category":
        key = Need.category
    else:
        assert latest is not None
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
        _count_if(c.held > 0).label("matched"),
        _count_if(c.fulfilled == 1).label("fulfilled"),
        _ratio(_count_if(c.fulfilled == 1), func.count()).label("success_rate"),
        _sum(c.proposals).label("proposals"),
        _sum(c.accepted).label("accepted"),
        _ratio(func.sum(c.accepted), func.sum(c.proposals)).label("acceptance_rate"),
        _sum(c.ended).label("pairings_ended"),
        _sum(c.confirmed).label("pairings_confirmed"),
        _ratio(func.sum(c.confirmed), func.sum(c.ended)).label("fulfilment_rate"),
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


async def success(
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
    code = await _admin_scope(session, admin, scope)
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


# -- the quarterly ranking of a county's townships ---------------------------------------------


def _check_ranker(admin: User, county: str) -> None:
    assert admin.scope_code is not None
    if admin.role in NOT_RANKING:
        raise Forbidden(
            "Only county, platform (or wider) admins rank a county's townships",
            code="not_allowed",
        )
    if not Scope(admin.scope_code).covers(county):
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
    rate = _ratio(quarter.c.fulfilled, quarter.c.published)
    rank = func.row_number().over(
        order_by=(rate.desc().nulls_last(), published.desc(), Region.code.asc())
    )
    return (
        select(
            rank.label("rank"),
            Region.code,
            Region.name,
            published.label("published"),
            _or_zero(quarter.c.fulfilled).label("fulfilled"),
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
        _sum(cohort.c.fulfilled).label("fulfilled"),
        _ratio(func.sum(cohort.c.fulfilled), func.count()).label("success_rate"),
    ).group_by(cohort.c.township, cohort.c.period)


async def rankings(session: AsyncSession, admin: User, county: str, quarter: str) -> Ranking:
    """一季度一排名: the townships of a county by the quarter's 对接成功率, with 一月一考核."""
    _check_ranker(admin, county)
    region = await regions_service.get_region(session, county)
    lower, upper = periods.quarter_range(quarter)
    start, end = periods.midnight(lower), periods.midnight(upper)
    months = periods.labels(lower, upper, "month")
    monthly = {
        (row.township, row.period): MonthFigures(
            period=row.period,
            published=row.published,
            fulfilled=row.fulfilled,
            success_rate=row.success_rate,
        )
        for row in await session.execute(monthly_statement(county, start, end))
    }
    townships = [
        TownshipRank(
            rank=row.rank,
            code=row.code,
            name=row.name,
            published=row.published,
            fulfilled=row.fulfilled,
            success_rate=row.success_rate,
            months=[
                monthly.get((row.code, month))
                or MonthFigures(period=month, published=0, fulfilled=0, success_rate=None)
                for month in months
            ],
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


# -- calibration of the predicted success ------------------------------------------------------


def _outcomes(scope: str, lower: dt.date | None, upper: dt.date | None) -> Subquery:
    """The ended pairings of the scope with an outcome: predicted, outcome (1/0), bin."""
    predicted = Pairing.predicted_success
    conditions = [Scope(scope).where(Pairing.village_code), Pairing.status.in_(SUCCESS + FAILURE)]
    if lower is not None:
        conditions.append(Pairing.ended_at >= periods.midnight(lower))
    if upper is not None:
        conditions.append(Pairing.ended_at < periods.midnight(upper))
    bin_index = case(
        *((predicted < (index + 1) / BINS, index) for index in range(BINS - 1)), else_=BINS - 1
    )
    return (
        select(
            predicted.label("predicted"),
            cast(case((Pairing.status.in_(SUCCESS), 1), else_=0), Float).label("outcome"),
            bin_index.label("bin"),
        )
        .where(*conditions)
        .subquery("outcomes")
    )


async def calibration(
    session: AsyncSession,
    admin: User,
    *,
    scope: str | None,
    lower: dt.date | None,
    upper: dt.date | None,
) -> Calibration:
    """Predicted against realised: the Brier score and ten reliability bins, in SQL."""
    code = await _admin_scope(session, admin, scope)
    _check_dates(lower, upper)
    if lower is not None and upper is not None and lower >= upper:
        raise Unprocessable(f"from ({lower}) must come before to ({upper})", code="invalid_range")
    return await calibration_of(session, code, lower, upper)


async def calibration_of(
    session: AsyncSession, code: str, lower: dt.date | None = None, upper: dt.date | None = None
) -> Calibration:
    """The calibration of the pairings of region ``code`` (no access check: callers do it)."""
    outcomes = _outcomes(code, lower, upper)
    error = outcomes.c.predicted - outcomes.c.outcome
    totals = (
        await session.execute(
            select(
                func.count().label("count"),
                func.avg(error * error).label("brier"),
                func.avg(outcomes.c.outcome).label("observed_rate"),
                func.avg(outcomes.c.predicted).label("mean_predicted"),
            )
        )
    ).one()
    by_bin = {
        row.bin: row
        for row in await session.execute(
            select(
                outcomes.c.bin,
                func.count().label("count"),
                func.avg(outcomes.c.predicted).label("mean_predicted"),
                func.avg(outcomes.c.outcome).label("observed_rate"),
            ).group_by(outcomes.c.bin)
        )
    }
    rate = totals.observed_rate
    return Calibration(
        scope=code,
        from_=lower,
        to=upper,
        definitions=CALIBRATION_DEFINITIONS,
        count=totals.count,
        brier=totals.brier,
        observed_rate=rate,
        mean_predicted=totals.mean_predicted,
        reference_brier=None if rate is None else rate * (1 - rate),
        bins=[_bin(index, by_bin.get(index)) for index in range(BINS)],
    )


def _bin(index: int, row: Row[Any] | None) -> CalibrationBin:
    return CalibrationBin(
        lower=index / BINS,
        upper=(index + 1) / BINS,
        count=row.count if row else 0,
        mean_predicted=row.mean_predicted if row else None,
        observed_rate=row.observed_rate if row else None,
    )


# -- the roll of honour ------------------------------------------------------------------------


async def honour_roll(session: AsyncSession, scope: str, limit: int) -> HonourRoll:
    """爱心榜: the opted-in donors by confirmed pairings in the scope (public praise)."""
    if scope:
        await regions_service.get_region(session, scope)
    confirmed = (
        select(Pairing.donor_id, func.count().label("fulfilled"))
        .where(Pairing.status == "confirmed", Scope(scope).where(Pairing.village_code))
        .group_by(Pairing.donor_id)
        .subquery("confirmed")
    )
    rank = func.row_number().over(
        order_by=(
            confirmed.c.fulfilled.desc(),
            sql.code_point_order(User.display_name),
            User.id,
        )
    )
    rows = await session.execute(
        select(
            rank.label("rank"),
            User.id,
            User.display_name,
            User.donor_kind,
            confirmed.c.fulfilled,
        )
        .join(confirmed, confirmed.c.donor_id == User.id)
        .where(User.role == "donor", User.honour_roll.is_(True), User.is_active.is_(True))
        .order_by("rank")
        .limit(limit)
    )
    return HonourRoll(
        scope=scope,
        definition=HONOUR_DEFINITION,
        items=[
            HonourEntry(
                rank=row.rank,
                donor_id=row.id,
                display_name=row.display_name,
                kind=row.donor_kind,
                fulfilled=row.fulfilled,
            )
            for row in rows
        ],
    )
