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
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, extract, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

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


def _has(role: str, on: dt.date) -> ColumnElement[bool]:
    """Someone held ``role`` for the household at the close of the day ``on``."""
    end = _end_of(on)
    return exists().where(
        HelperAssignment.household_id == Household.id,
        HelperAssignment.role == role,
        HelperAssignment.assigned_at < end,
        or_(HelperAssignment.ended_at.is_(None), HelperAssignment.ended_at >= end),
    )


def _acted_within(on: dt.date) -> ColumnElement[bool]:
    return exists().where(
        HelpAct.household_id == Household.id,
        HelpAct.acted_on > on - dt.timedelta(days=RECENT_DAYS),
        HelpAct.acted_on <= on,
    )


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count().filter(condition)


async def coverage(session: AsyncSession, scope: str, on: dt.date) -> list[Counts]:
    """Each township of ``scope`` that had key households on the day ``on``: its coverage.

    Only households registered by the day's close count. Key status is read as it is now (it
    has no history), so unmarking a household removes it from past days too.
    """
    township = func.substr(Household.village_code, 1, TOWNSHIP)
    rows = await session.execute(
        select(
            township,
            func.count(),
            _count_if(and_(_has("helper", on), _has("liaison", on))),
            _count_if(_acted_within(on)),
        )
        .where(
            Scope(scope).where(Household.village_code),
            Household.key_household.is_(True),
            Household.created_at < _end_of(on),
        )
        .group_by(township)
        .order_by(township)
    )
    return [Counts(str(code), int(a), int(b), int(c)) for code, a, b, c in rows.all()]


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
