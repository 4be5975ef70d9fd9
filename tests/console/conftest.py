"""Browsers of the console over the ASGI app: one cookie jar per person, every body scanned."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import TEST_SECRET
from tests.security import body_scan

Browsers = Callable[[], Awaitable[AsyncClient]]


@pytest.fixture
async def browsers(
    app: FastAPI, engine: AsyncEngine, client: AsyncClient
) -> AsyncIterator[Browsers]:
    """Make browsers (httpx clients with their own cookies) whose bodies the suite's scan reads;
    ``client`` empties the tables afterwards."""
    made: list[AsyncClient] = []

    async def make() -> AsyncClient:
        browser = AsyncClient(
            transport=ASGITransport(app=app),
            base_url="http://aixin.test",
            event_hooks=body_scan.scanner(TEST_SECRET, engine),
        )
        made.append(browser)
        return browser

    yield make
    for browser in made:
        await browser.aclose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The browser story runs once, on PostgreSQL: its SQLite half is skipped before any set-up.
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database_url") == "sqlite"
        here = item.path.is_relative_to(Path(__file__).parent)
        if here and on_sqlite and item.get_closest_marker("postgresql_only"):
            item.add_marker(pytest.mark.skip(reason="the browser story runs on PostgreSQL"))
