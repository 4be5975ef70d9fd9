"""The fund pool's tests: a WeChat Pay simulator on loopback, and the app made its merchant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from tests.factories import admin_headers, donor_headers
from tests.funds.simulator import Running, Simulator


@pytest.fixture(scope="session")
def simulator() -> Iterator[Simulator]:
    simulator = Simulator()
    with Running(simulator):
        yield simulator


@pytest.fixture
async def pay(app: FastAPI, client: AsyncClient, simulator: Simulator) -> AsyncIterator[Simulator]:
    """The app speaks to the simulator as its merchant for this test (no orders of others)."""
    simulator.orders.clear()
    app.state.wechat_pay = simulator.provider()
    yield simulator
    app.state.wechat_pay = None


@pytest.fixture
async def county(app: FastAPI, client: AsyncClient) -> dict[str, str]:
    return await admin_headers(app, client, "county", "430525")


@pytest.fixture
async def donor(client: AsyncClient) -> dict[str, str]:
    return await donor_headers(client)
