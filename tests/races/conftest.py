"""The races run on PostgreSQL only: their SQLite halves are skipped before any setup.

The closing section that says how many pairs were raced is tests/races/summary.py, a plugin of
the root conftest (the controller of a parallel run loads no conftest below the root)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import httpx
import pytest

from app.core.settings import Settings
from tests.live import live_server

SKIP_REASON = "races need concurrent writers: PostgreSQL only"
WORKERS = 3
# Three processes, each with its own pool: 3 x 12 connections stay well inside PostgreSQL's 100.
# A thousand requests queue for those 36 connections; on a busy 2-core machine the last wait
# longer than the production 5 s (which would answer 503), and the races are about who wins,
# not about that wait.
SERVER_ENV = {
    "AIXIN_DB_POOL_SIZE": "10",
    "AIXIN_DB_MAX_OVERFLOW": "2",
    "AIXIN_DB_POOL_TIMEOUT_SECONDS": "60",
}


@pytest.fixture(scope="module")
def base_url(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterable[str]:
    """One multi-worker uvicorn on this run's PostgreSQL database, for each module of races."""
    if settings.is_sqlite:
        pytest.skip(SKIP_REASON)
    log = tmp_path_factory.mktemp("races") / "server.log"
    with live_server(settings, log, workers=WORKERS, env=SERVER_ENV) as url:
        yield url


@pytest.fixture
async def http(base_url: str, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the live server; ``client`` empties the tables afterwards."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as live:
        yield live


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Skipped before any fixture is set up, so the SQLite half builds no database for nothing.
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database_url") == "sqlite"
        here = item.path.is_relative_to(Path(__file__).parent)
        if here and on_sqlite and item.get_closest_marker("postgresql_only"):
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
