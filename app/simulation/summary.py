"""The figures of a simulated year, read back from the database the service wrote.

对接成功率 is fulfilled needs over published needs (the cohort of needs published in the
simulated months). Totals, per-village counts and the calibration are aggregated in SQL; the
months (in China Standard Time) and the waits are read from the cohort's timestamps.

On PostgreSQL the planner's statistics are gathered first (``analyse``): the run fills the
needs and pairings from empty, and without statistics the county's year is planned as a row or
two, joined by nested loops that read the whole county per need.
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from sqlalchemy import and_, case, exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.needs.models import Need
from app.pairings.models import Pairing
from app.stats import calibration as stats_calibration

CST = dt.timezone(dt.timedelta(hours=8))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def gini(values: list[float]) -> float:
    """Gini coefficient of non-negative values (0: all equal)."""
    if not values or sum(values) == 0:
        return 0.0
    ordered = sorted(values)
    n = len(ordered)
    weighted = sum((index + 1) * value for index, value in enumerate(ordered))
    return (2 * weighted) / (n * sum(ordered)) - (n + 1) / n


async def analyse(engine: AsyncEngine) -> None:
    """Gather PostgreSQL's planner statistics of every table (nothing to do on SQLite).

    A server whose autovacuum is on gathers them as the tables grow; with it off (as on the
    test server) the tables a run filled have none, and the summary's and /stats/annual's
    joins are planned for an empty county: nested loops that scan every confirmed pairing, or
    re-aggregate every pairing of the county, for each need, quadratic in the county's size.
    The whole county's count by source took 90 s (57 ms with statistics); at a quarter of it
    /stats/annual's two success reports took 67 and 60 s (0.1 to 0.2 s with statistics).
    """
    if engine.dialect.name != "postgresql":
        return
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE"))


async def summarise(
    session: AsyncSession, county: str, start: dt.datetime, end: dt.datetime
) -> dict[str, Any]:
    cohort = and_(Need.county_code == county, Need.published_at >= start, Need.published_at < end)
    fulfilled = case((Need.status == "fulfilled", 1), else_=0)
    matched = exists().where(Pairing.need_id == Need.id, Pairing.active_at.is_not(None))
    published, done, never = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(fulfilled), 0),
                func.coalesce(func.sum(case((~matched, 1), else_=0)), 0),
            ).where(cohort)
        )
    ).one()

    months: dict[str, list[int]] = {}
    rows = await session.execute(select(Need.published_at, Need.status).where(cohort))
    for published_at, status in rows:
        if published_at is None:  # not in a publish cohort
            continue
        key = published_at.astimezone(CST).strftime("%Y-%m")
        entry = months.setdefault(key, [0, 0])
        entry[0] += 1
        entry[1] += status == "fulfilled"
    wait_rows = await session.execute(
        select(Need.published_at, Need.fulfilled_at).where(cohort, Need.status == "fulfilled")
    )
    waits = [(b - a).total_seconds() / 86400 for a, b in wait_rows if a and b]

    village_rows = (
        await session.execute(
            select(Need.village_code, func.count(), func.sum(fulfilled))
            .where(cohort)
            .group_by(Need.village_code)
        )
    ).all()
    village_rates = [int(f) / int(n) for _, n, f in village_rows if n]
    mean = statistics.fmean(village_rates) if village_rates else 0.0
    spread = statistics.pstdev(village_rates) if len(village_rates) > 1 else 0.0

    by_source = dict(
        (
            await session.execute(
                select(Pairing.source, func.count())
                .join(Need, Need.id == Pairing.need_id)
                .where(cohort, Pairing.status == "confirmed")
                .group_by(Pairing.source)
            )
        ).all()
    )
    return {
        "published": int(published),
        "fulfilled": int(done),
        "success_rate": _rate(int(done), int(published)),
        "never_served": int(never),
        "never_served_share": _rate(int(never), int(published)),
        "median_days_to_fulfil": round(statistics.median(waits), 2) if waits else None,
        "fulfilled_by_source": {k: int(v) for k, v in sorted(by_source.items())},
        "villages": len(village_rates),
        "village_rate_cv": round(spread / mean, 4) if mean else None,
        "village_rate_gini": round(gini(village_rates), 4),
        "months": [
            {"month": key, "published": n, "fulfilled": f, "success_rate": _rate(f, n)}
            for key, (n, f) in sorted(months.items())
        ],
        "calibration": await calibration(session, county),
    }


async def calibration(session: AsyncSession, county: str) -> dict[str, Any]:
    """Predicted success of the county's ended pairings against their outcomes (the same
    figures as GET /stats/calibration)."""
    result = await stats_calibration.calibration_of(session, county)
    if not result.count:
        return {"pairings": 0}
    return {
        "pairings": result.count,
        "brier": _round(result.brier, 5),
        "constant_brier": _round(result.reference_brier, 5),
        "observed_rate": _round(result.observed_rate, 4),
        "mean_predicted": _round(result.mean_predicted, 4),
        "bins": [
            {
                "lower": b.lower,
                "count": b.count,
                "mean_predicted": _round(b.mean_predicted, 4),
                "observed_rate": _round(b.observed_rate, 4),
            }
            for b in result.bins
            if b.count
        ],
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
