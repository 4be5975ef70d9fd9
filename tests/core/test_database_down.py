"""Readiness, and what a request gets when the database is missing, unreachable or unmigrated.

A database that cannot be reached is 503 with ``Retry-After`` (never 500), while /healthz, which
checks nothing, stays 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.errors import PROBLEM_MEDIA_TYPE
from app.core.migrations import head_revisions
from app.core.security import Tokens
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import settings_for

# Nothing listens on port 1: connecting is refused at once.
UNREACHABLE_URL = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"


async def serve(
    database_url: str, data_dir: Path, **overrides: object
) -> AsyncIterator[AsyncClient]:
    """A client of the real application on ``database_url``; 2 s to connect at most."""
    settings = settings_for(database_url, data_dir, db_connect_timeout_seconds=2, **overrides)
    app = create_app(settings)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://aixin.test", timeout=10) as c:
        yield c
    await app.state.database.dispose()


@pytest.fixture
async def unreachable(tmp_path: Path) -> AsyncIterator[AsyncClient]:
    """A client of an application whose database server does not answer."""
    async for client in serve(UNREACHABLE_URL, tmp_path):
        yield client


@pytest.fixture
async def unmigrated(tmp_path: Path) -> AsyncIterator[AsyncClient]:
    """A client of an application on a fresh, empty SQLite file."""
    async for client in serve(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", tmp_path):
        yield client


def assert_unavailable(response: Response) -> None:
    """A 503 problem telling the caller to retry: the database cannot be reached."""
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["code"] == "database_unavailable"
    assert body["request_id"] == response.headers["x-request-id"]


async def test_readyz_is_ready_at_the_head_revision(client: AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "database": "ok",
        "revision": ",".join(sorted(head_revisions())),
    }


async def test_readyz_is_503_when_the_database_is_unreachable(unreachable: AsyncClient) -> None:
    response = await unreachable.get("/readyz")
    assert_unavailable(response)


async def test_signing_in_is_503_when_the_database_is_unreachable(
    unreachable: AsyncClient,
) -> None:
    response = await unreachable.post(
        "/api/v1/auth/token", data={"username": "someone", "password": "whatever123"}
    )
    assert_unavailable(response)


async def test_a_public_read_is_503_when_the_database_is_unreachable(
    unreachable: AsyncClient,
) -> None:
    response = await unreachable.get("/api/v1/regions")
    assert_unavailable(response)


# The reads of one statement run on the driver's connection on PostgreSQL (app.core.reads).
ONE_STATEMENT_READS = ("/api/v1/me", "/api/v1/needs", "/api/v1/needs/1")


def bearer(tmp_path: Path) -> dict[str, str]:
    """A valid access token of the test key: the request gets as far as the database."""
    tokens = Tokens(settings_for(UNREACHABLE_URL, tmp_path))
    now = dt.datetime.now(dt.UTC)
    token = tokens.issue_access(1, "donor", None, family="a-family", generation=0, now=now)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ONE_STATEMENT_READS)
async def test_a_read_of_one_statement_is_503_when_the_database_is_unreachable(
    unreachable: AsyncClient, tmp_path: Path, path: str
) -> None:
    assert_unavailable(await unreachable.get(path, headers=bearer(tmp_path)))


async def test_healthz_is_200_when_the_database_is_unreachable(unreachable: AsyncClient) -> None:
    response = await unreachable.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_503_when_migrations_are_pending(unmigrated: AsyncClient) -> None:
    response = await unmigrated.get("/readyz", headers={"Accept-Language": "en"})
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["code"] == "migrations_pending"
    assert "aixin migrate" in body["detail"]
    assert all(head in body["detail"] for head in head_revisions())


# -- a server that answers but will not serve: starting up, shutting down, full, frozen ---------

_SSL_REQUEST = (80877103).to_bytes(4, "big")


def _message(kind: bytes, payload: bytes) -> bytes:
    return kind + (len(payload) + 4).to_bytes(4, "big") + payload


async def _read_startup(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read a client's startup message (declining TLS first if it asks)."""
    payload = await reader.readexactly(int.from_bytes(await reader.readexactly(4)) - 4)
    if payload[:4] == _SSL_REQUEST:
        writer.write(b"N")  # no TLS; the client then sends its startup message
        await reader.readexactly(int.from_bytes(await reader.readexactly(4)) - 4)


async def _refuse_session(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sqlstate: str, message: str
) -> None:
    """Speak just enough of the PostgreSQL protocol to refuse a session as the server does."""
    try:
        await _read_startup(reader, writer)
        writer.write(_message(b"E", f"SFATAL\0VFATAL\0C{sqlstate}\0M{message}\0\0".encode()))
        await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()


