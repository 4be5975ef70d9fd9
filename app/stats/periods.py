"""The statistics calendar: months and quarters in China Standard Time (UTC+8, no DST).

Pure date arithmetic on the service's clock, no database: the labels made here are the ones the
SQL bucketing in :mod:`app.stats.sql` produces, so that every period of a range can be listed
even when nothing happened in it.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from app.core.db import utcnow

CST = dt.timezone(dt.timedelta(hours=8), "CST")
Period = Literal["month", "quarter"]
MONTHS_IN = {"month": 1, "quarter": 3}


def add_months(day: dt.date, months: int) -> dt.date:
    """The first of the month ``months`` after (or before) the month of ``day``."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def add_years(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later (or earlier); 29 February becomes the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def period_start(day: dt.date, period: Period) -> dt.date:
    """The first day of the month or quarter holding ``day``."""
    first_month = day.month - (day.month - 1) % MONTHS_IN[period]
    return dt.date(day.year, first_month, 1)


def label(start: dt.date, period: Period) -> str:
    """``2026-03`` for a month, ``2026Q1`` for a quarter."""
    if period == "month":
        return f"{start.year:04d}-{start.month:02d}"
    return f"{start.year:04d}Q{(start.month - 1) // 3 + 1}"


def labels(lower: dt.date, upper: dt.date, period: Period) -> list[str]:
    """Every period that has a day in ``[lower, upper)``, oldest first."""
    start, found = period_start(lower, period), []
    while start < upper:
        found.append(label(start, period))
        start = add_months(start, MONTHS_IN[period])
    return found


def today() -> dt.date:
    """Today's date in China, by the service's clock (simulated inside ``clock_at``)."""
    return utcnow().astimezone(CST).date()


def default_range(period: Period, on: dt.date) -> tuple[dt.date, dt.date]:
    """The last twelve months up to the end of the current period: ``[lower, upper)``."""
    upper = add_months(period_start(on, period), MONTHS_IN[period])
    return add_years(upper, -1), upper


def quarter_range(quarter: str) -> tuple[dt.date, dt.date]:
    """``[first day, first day of the next quarter)`` of a quarter written ``2026Q3``."""
    year, number = int(quarter[:4]), int(quarter[5])
    start = dt.date(year, 3 * number - 2, 1)
    return start, add_months(start, 3)


def midnight(day: dt.date) -> dt.datetime:
    """The instant a CST calendar day begins (an aware datetime; stored as UTC)."""
    return dt.datetime.combine(day, dt.time(), CST)
