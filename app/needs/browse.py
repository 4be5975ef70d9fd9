"""Reading needs: one need as its reader may see it, keyset pages, and the pool's open needs."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, Row, Select, bindparam, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.accounts.policy import Reader, scope_or_none
from app.core import statements
from app.core.errors import Forbidden, NotFound, Unprocessable
from app.core.pagination import cursor_int, cursor_moment, decode_cursor, encode_cursor
from app.core.scope import Scope
from app.core.vocabulary import ADMIN_ROLES
from app.households.models import Household
from app.needs.models import Need
from app.needs.schemas import Sort
from app.pairings import service as pairings
from app.pairings.models import Pairing
from app.pairings.schemas import PairingNeed, PairingRead
from app.regions.models import Region

CHUNK = 5000


@dataclass(frozen=True, slots=True)
class NeedRecord:
    """A need as read for showing: its columns, in the table's order, as plain values.

    Reads build these from rows rather than loading ORM entities, which costs several times more
    on the hot reads; what acts on a need loads the entity (:func:`get_visible`).
    """

    id: int
    household_id: int
    village_code: str
    county_code: str
    category: str
    title: str
    description: str
    value_fen: int
    urgency: int
    deadline: dt.date
    origin: str
    status: str
    version: int
    funding_source: str | None
    created_by_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime | None
    fulfilled_at: dt.datetime | None
    closed_reason: str | None


_NEED_COLUMNS = tuple(Need.__table__.columns)


@dataclass(frozen=True, slots=True)
class NeedView:
    """A need with what its readers see of its village and household."""

    need: NeedRecord
    village_name: str
    masked_name: str
    size: int
    key_household: bool


@dataclass(frozen=True, slots=True)
class BrowseFilters:
    region: str | None = None
    category: str | None = None
    urgency: int | None = None
    key_household: bool | None = None
    q: str | None = None
    statuses: tuple[str, ...] = ("published",)


def visible_to(user: User) -> ColumnElement[bool]:
    """Admins see the needs of their scope; anyone else the needs that were ever published."""
    return _visible_in(scope_or_none(user))


def _visible_in(scope: Scope | None) -> ColumnElement[bool]:
    return scope.where(Need.village_code) if scope else Need.published_at.is_not(None)


def _scope_code(user: User) -> str | None:
    """What a statement's visibility depends on: the admin's scope code, None for a donor."""
    scope = scope_or_none(user)
    return scope.code if scope else None


def reader_scope(role: str, scope_code: str | None) -> str | None:
    """:func:`_scope_code` of a user with ``role`` and ``scope_code`` (as a token says)."""
    if role not in ADMIN_ROLES:
        return None
    if scope_code is None:
        raise Forbidden("Only an admin may do this", code="admin_only")
    return Scope(scope_code).code


def _view_statement() -> Select[Any]:
    return (
        select(
            *_NEED_COLUMNS,
            Region.name,
            Household.head_name_masked,
            Household.size,
            Household.key_household,
        )
        .join(Household, Household.id == Need.household_id)
        .join(Region, Region.code == Need.village_code)
    )


def _view(row: Sequence[Any]) -> NeedView:
    count = len(_NEED_COLUMNS)
    village_name, masked_name, size, key_household = row[count:]
    return NeedView(NeedRecord(*row[:count]), village_name, masked_name, size, key_household)


async def summaries(session: AsyncSession, need_ids: Collection[int]) -> dict[int, PairingNeed]:
    """Each need's summary for the pairings that name it, by id (one query)."""
    rows = await session.execute(
        select(Need.id, *_SUMMARY)
        .join(Region, Region.code == Need.village_code)
        .where(Need.id.in_(set(need_ids)))
    )
    return {row[0]: _summary(*row[1:]) for row in rows}


# A need's summary for its pairings: these columns, in this order, are _summary's arguments.
_SUMMARY = (Need.title, Need.category, Region.name, Need.value_fen, Need.urgency, Need.deadline)


def _summary(*values: Any) -> PairingNeed:
    fields = ("title", "category", "village_name", "value_fen", "urgency", "deadline")
    return PairingNeed(**dict(zip(fields, values, strict=True)))


def pairing_read(pairing: Pairing, view: NeedView) -> PairingRead:
    """One pairing with the summary of its need, read as ``view`` (no query of its own)."""
    need = view.need
    if pairing.need_id != need.id:
        raise ValueError(f"pairing {pairing.id} is not of need {need.id}")
    values = (need.title, need.category, view.village_name, need.value_fen, need.urgency)
    return PairingRead.of(pairing, _summary(*values, need.deadline))


# The statements of the hot reads are built once for each shape and kept, their values bound
# at execution: building one costs more than running it. The shapes are bounded (the scope codes,
# statuses, regions, categories and sort orders the API accepts); values of no bounded set (ids,
# cursors, limits) are bind parameters, and a text search is built afresh each time.
STATEMENTS_KEPT = 1024


