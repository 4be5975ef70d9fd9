"""Statements that are a transaction by themselves (``app.core.direct``) answer as SQLAlchemy
would, and fail as it would.

On PostgreSQL they run on asyncpg's own connection, past SQLAlchemy's execution: every hot read
(``GET /me``'s statement, a need, each page's shape, and each joined with the account) must give
the very rows, of the very types, that SQLAlchemy gives; a write is committed when it has run,
gives its RETURNING, and a key that refuses it is SQLAlchemy's IntegrityError. A statement that
times out, is cancelled or loses its connection drops that connection (the next gets a new one);
one the server refuses for a bug of its own keeps it. On SQLite they are SQLAlchemy's own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import Integer, Select, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.accounts.deps import _with_account, account_statement
from app.core.db import make_engine, utcnow
from app.core.direct import Direct, prepare
from app.core.errors import database_unreachable
from app.core.idempotency import _CLAIM, _COMPLETE, _RELEASE
from app.core.idempotency_models import IdempotencyKey
from app.core.settings import Settings
from app.core.vocabulary import CATEGORIES
from app.inbox.service import SUMMARY_COLUMNS
from app.needs import browse
from tests.factories import (
    DONGKOU_VILLAGE,
    OTHER_VILLAGE,
    admin_headers,
    donor_headers,
    make_household,
    post_need,
)

DONGKOU_COUNTY = DONGKOU_VILLAGE[:6]


async def _world(app: FastAPI, client: AsyncClient) -> tuple[int, list[int]]:
    """A county admin's needs in two villages (one claimed), and the donor who claimed it."""
    admin = await admin_headers(app, client, "county", DONGKOU_COUNTY)
    need_ids = []
    for village, key in [(DONGKOU_VILLAGE, True), (OTHER_VILLAGE, False), (DONGKOU_VILLAGE, False)]:
        household = await make_household(client, admin, village_code=village, key_household=key)
        for category, urgency in zip(CATEGORIES[:2], (1, 3), strict=True):
            need = await post_need(
                client, admin, household["id"], category=category, urgency=urgency
            )
            need_ids.append(need["id"])
    donor = await donor_headers(client)
    claimed = await client.post(f"/api/v1/needs/{need_ids[0]}/claim", headers=donor)
    assert claimed.status_code == 201, claimed.text
    me = await client.get("/api/v1/me", headers=donor)
    return me.json()["id"], need_ids


def _cases(user_id: int, need_ids: list[int]) -> list[tuple[Select[Any], dict[str, Any]]]:
    """Every shape of the hot reads, with parameters that make each return rows."""
    account = {"user_id": user_id, "family": "a-family", "now": utcnow()}
    cases: list[tuple[Select[Any], dict[str, Any]]] = [
        (account_statement(*SUMMARY_COLUMNS), account)
    ]
    for scope in (None, DONGKOU_COUNTY, DONGKOU_VILLAGE):
        for need_id in (need_ids[0], need_ids[2], -1):
            one = browse.one_statement(scope)
            cases += [
                (one, {"need_id": need_id}),
                (_with_account(one), {**account, "need_id": need_id}),
            ]
        filters = [
            browse.BrowseFilters(),
            browse.BrowseFilters(statuses=("claimed", "published"), region=DONGKOU_COUNTY),
            browse.BrowseFilters(key_household=True, urgency=3),
        ]
        for kept in filters:
            for sort in ("newest", "urgent", "deadline"):
                first = browse.page_query(scope, kept, sort=sort, limit=2, cursor=None)
                cases += [
                    (first.statement, first.parameters),
                    (_with_account(first.statement), {**account, **first.parameters}),
                ]
    return cases


def _typed(rows: list[Any]) -> list[tuple[tuple[Any, type], ...]]:
    """Rows with each value's type beside it, in one order (a joined page has none of its own)."""
    typed = [tuple((value, type(value)) for value in row) for row in rows]
    return sorted(typed, key=repr)


async def test_each_hot_read_gives_the_rows_sqlalchemy_gives(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine
) -> None:
    user_id, need_ids = await _world(app, client)
    reader = Direct(engine)
    for statement, parameters in _cases(user_id, need_ids):
        async with engine.connect() as connection:
            expected = (await connection.execute(statement, parameters)).all()
        for _ in range(2):  # prepared the first time, kept the second
            assert _typed(await reader.read(statement, parameters)) == _typed(expected)
    # The pages by cursor too: every page of each sort, as SQLAlchemy reads it.
    for sort in ("newest", "urgent", "deadline"):
        cursor: str | None = None
        while True:
            query = browse.page_query(
                None, browse.BrowseFilters(), sort=sort, limit=1, cursor=cursor
            )
            async with engine.connect() as connection:
                expected = (await connection.execute(query.statement, query.parameters)).all()
            rows = await reader.read(query.statement, query.parameters)
            assert [tuple(row) for row in expected] == rows  # its own order, kept
            _views, cursor = browse.page_of(query, rows)
            if cursor is None:
                break


