"""Browsers of the console over the ASGI app: one cookie jar per person, every body scanned."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

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
