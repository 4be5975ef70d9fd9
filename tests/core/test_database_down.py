"""Readiness, and what a request gets when the database is missing, unreachable or unmigrated.

A database that cannot be reached is 503 with ``Retry-After`` (never 500), while /healthz, which
checks nothing, stays 200.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient, Response

from app.core.errors import PROBLEM_MEDIA_TYPE
from app.core.migrations import head_revisions
from app.main import create_app
from tests.conftest import settings_for

# Nothing listens on port 1: connecting is refused at once.
UNREACHABLE_URL = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"


async def serve(database_url: str, data_dir: Path) -> AsyncIterator[AsyncClient]:
    """A client of the real application on ``database_url``; 2 s to connect at most."""
    app = create_app(settings_for(database_url, data_dir, db_connect_timeout_seconds=2))
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


async def test_healthz_is_200_when_the_database_is_unreachable(unreachable: AsyncClient) -> None:
    response = await unreachable.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_503_when_migrations_are_pending(unmigrated: AsyncClient) -> None:
    response = await unmigrated.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["code"] == "migrations_pending"
    assert "aixin migrate" in body["detail"]
    assert all(head in body["detail"] for head in head_revisions())


# -- a server that answers but will not serve: starting up, shutting down, full ----------------

_SSL_REQUEST = (80877103).to_bytes(4, "big")


async def _refuse_session(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sqlstate: str, message: str
) -> None:
    """Speak just enough of the PostgreSQL protocol to refuse a session as the server does."""
    try:
        payload = await reader.readexactly(int.from_bytes(await reader.readexactly(4)) - 4)
        if payload[:4] == _SSL_REQUEST:
            writer.write(b"N")  # no TLS; the client then sends its startup message
            await reader.readexactly(int.from_bytes(await reader.readexactly(4)) - 4)
        fields = f"SFATAL\0VFATAL\0C{sqlstate}\0M{message}\0\0".encode()
        writer.write(b"E" + (len(fields) + 4).to_bytes(4, "big") + fields)
        await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()


REFUSALS = {
    "starting up": ("57P03", "the database system is starting up"),
    "shutting down": ("57P03", "the database system is shutting down"),
    "full": ("53300", "sorry, too many clients already"),
}


@pytest.fixture(params=sorted(REFUSALS))
async def refusing(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncClient]:
    """A client of an application whose database server refuses every session."""
    sqlstate, message = REFUSALS[request.param]
    server = await asyncio.start_server(
        lambda r, w: _refuse_session(r, w, sqlstate, message), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    async with server:
        async for client in serve(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x", tmp_path):
            yield client


async def test_a_read_is_503_while_the_database_refuses_sessions(refusing: AsyncClient) -> None:
    assert_unavailable(await refusing.get("/api/v1/regions"))


async def test_an_idempotent_post_is_503_while_the_database_refuses_sessions(
    refusing: AsyncClient,
) -> None:
    body = {"username": "someone", "password": "whatever123", "display_name": "爱心人士"}
    headers = {"Idempotency-Key": "a-phone-on-a-bad-network"}
    response = await refusing.post(
        "/api/v1/auth/register", json=body | {"kind": "individual"}, headers=headers
    )
    assert_unavailable(response)
