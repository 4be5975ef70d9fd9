"""The service as deployed: ``aixin serve`` (uvicorn) on loopback, spoken to over real TCP.

One server per engine runs against that engine's migrated test database; it is stopped and the
rows it wrote are removed when the module is done. Its stderr is kept in a file to check that
every log line is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.migrations import head_revisions
from app.core.settings import Settings
from tests.conftest import empty_tables
from tests.factories import register_donor, sign_in

AIXIN = Path(sys.executable).parent / "aixin"
# A deadline, not a measure: the server starts in about two seconds on a quiet machine.
STARTUP_SECONDS = 60.0
STOP_SECONDS = 10.0


@dataclass
class LiveServer:
    base_url: str
    stderr: Path
    process: asyncio.subprocess.Process


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(settings: Settings, data_dir: Path) -> dict[str, str]:
    """The test database and keys, cheap hashing, JSON logs at INFO; no other AIXIN_* settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIXIN_")}
    env.update(
        AIXIN_ENV="test",
        AIXIN_DATABASE_URL=settings.database_url,
        AIXIN_DATA_DIR=str(data_dir),
        AIXIN_SECRET_KEY=settings.secret("secret_key"),
        AIXIN_DATA_KEY=settings.secret("data_key"),
        AIXIN_INDEX_KEY=settings.secret("index_key"),
        AIXIN_ARGON2_TIME_COST="1",
        AIXIN_ARGON2_MEMORY_KIB="1024",
        AIXIN_ARGON2_PARALLELISM="1",
        AIXIN_LOG_JSON="true",
        AIXIN_LOG_LEVEL="INFO",
        # No background expiry sweeps: the server does only what these tests ask of it.
        AIXIN_EXPIRY_INTERVAL_SECONDS="0",
    )
    return env


def log_lines(server: LiveServer) -> list[str]:
    return [line for line in server.stderr.read_text(encoding="utf-8").splitlines() if line]


async def logged_line(server: LiveServer, needle: str, seconds: float = 5) -> dict[str, Any] | None:
    """The first log line containing ``needle``, parsed; waits for it up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        for line in log_lines(server):
            if needle in line:
                entry: dict[str, Any] = json.loads(line)
                return entry
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.05)


async def wait_until_healthy(server: LiveServer) -> None:
    """Poll /healthz until it answers 200; fail when the process dies or the deadline passes."""
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2, trust_env=False) as http:
        while time.monotonic() < deadline:
            if server.process.returncode is not None:
                pytest.fail(
                    f"aixin serve exited with {server.process.returncode}:\n"
                    + "\n".join(log_lines(server)[-20:])
                )
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(
        f"aixin serve did not answer /healthz within {STARTUP_SECONDS} s:\n"
        + "\n".join(log_lines(server)[-20:])
    )


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL if the server has not exited in time."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()


@pytest.fixture(scope="module")
async def live_server(
    settings: Settings, engine: AsyncEngine, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    """``aixin serve`` on a free loopback port against the engine's migrated test database."""
    workdir = tmp_path_factory.mktemp("live")
    port = free_port()
    stderr = workdir / "server.stderr"
    with stderr.open("wb") as err, (workdir / "server.stdout").open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            str(AIXIN),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            env=server_env(settings, workdir),
            cwd=workdir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", stderr, process)
    try:
        await wait_until_healthy(server)
        yield server
    finally:
        await stop(process)
        await empty_tables(engine)


@pytest.fixture
async def http(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client speaking to the live server over TCP."""
    async with httpx.AsyncClient(
        base_url=live_server.base_url, timeout=10, trust_env=False
    ) as client:
        yield client


async def test_readyz_is_ready_over_tcp(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["revision"] == ",".join(sorted(head_revisions()))


async def test_a_donor_registers_signs_in_and_reads_me_over_tcp(http: httpx.AsyncClient) -> None:
    donor = await register_donor(http)
    headers = await sign_in(http, str(donor["username"]))
    response = await http.get("/api/v1/me", headers=headers)
    assert response.status_code == 200, response.text
    me = response.json()
    assert (me["id"], me["username"], me["role"]) == (donor["id"], donor["username"], "donor")


async def test_me_without_a_token_is_401_over_tcp(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_dongkou_lists_its_24_townships_over_tcp(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/regions", params={"parent": "430525"})
    assert response.status_code == 200
    assert len(response.json()["items"]) == 24


async def test_each_request_is_logged_as_json_with_its_request_id(
    http: httpx.AsyncClient, live_server: LiveServer
) -> None:
    request_id = f"live-{uuid.uuid4().hex}"
    response = await http.get("/api/v1/regions/430525", headers={"X-Request-ID": request_id})
    assert response.headers["x-request-id"] == request_id

    entry = await logged_line(live_server, request_id)
    assert entry is not None, "no log line carries the request id"
    assert entry["request_id"] == request_id
    assert (entry["logger"], entry["event"], entry["path"], entry["status"]) == (
        "aixin.access",
        "request",
        "/api/v1/regions/430525",
        200,
    )


async def test_every_server_log_line_is_a_json_object(
    http: httpx.AsyncClient, live_server: LiveServer
) -> None:
    await http.get("/healthz")
    lines = log_lines(live_server)
    assert lines, "the server logged nothing"
    entries = [json.loads(line) for line in lines]
    assert all(isinstance(entry, dict) and "event" in entry for entry in entries)
    access = [entry for entry in entries if entry.get("logger") == "aixin.access"]
    assert access
    assert all(entry.get("request_id") for entry in access)
