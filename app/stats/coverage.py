"""户帮户亲帮亲 in the statistics: the coverage of key households on a day, by township, and the
help acts per township and month over a range."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.errors import Unprocessable
from app.helpers import coverage
from app.helpers.schemas import Coverage, CoverageFigures, MonthActs, TownshipCoverage
from app.regions.models import Region
from app.stats import periods
from app.stats.common import region_in_scope


def _figures(key: int, both: int, recent: int) -> CoverageFigures:
    return CoverageFigures(
        key_households=key,
        with_helper_and_liaison=both,
        with_recent_act=recent,
        helper_and_liaison_share=both / key if key else None,
        recent_act_share=recent / key if key else None,
    )


async def report(
    session: AsyncSession,
    admin: User,
    *,
    scope: str | None,
    on: dt.date | None,
    lower: dt.date | None,
    upper: dt.date | None,
) -> Coverage:
    """Coverage on ``on`` (today by default) and the acts of ``[lower, upper)`` (the twelve
    months up to the end of the current month by default)."""
    code = await region_in_scope(session, admin, scope)
    on = on or periods.today()
    upper = upper or periods.default_range("month", on)[1]
    lower = lower or periods.add_years(upper, -1)
    if lower >= upper:
        raise Unprocessable(f"from ({lower}) must come before to ({upper})", code="invalid_range")
    if upper > periods.add_years(lower, 5):
        raise Unprocessable("A range spans at most 5 years", code="range_too_long")
    counts = await coverage.coverage(session, code, on)
    names = dict(
        (
            await session.execute(
                select(Region.code, Region.name).where(
                    Region.code.in_([c.township for c in counts])
                )
            )
        ).all()
    )
    townships = [
        TownshipCoverage(
            code=c.township,
            name=names.get(c.township, c.township),
            **_figures(c.key_households, c.with_helper_and_liaison, c.with_recent_act).model_dump(),
        )
        for c in counts
    ]
    acts = await coverage.acts_by_month(session, code, lower, upper)
    return Coverage(
        scope=code,
        on=on,
        from_=lower,
        to=upper,
        totals=_figures(
            sum(c.key_households for c in counts),
            sum(c.with_helper_and_liaison for c in counts),
            sum(c.with_recent_act for c in counts),
        ),
        townships=townships,
        acts=[MonthActs(township=t, month=m, acts=n) for t, m, n in acts],
    )
