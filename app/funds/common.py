"""What the fund pool's services share: the compare-and-set move, counties, receipt numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.transitions import TransitionTable, compare_and_set
from app.core.upsert import insert_or_nothing
from app.funds.models import ReceiptCounter
from app.regions.models import Region

CST = dt.timezone(dt.timedelta(hours=8))


class Versioned(Protocol):
    id: Any
    status: Any
    version: Any


async def move(
    session: AsyncSession,
    row: Versioned,
    table: TransitionTable,
    action: str,
    *,
    lost: str,
    **values: Any,
) -> str:
    """``action`` on ``row`` if nobody moved it since it was read (id, status and version);
    the loser of a race gets 409 ``lost``."""
    return await compare_and_set(
        session, row, table, action,
        guard={"version": row.version}, lost=lost,
        version=row.version + 1, updated_at=utcnow(), **values,
    )  # fmt: skip


async def county(session: AsyncSession, code: str) -> Region:
    """The county ``code``, or 404."""
    region = await session.get(Region, code)
    if region is None or region.level != "county":
        raise NotFound(f"No county {code}", code="county_not_found")
    return region


async def next_receipt_no(session: AsyncSession, county_code: str, year: int) -> int:
    """The next receipt number of a county's year: the counter row is locked by the update until
    the transaction ends, so numbers are handed out in order and a rolled-back one is reused."""
    bump = (
        update(ReceiptCounter)
        .where(ReceiptCounter.county_code == county_code, ReceiptCounter.year == year)
        .values(last_no=ReceiptCounter.last_no + 1)
        .returning(ReceiptCounter.last_no)
        .execution_options(synchronize_session=False)
    )
    taken = (await session.execute(bump)).scalar()
    if taken is None:
        dialect = session.get_bind().dialect.name
        await session.execute(
            insert_or_nothing(dialect, ReceiptCounter, ["county_code", "year"]).values(
                county_code=county_code, year=year, last_no=0
            )
        )
        taken = (await session.execute(bump)).scalar()
    assert taken is not None
    return int(taken)


def receipt_text(county_code: str, year: int, number: int) -> str:
    """A receipt number as printed: 430525-2026-000001."""
    return f"{county_code}-{year}-{number:06d}"


async def village_names(session: AsyncSession, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = await session.execute(select(Region.code, Region.name).where(Region.code.in_(codes)))
    return dict(rows.all())
