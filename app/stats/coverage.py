"""户帮户亲帮亲 in the statistics: the coverage of key households on a day, by township, and the
help acts per township and month over a range; and both for each month of a range, as the
monthly assessment (一月一考核) and the year's summary read them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.errors import Unprocessable
from app.helpers import coverage
from app.helpers.schemas import Coverage, CoverageFigures, MonthActs, TownshipCoverage
from app.regions.models import Region
from app.stats import periods
from app.stats.common import region_in_scope
from app.stats.schemas import CoverageOn

DEFINITIONS = {
    "help_acts": "户帮户亲帮亲 help acts (帮扶记录) of the township dated in the month (CST)",
    "coverage": "户帮户亲帮亲 at the month's end, on the day `on`: the month's last day, or today "
    "for the month under way; null for a month not begun",
    "key_households": "Key households (重点帮扶对象) of the township registered by the day's close",
    "with_helper_and_liaison": "Key households that had both a helper (主体帮扶人) and a liaison "
    "(帮扶联络员) at the day's close",
    "with_recent_act": f"Key households with a help act dated in the {coverage.RECENT_DAYS} days "
    "up to the day, inclusive",
    "helper_and_liaison_share": "with_helper_and_liaison / key_households; null when 0",
    "recent_act_share": "with_recent_act / key_households; null when 0",
}


def _figures(key: int, both: int, recent: int) -> CoverageFigures:
    return CoverageFigures(
        key_households=key,
        with_helper_and_liaison=both,
        with_recent_act=recent,
        helper_and_liaison_share=both / key if key else None,
        recent_act_share=recent / key if key else None,
    )


def _on(on: dt.date, key: int, both: int, recent: int) -> CoverageOn:
    return CoverageOn(on=on, **_figures(key, both, recent).model_dump())


@dataclass(frozen=True, slots=True)
class Months:
    """户帮户亲帮亲 of each month of a range: the day each month is counted on, and by (township,
    ``YYYY-MM``) the coverage of the townships with key households (by month, then township)
    and the help acts."""

    days: dict[str, dt.date]
    counted: dict[tuple[str, str], CoverageOn]
    acts: dict[tuple[str, str], int]

    def coverage(self, township: str, month: str) -> CoverageOn | None:
        """A township's coverage in a month (0 of 0 without key households); None for a month
        not begun."""
        if month not in self.days:
            return None
        return self.counted.get((township, month)) or _on(self.days[month], 0, 0, 0)

    def help_acts(self, township: str, month: str) -> int:
        return self.acts.get((township, month), 0)


def month_ends(lower: dt.date, upper: dt.date) -> dict[str, dt.date]:
    """The day each month of ``[lower, upper)`` is counted on: its last day, or today for the
    month under way. Months not begun are left out."""
    last, start = periods.today(), periods.period_start(lower, "month")
    found = {}
    while start < upper and start <= last:
        end = periods.add_months(start, 1)
        found[periods.label(start, "month")] = min(end - dt.timedelta(days=1), last)
        start = end
    return found


async def months(session: AsyncSession, scope: str, lower: dt.date, upper: dt.date) -> Months:
    """Each township's coverage at the end of each month of ``[lower, upper)`` and its help acts
    in the month: two statements for the whole scope and range."""
    days = month_ends(lower, upper)
    counted = await coverage.coverage_on(session, scope, list(days.values()))
    found = {
        (c.township, month): _on(on, c.key_households, c.with_helper_and_liaison, c.with_recent_act)
        for month, on in days.items()
        for c in counted[on]
    }
    acts = await coverage.acts_by_month(session, scope, lower, upper)
    return Months(days=days, counted=found, acts={(t, m): n for t, m, n in acts})


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
