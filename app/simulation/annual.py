"""The year's summary of a simulated county, held against the simulation's own record.

After a run, the county admin's ``/stats/annual`` of every calendar year the run touched is read
through the stats service and checked, figure by figure:

- each township's and each category's year is its months summed (published, matched,
  fulfilled);
- the townships summed, and the categories summed, are the year's needs as the simulation
  counted them in its own monthly table (a separate query over the same database);
- each township's four quarterly ranks summed are its year (一季度一排名 against 一年一总结);
- the help acts of the years are the acts the simulation wrote.

The database is the run's own (a simulation starts on an empty one), so every need of the
county is the simulation's. Each disagreement is returned as a line; none means the year holds.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.stats import annual
from app.stats.schemas import SuccessGroup

FIGURES = ("published", "matched", "fulfilled")


def _years(start: dt.date, end: dt.date) -> range:
    """The calendar years of the days start ≤ day < end."""
    return range(start.year, (end - dt.timedelta(days=1)).year + 1)


def _months_summed(groups: list[SuccessGroup], year: int, found: list[str]) -> Counter[str]:
    """Each group's totals checked against its months; the months of all groups summed."""
    months: Counter[str] = Counter()
    for group in groups:
        for figure in FIGURES:
            summed = sum(getattr(period, figure) for period in group.periods)
            if getattr(group.totals, figure) != summed:
                found.append(
                    f"{year} {group.key}: {figure} {getattr(group.totals, figure)} "
                    f"but its months sum to {summed}"
                )
        for period in group.periods:
            months[f"{period.period} published"] += period.published
            months[f"{period.period} fulfilled"] += period.fulfilled
    return months


async def check(
    session: AsyncSession,
    admin: User,
    county: str,
    figures: dict[str, Any],
    acts_written: int,
    start: dt.date,
    end: dt.date,
) -> dict[str, Any]:
    """Every year's summary against the run's figures (``summarise``'s) and its help acts."""
    found: list[str] = []
    checked = 0
    acts = 0
    own = Counter[str]()
    for month in figures["months"]:
        own[f"{month['month']} published"] += month["published"]
        own[f"{month['month']} fulfilled"] += month["fulfilled"]
    for year in _years(start, end):
        summary = await annual.report(session, admin, county, year)
        by_township = _months_summed(summary.needs_by_township, year, found)
        by_category = _months_summed(summary.needs_by_category, year, found)
        checked += 3 * (len(summary.needs_by_township) + len(summary.needs_by_category))
        for key in sorted(set(by_township) | {k for k in own if k.startswith(str(year))}):
            values = (by_township[key], by_category[key], own[key])
            checked += 1
            if len(set(values)) != 1:
                found.append(
                    f"{key}: townships {values[0]}, categories {values[1]}, simulation {values[2]}"
                )
        for group in summary.needs_by_township:
            for figure in ("published", "fulfilled"):
                ranked = sum(
                    getattr(rank, figure) for rank in summary.ranks if rank.township == group.key
                )
                checked += 1
                if ranked != getattr(group.totals, figure):
                    found.append(
                        f"{year} {group.key}: {figure} {getattr(group.totals, figure)} "
                        f"but its quarters' ranks sum to {ranked}"
                    )
        acts += sum(row.acts for row in summary.help_acts)
    checked += 1
    if acts != acts_written:
        found.append(f"help acts: the summaries count {acts}, the simulation wrote {acts_written}")
    return {
        "years": list(_years(start, end)),
        "figures_checked": checked,
        "help_acts": acts,
        "disagreements": found,
    }