async def test_a_statement_built_for_one_read_gives_its_rows(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine
) -> None:
    await _world(app, client)
    search = browse.page_query(
        None, browse.BrowseFilters(q="需"), sort="newest", limit=5, cursor=None
    )
    async with engine.connect() as connection:
        expected = (await connection.execute(search.statement, search.parameters)).all()
    rows = await Direct(engine).read(search.statement, search.parameters, keep=False)
    assert rows == [tuple(row) for row in expected]


async def test_a_write_is_committed_when_it_has_run(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine
) -> None:
    # (client: the tables are emptied after the test)
    direct = app.state.database.direct
    now = utcnow()
    values = {
        "principal": "direct-test",
        "key": "a-key",
        "fingerprint": "f",
        "state": "pending",
        "created_at": now,
        "expires_at": now + dt.timedelta(hours=1),
    }
    ((key_id,),) = await direct.write(_CLAIM, values)
    with pytest.raises(IntegrityError):  # the same principal and key again
        await direct.write(_CLAIM, values)
    done = {"key_id": key_id, "status": 201, "type": "application/json", "body": b"\x00{}"}
    assert await direct.write(_COMPLETE, done) == []
    # Seen from another connection: committed, as written.
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(
                    IdempotencyKey.state, IdempotencyKey.status_code, IdempotencyKey.response_body
                ).where(IdempotencyKey.id == key_id)
            )
        ).one()
    assert tuple(row) == ("completed", 201, b"\x00{}")
    await direct.write(_RELEASE, {"key_id": key_id})  # only a pending key goes
    async with engine.connect() as connection:
        kept = await connection.scalar(select(func.count()).where(IdempotencyKey.id == key_id))
    assert kept == 1


def test_a_list_given_at_each_read_is_refused_when_prepared() -> None:
    statement = select(literal(1)).where(literal(1).in_(bindparam("ids", expanding=True)))
    with pytest.raises(TypeError, match="list"):
        prepare(statement, PGDialect_asyncpg())


def test_a_column_converted_by_the_drivers_type_is_refused_when_prepared() -> None:
    statement = select((literal(1) / bindparam("two", type_=Integer)).label("half"))
    with pytest.raises(TypeError, match="half"):
        prepare(statement, PGDialect_asyncpg())


# -- failures (PostgreSQL: SQLite is read through SQLAlchemy) --------------------------------

_BACKEND = select(func.pg_backend_pid())


def _postgres_only(settings: Settings) -> None:
    if settings.is_sqlite:
        pytest.skip("the driver's own connection is PostgreSQL's")


@pytest.fixture
async def quick(settings: Settings) -> Any:
    """Statements that time out after half a second, on an engine of their own."""
    _postgres_only(settings)
    engine = make_engine(settings, command_timeout=0.5)
    yield Direct(engine)
    await engine.dispose()


async def _backend(reader: Direct) -> int:
    ((pid,),) = await reader.read(_BACKEND, {})
    assert isinstance(pid, int)
    return pid


async def test_a_read_that_times_out_drops_its_connection(quick: Direct) -> None:
    before = await _backend(quick)
    slow = select(func.pg_sleep(bindparam("seconds", type_=Integer)), literal(1))
    started = dt.datetime.now(dt.UTC)
    with pytest.raises(DBAPIError) as raised:
        await quick.read(slow, {"seconds": 5})
    assert dt.datetime.now(dt.UTC) - started < dt.timedelta(seconds=3)
    assert isinstance(raised.value.orig, TimeoutError)
    assert raised.value.connection_invalidated
    assert database_unreachable(raised.value)  # answered 503
    assert await _backend(quick) != before  # the next read has a new connection


async def test_a_cancelled_read_drops_its_connection(quick: Direct) -> None:
    before = await _backend(quick)
    slow = select(func.pg_sleep(bindparam("seconds", type_=Integer)), literal(1))
    task = asyncio.create_task(quick.read(slow, {"seconds": 5}))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _backend(quick) != before


async def test_a_read_the_server_refuses_keeps_its_connection(quick: Direct) -> None:
    before = await _backend(quick)
    failing = select(literal(1, Integer) // bindparam("zero", type_=Integer))
    with pytest.raises(DBAPIError) as raised:
        await quick.read(failing, {"zero": 0})
    assert getattr(raised.value.orig, "sqlstate", None) == "22012"  # division by zero
    assert not raised.value.connection_invalidated
    assert not database_unreachable(raised.value)  # a bug: answered 500
    assert await _backend(quick) == before
