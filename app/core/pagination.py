"""Keyset (cursor) pagination: opaque cursors that name the last row of a page."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core import types
from app.core.errors import Unprocessable

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=100, description="Items per page (1-100)")]
Cursor = Annotated[types.Cursor | None, Query(description="The next_cursor of the previous page")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as cursor to get the next page; null on the last page"
    )


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, length: int) -> list[Any]:
    """The values of a cursor made by :func:`encode_cursor`; 422 for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable("The cursor is not one this API made", code="invalid_cursor") from exc
    if not isinstance(values, list) or len(values) != length:
        raise Unprocessable("The cursor is not one this API made", code="invalid_cursor")
    return values


def decode_id_cursor(cursor: str) -> int:
    """The id in a one-value cursor made by ``encode_cursor([id])``."""
    (value,) = decode_cursor(cursor, length=1)
    return cursor_int(value)


def cursor_int(value: Any) -> int:
    """An integer a cursor holds (an id, a rank): a JSON integer that fits 64 bits; else 422."""
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise Unprocessable("The cursor is not one this API made", code="invalid_cursor")
    return value


def cursor_moment(value: Any) -> dt.datetime:
    """A timestamp a cursor holds: ISO 8601 text with its zone (as the API writes it); else 422."""
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
        # A zone far from UTC at either end of the calendar cannot be converted.
        utc = moment.astimezone(dt.UTC) if moment and moment.tzinfo else None
    except (ValueError, OverflowError):
        utc = None
    if utc is None:
        raise Unprocessable("The cursor is not one this API made", code="invalid_cursor")
    return utc


R = TypeVar("R")


async def page_by_id(
    session: AsyncSession,
    statement: Select[R],
    id_column: InstrumentedAttribute[int],
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool = True,
) -> tuple[Sequence[R], str | None]:
    """One page of a select of single entities, keyed by their id; and the next cursor."""
    if cursor:
        last = decode_id_cursor(cursor)
        statement = statement.where(id_column < last if newest_first else id_column > last)
    order = id_column.desc() if newest_first else id_column.asc()
    rows = (await session.scalars(statement.order_by(order).limit(limit + 1))).all()
    page = rows[:limit]
    last_id = getattr(page[-1], "id", None) if page else None
    return page, encode_cursor([last_id]) if len(rows) > limit else None