@functools.lru_cache(maxsize=STATEMENTS_KEPT)
def one_statement(scope_code: str | None) -> Select[Any]:
    scope = Scope(scope_code) if scope_code is not None else None
    return _view_statement().where(Need.id == bindparam("need_id"), _visible_in(scope))


async def get_view(session: AsyncSession, user: User, need_id: int) -> NeedView:
    """The need as ``user`` may see it; 404 when it is outside what the user may see."""
    statement = one_statement(_scope_code(user))
    rows = (await statements.run(session, statement, {"need_id": need_id})).rows
    return view_of(need_id, rows[0] if rows else None)


def view_of(need_id: int, row: Sequence[Any] | None) -> NeedView:
    """The view of need ``need_id`` read as ``row`` by :func:`one_statement` (its parameter
    ``need_id``); 404 without one."""
    if row is None:
        raise NotFound(f"No need {need_id}", code="need_not_found")
    return _view(row)


@functools.lru_cache(maxsize=STATEMENTS_KEPT)
def _entity_statement(scope_code: str | None) -> Select[Any]:
    scope = Scope(scope_code) if scope_code is not None else None
    return select(Need).where(Need.id == bindparam("need_id"), _visible_in(scope))


async def get_visible(session: AsyncSession, user: User, need_id: int) -> Need:
    """The need, if ``user`` may see it (404 otherwise): the start of every action on it."""
    statement = _entity_statement(_scope_code(user))
    need: Need | None = await session.scalar(statement, {"need_id": need_id})
    if need is None:
        raise NotFound(f"No need {need_id}", code="need_not_found")
    return need


_PAIRING_COLUMNS = statements.columns(Pairing)


@functools.lru_cache(maxsize=STATEMENTS_KEPT)
def _held_statement(scope_code: str | None) -> Select[Any]:
    scope = Scope(scope_code) if scope_code is not None else None
    return (
        select(*_NEED_COLUMNS, *_PAIRING_COLUMNS)
        .select_from(Need)
        .outerjoin(Pairing, pairings.holds(Need.id))
        .where(Need.id == bindparam("need_id"), _visible_in(scope))
        .limit(1)
    )


async def get_visible_held(
    session: AsyncSession, user: User, need_id: int
) -> tuple[Need, Pairing | None]:
    """The need, if ``user`` may see it (404 otherwise), and the pairing that holds it (active
    or delivered), if any, in one read: the start of every action on a need.

    One kept statement of plain columns; the entities are the session's own where it holds
    them already, as a query would give them."""
    rows = (
        await statements.run(session, _held_statement(_scope_code(user)), {"need_id": need_id})
    ).rows
    if not rows:
        raise NotFound(f"No need {need_id}", code="need_not_found")
    row, split = rows[0], len(_NEED_COLUMNS)
    need = statements.entity(session, Need, row[:split])
    if row[split] is None:  # the pairing's id: no pairing holds the need
        return need, None
    return need, statements.entity(session, Pairing, row[split:])


_SORT_KEYS = {
    "newest": ((Need.created_at, Need.id), True),
    "urgent": ((Need.urgency, Need.created_at, Need.id), True),
    "deadline": ((Need.deadline, Need.id), False),
}
# Where each sort's keys stand in a row of a page (the need's columns come first).
_SORT_POSITIONS = {
    sort: ([[column.key for column in _NEED_COLUMNS].index(key.key) for key in keys], descending)
    for sort, (keys, descending) in _SORT_KEYS.items()
}


def _cursor_values(sort: Sort, need: NeedRecord) -> list[object]:
    values: dict[str, list[object]] = {
        "newest": [need.created_at.isoformat(), need.id],
        "urgent": [need.urgency, need.created_at.isoformat(), need.id],
        "deadline": [need.deadline.isoformat(), need.id],
    }
    return values[sort]


def _parse_cursor(sort: Sort, cursor: str) -> list[object]:
    values = decode_cursor(cursor, length=len(_SORT_KEYS[sort][0]))
    if sort == "newest":
        return [cursor_moment(values[0]), cursor_int(values[1])]
    if sort == "urgent":
        return [cursor_int(values[0]), cursor_moment(values[1]), cursor_int(values[2])]
    try:
        return [dt.date.fromisoformat(str(values[0])), cursor_int(values[1])]
    except ValueError as exc:
        raise Unprocessable("The cursor is not one this API made", code="invalid_cursor") from exc


def _filters(scope: Scope | None, filters: BrowseFilters) -> list[ColumnElement[bool]]:
    conditions = [Need.status.in_(filters.statuses), _visible_in(scope)]
    if filters.region:
        conditions.append(Scope(filters.region).where(Need.village_code))
    if filters.category:
        conditions.append(Need.category == filters.category)
    if filters.urgency:
        conditions.append(Need.urgency == filters.urgency)
    if filters.key_household is not None:
        conditions.append(Household.key_household.is_(filters.key_household))
    if filters.q:
        conditions.append(
            or_(
                Need.title.icontains(filters.q, autoescape=True),
                Need.description.icontains(filters.q, autoescape=True),
            )
        )
    return conditions


