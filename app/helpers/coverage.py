"""The coverage of 户帮户亲帮亲, counted in SQL: key households with a helper and a liaison,
with a recent help act, and help acts per township and month.

The monthly assessment reads the coverage on the last day of each month, and the year's summary
adds the months' acts, so every figure here is a function of a scope and a day or a range. A day's
figures stay what they were once the day is over: a household counts from its registration, and
a role by whoever held it at the day's close (an assignment's period, kept when it is replaced).
Whether a household is a key household has no history, though: a household counts as key on
every day by what it is marked now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Date,
    Subquery,
    and_,
    exists,
    extract,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import UTCDateTime
from app.core.scope import Scope
from app.helpers.models import HelpAct, HelperAssignment
from app.households.models import Household

TOWNSHIP = 9  # digits of a township's code
RECENT_DAYS = 30
CST = dt.timezone(dt.timedelta(hours=8), "CST")


@dataclass(frozen=True, slots=True)
class Counts:
    """One township's coverage on a day."""

    township: str
    key_households: int
    with_helper_and_liaison: int
    with_recent_act: int


def _end_of(on: dt.date) -> dt.datetime:
    """The first moment after the CST day ``on``, in UTC."""
    return dt.datetime.combine(on + dt.timedelta(days=1), dt.time(), tzinfo=CST).astimezone(dt.UTC)


def _days(days: Sequence[dt.date]) -> Subquery:
    """The days as rows: each day, the first of its 30 recent days, and the moment it closes."""
    rows = [
        select(
            literal(on, Date).label("day"),
            literal(on - dt.timedelta(days=RECENT_DAYS - 1), Date).label("since"),
            literal(_end_of(on), UTCDateTime).label("close"),
        )
        for on in days
    ]
    return (rows[0] if len(rows) == 1 else union_all(*rows)).subquery("days")


def _has(role: str, close: ColumnElement[dt.datetime]) -> ColumnElement[bool]:
    """Someone held ``role`` for the household at ``close``, the close of a day."""
    return exists().where(
        HelperAssignment.household_id == Household.id,
        HelperAssignment.role == role,
        HelperAssignment.assigned_at < close,
        or_(HelperAssignment.ended_at.is_(None), HelperAssignment.ended_at >= close),
    )


def _acted_within(since: ColumnElement[dt.date], on: ColumnElement[dt.date]) -> ColumnElement[bool]:
    return exists().where(
        HelpAct.household_id == Household.id,
        HelpAct.acted_on >= since,
        HelpAct.acted_on <= on,
    )


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count().filter(condition)


async def coverage_on(
    session: AsyncSession, scope: str, days: Sequence[dt.date]
) -> dict[dt.date, list[Counts]]:
    """Each township of ``scope`` that had key households on each of ``days``: its coverage,
    in one statement for all the days.

    Only households registered by a day's close count on that day. Key status is read as it is
    now (it has no history), so unmarking a household removes it from past days too.
    """
    found: dict[dt.date, list[Counts]] = {on: [] for on in days}
    if not days:
        return found
    day = _days(days)
    township = func.substr(Household.village_code, 1, TOWNSHIP)
    rows = await session.execute(
        select(
            day.c.day,
            township,
            func.count(),
            _count_if(and_(_has("helper", day.c.close), _has("liaison", day.c.close))),
            _count_if(_acted_within(day.c.since, day.c.day)),
        )
        .select_from(day)
        .join(Household, Household.created_at < day.c.close)
        .where(Scope(scope).where(Household.village_code), Household.key_household.is_(True))
        .group_by(day.c.day, township)
        .order_by(day.c.day, township)
    )
    for on, code, key, both, recent in rows.all():
        found[on].append(Counts(str(code), int(key), int(both), int(recent)))
    return found


async def coverage(session: AsyncSession, scope: str, on: dt.date) -> list[Counts]:
    """Each township of ``scope`` that had key households on the day ``on``: its coverage."""
    return (await coverage_on(session, scope, [on]))[on]


async def acts_by_month(
    session: AsyncSession, scope: str, lower: dt.date, upper: dt.date
) -> list[tuple[str, str, int]]:
    """(township, ``YYYY-MM``, acts) of the help acts of ``scope`` dated in ``[lower, upper)``."""
    township = func.substr(HelpAct.village_code, 1, TOWNSHIP)
    year, month = extract("year", HelpAct.acted_on), extract("month", HelpAct.acted_on)
    conditions = [HelpAct.acted_on >= lower, HelpAct.acted_on < upper]
    if len(scope) >= 6:
        conditions.append(HelpAct.county_code == scope[:6])
    rows = await session.execute(
        select(township, year, month, func.count())
        .where(Scope(scope).where(HelpAct.village_code), *conditions)
        .group_by(township, year, month)
        .order_by(township, year, month)
    )
    return [(str(t), f"{int(y):04d}-{int(m):02d}", int(n)) for t, y, m, n in rows.all()]
