"""What the reports share: the region an admin asks about, the dates allowed, and aggregates.

The aggregates are portable SQL (a ratio that is NULL over nothing, a conditional count, a sum
that is 0 over nothing); the expressions that differ between engines are in :mod:`app.stats.sql`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Float, case, cast, func
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.accounts.policy import admin_scope
from app.core.errors import NotFound
from app.regions import service as regions_service


async def region_in_scope(session: AsyncSession, admin: User, code: str | None) -> str:
    """The scope asked for (the admin's own by default): inside the admin's, and a real region."""
    own = admin_scope(admin)
    code = own.code if code is None else code
    if not own.covers(code):
        raise NotFound(f"No region {code!r} in your scope", code="region_not_found")
    if code:
        await regions_service.get_region(session, code)
    return code


def ratio(numerator: ColumnElement[Any], denominator: ColumnElement[Any]) -> ColumnElement[Any]:
    """numerator / denominator as a float; NULL when the denominator is 0."""
    return cast(numerator, Float) / cast(func.nullif(denominator, 0), Float)


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """The rows of the group for which ``condition`` holds."""
    return func.count(case((condition, 1)))


def total(column: ColumnElement[Any]) -> ColumnElement[int]:
    """The sum of ``column`` over the group; 0 over no rows."""
    return or_zero(func.sum(column))


def or_zero(column: ColumnElement[Any]) -> ColumnElement[int]:
    """``column`` as an integer, 0 where it is NULL."""
    return cast(func.coalesce(column, 0), BigInteger)