@functools.lru_cache(maxsize=STATEMENTS_KEPT)
def _kept_page_statement(
    scope_code: str | None, filters: BrowseFilters, sort: Sort, after_cursor: bool
) -> Select[Any]:
    return _build_page_statement(scope_code, filters, sort, after_cursor)


def _page_statement(
    scope_code: str | None, filters: BrowseFilters, sort: Sort, after_cursor: bool
) -> Select[Any]:
    """The page's statement; its parameters are ``limit`` and ``after_<i>`` (the cursor's)."""
    build = _build_page_statement if filters.q else _kept_page_statement
    return build(scope_code, filters, sort, after_cursor)


def _build_page_statement(
    scope_code: str | None, filters: BrowseFilters, sort: Sort, after_cursor: bool
) -> Select[Any]:
    columns, descending = _SORT_KEYS[sort]
    scope = Scope(scope_code) if scope_code is not None else None
    statement = _view_statement().where(*_filters(scope, filters))
    if after_cursor:
        key = tuple_(*columns)
        after = tuple_(
            *(
                bindparam(f"after_{index}", type_=column.type)
                for index, column in enumerate(columns)
            )
        )
        statement = statement.where(key < after if descending else key > after)
    order = [column.desc() if descending else column.asc() for column in columns]
    return statement.order_by(*order).limit(bindparam("limit", type_=Integer()))


@dataclass(frozen=True, slots=True)
class PageQuery:
    """The statement of a page and its parameters, and how its rows are ordered."""

    statement: Select[Any]
    parameters: dict[str, object]
    sort: Sort
    limit: int
    kept: bool  # the statement is kept for its shape (not built for one text search)


def page_query(
    scope_code: str | None, filters: BrowseFilters, *, sort: Sort, limit: int, cursor: str | None
) -> PageQuery:
    """The query of one page for a reader of ``scope_code`` (:func:`reader_scope`)."""
    statement = _page_statement(scope_code, filters, sort, bool(cursor))
    parameters: dict[str, object] = {"limit": limit + 1}
    if cursor:
        after = _parse_cursor(sort, cursor)
        parameters.update({f"after_{index}": value for index, value in enumerate(after)})
    return PageQuery(statement, parameters, sort, limit, kept=not filters.q)


def check_statuses(user: Reader, filters: BrowseFilters) -> None:
    """403 unless ``user`` may browse needs of the filters' statuses."""
    if not user.is_admin and filters.statuses != ("published",):
        raise Forbidden("Only admins may browse needs that are not published", code="admin_only")


def page_of(query: PageQuery, rows: Sequence[Sequence[Any]]) -> tuple[list[NeedView], str | None]:
    """The page of ``query``'s rows, in any order: its views and the next page's cursor."""
    positions, descending = _SORT_POSITIONS[query.sort]
    ordered = sorted(rows, key=lambda row: [row[i] for i in positions], reverse=descending)
    views = [_view(row) for row in ordered[: query.limit]]
    more = len(ordered) > query.limit
    return views, encode_cursor(_cursor_values(query.sort, views[-1].need)) if more else None


async def browse(
    session: AsyncSession,
    user: User,
    filters: BrowseFilters,
    *,
    sort: Sort,
    limit: int,
    cursor: str | None,
) -> tuple[list[NeedView], str | None]:
    """One page of needs in a stable keyset order; the cursor of the next page, if any."""
    check_statuses(user, filters)
    query = page_query(_scope_code(user), filters, sort=sort, limit=limit, cursor=cursor)
    return page_of(query, (await statements.run(session, query.statement, query.parameters)).rows)


# -- for matching: the needs open to the pool -------------------------------------------------


async def open_for_matching(
    session: AsyncSession, scope: Scope, categories: Sequence[str]
) -> Sequence[Row[tuple[int, str, str, int, int, dt.datetime, bool]]]:
    """The scope's published needs with no open proposal, in id order, with what the engine
    weighs (category, village, value, urgency, publish time, key household)."""
    return (
        await session.execute(
            select(
                Need.id, Need.category, Need.village_code, Need.value_fen, Need.urgency,
                Need.published_at, Household.key_household,
            )
            .join(Household, Household.id == Need.household_id)
            .where(
                Need.status == "published",
                Need.funding_source.is_(None),
                scope.where(Need.village_code),
                Need.category.in_(categories),
                ~pairings.is_proposed(Need.id),
            )
            .order_by(Need.id)
        )
    ).all()  # type: ignore[return-value]  # fmt: skip


async def lock_published(session: AsyncSession, need_ids: Sequence[int]) -> set[int]:
    """Of ``need_ids``, those still published, locked until the transaction ends."""
    open_ids: set[int] = set()
    for start in range(0, len(need_ids), CHUNK):
        chunk = need_ids[start : start + CHUNK]
        rows = await session.scalars(
            select(Need.id)
            .where(Need.id.in_(chunk), Need.status == "published", Need.funding_source.is_(None))
            .with_for_update()
        )
        open_ids.update(rows)
    return open_ids