async def _open_session_then_freeze(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Open a session as the server does, then answer nothing, like a frozen server."""
    try:
        await _read_startup(reader, writer)
        writer.write(_message(b"R", (0).to_bytes(4, "big")))  # authenticated
        for name, value in [("server_version", "15.0"), ("client_encoding", "UTF8")]:
            writer.write(_message(b"S", f"{name}\0{value}\0".encode()))
        writer.write(_message(b"K", (1).to_bytes(4, "big") * 2))
        writer.write(_message(b"Z", b"I"))  # ready for query
        await writer.drain()
        while await reader.read(4096):
            pass
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def fake_postgres(handler: Any) -> AsyncIterator[str]:
    """A PostgreSQL URL on loopback whose server is ``handler``."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x"
        server.close()


REFUSALS = {
    "starting up": ("57P03", "the database system is starting up"),
    "shutting down": ("57P03", "the database system is shutting down"),
    "full": ("53300", "sorry, too many clients already"),
}


@pytest.fixture(params=sorted(REFUSALS))
async def refusing(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncClient]:
    """A client of an application whose database server refuses every session."""
    sqlstate, message = REFUSALS[request.param]
    async with fake_postgres(lambda r, w: _refuse_session(r, w, sqlstate, message)) as url:
        async for client in serve(url, tmp_path):
            yield client


async def test_a_read_is_503_while_the_database_refuses_sessions(
    refusing: AsyncClient, tmp_path: Path
) -> None:
    assert_unavailable(await refusing.get("/api/v1/regions"))
    for path in ONE_STATEMENT_READS:
        assert_unavailable(await refusing.get(path, headers=bearer(tmp_path)))


async def test_an_idempotent_post_is_503_while_the_database_refuses_sessions(
    refusing: AsyncClient,
) -> None:
    body = {"username": "someone", "password": "whatever123", "display_name": "爱心人士"}
    headers = {"Idempotency-Key": "a-phone-on-a-bad-network"}
    response = await refusing.post(
        "/api/v1/auth/register", json=body | {"kind": "individual"}, headers=headers
    )
    assert_unavailable(response)


async def test_a_frozen_database_is_503_within_the_command_timeout(tmp_path: Path) -> None:
    async with fake_postgres(_open_session_then_freeze) as url:
        async for frozen in serve(url, tmp_path, db_command_timeout_seconds=1):
            started = time.monotonic()
            with anyio.fail_after(10):  # without a command timeout it would wait forever
                response = await frozen.get("/api/v1/regions")
            assert_unavailable(response)
            assert time.monotonic() - started < 5
            # A read of one statement (the three share app.core.direct's path) likewise.
            started = time.monotonic()
            with anyio.fail_after(10):
                response = await frozen.get(ONE_STATEMENT_READS[0], headers=bearer(tmp_path))
            assert_unavailable(response)
            assert time.monotonic() - started < 5


# -- asking an unreachable database once a second, not once a request -------------------------


async def test_while_the_database_refuses_the_service_asks_it_about_once_a_second(
    tmp_path: Path,
) -> None:
    attempts = 0

    async def count_then_refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal attempts
        attempts += 1
        await _refuse_session(reader, writer, "57P03", "the database system is starting up")

    async with fake_postgres(count_then_refuse) as url:
        async for client in serve(url, tmp_path):
            for _ in range(10):
                assert_unavailable(await client.get("/api/v1/regions"))
    assert 1 <= attempts <= 2  # the first, and a probe if a second went by meanwhile


class Switch:
    """A loopback TCP proxy to PostgreSQL that can refuse connections, like a server that is
    down, and forward them again."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.refusing = False

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def test_the_service_serves_again_once_the_database_is_back(
    settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    if settings.is_sqlite:
        pytest.skip("a database server that goes away: PostgreSQL only")
    upstream = make_url(settings.database_url)
    switch = Switch(upstream.port or 5432)
    switch.refusing = True
    async with fake_postgres(switch.handle) as proxy:
        url = make_url(proxy).set(database=upstream.database).render_as_string()
        async for client in serve(url, tmp_path):
            assert_unavailable(await client.get("/api/v1/regions"))
            switch.refusing = False
            for _ in range(100):  # the breaker lets a probe through after a second
                response = await client.get("/api/v1/regions")
                if response.status_code != 503:
                    break
                await asyncio.sleep(0.1)
            assert response.status_code == 200
