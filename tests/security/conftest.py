"""The world of the access tests, on an app of its own over the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings
from app.main import create_app
from app.regions import loader
from app.regions.models import Region
from tests.conftest import empty_tables
from tests.funds.simulator import Running, Simulator
from tests.security.world import VILLAGE_D, VILLAGE_D_ROW, World, build

# One donor claims every need the tests act on: the per-donor limits are lifted here (they
# have tests of their own) so that they cannot answer in place of the rule under test.
LIFTED_LIMITS = {"max_open_claims": 1000, "claims_per_donor": 10_000}


@pytest.fixture(scope="session")
def payments() -> Iterator[Simulator]:
    """WeChat Pay on loopback: it takes the worlds' orders and signs their notifications."""
    simulator = Simulator()
    with Running(simulator):
        yield simulator


@pytest.fixture
async def world(
    settings: Settings, engine: AsyncEngine, payments: Simulator
) -> AsyncIterator[World]:
    """Callers of every role and records in and out of village A; all removed afterwards."""
    app = create_app(settings.model_copy(update=LIFTED_LIMITS))
    app.state.wechat_pay = payments.provider()
    async with engine.begin() as connection:
        await loader.upsert_regions(connection, [VILLAGE_D_ROW])
    try:
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://aixin.test") as client:
            yield await build(app, client, engine, payments)
    finally:
        await app.state.database.dispose()
        await empty_tables(engine)
        async with engine.begin() as connection:
            await connection.execute(delete(Region).where(Region.code == VILLAGE_D))
