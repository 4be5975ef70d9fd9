"""The success model learns from ended pairings: refreshed by command and periodically."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select

from app.jobs import expiry_loop, refresh_model
from app.pairings.models import SuccessSegment
from app.pairings.prediction import DONOR_STRENGTH, PRIOR_RATE, SEGMENT_STRENGTH
from tests.factories import admin_headers, donor_headers, make_household, post_need

Headers = dict[str, str]
VILLAGE = "430525101201"


@pytest.fixture
async def county(app: FastAPI, client: AsyncClient) -> Headers:
    return await admin_headers(app, client, "county", "430525")


async def claimed(client: AsyncClient, admin: Headers, donor: Headers, category: str) -> dict:
    household = await make_household(client, admin, village_code=VILLAGE)
    need = await post_need(client, admin, household["id"], category=category, title="需求")
    response = await client.post(f"/api/v1/needs/{need['id']}/claim", headers=donor)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def fulfil(client: AsyncClient, admin: Headers, donor: Headers, category: str) -> None:
    need = (await claimed(client, admin, donor, category))["need"]
    for step, headers in (("deliver", donor), ("confirm", admin)):
        response = await client.post(f"/api/v1/needs/{need['id']}/{step}", headers=headers)
        assert response.status_code == 200, response.text


async def release(client: AsyncClient, admin: Headers, donor: Headers, category: str) -> None:
    need = (await claimed(client, admin, donor, category))["need"]
    response = await client.post(f"/api/v1/needs/{need['id']}/release", headers=donor)
    assert response.status_code == 200, response.text


async def segments(app: FastAPI) -> dict[tuple[str, int], tuple[int, int]]:
    async with app.state.database.sessionmaker() as session:
        rows = await session.scalars(select(SuccessSegment))
        return {(r.category, r.band): (r.successes, r.failures) for r in rows}


async def test_a_claim_is_predicted_from_the_learned_segment(
    app: FastAPI, client: AsyncClient, county: Headers
) -> None:
    donors = [await donor_headers(client) for _ in range(4)]
    for donor in donors[:3]:
        await fulfil(client, county, donor, "health")
    await release(client, county, donors[3], "health")

    # Not yet learned: a new donor's claim is at the prior.
    newcomer = await donor_headers(client)
    first = await claimed(client, county, newcomer, "health")
    assert first["pairing"]["predicted_success"] == pytest.approx(PRIOR_RATE)

    assert await refresh_model(app.state.database) == 1
    assert await segments(app) == {("health", 5): (3, 1)}
    rate = (3 + SEGMENT_STRENGTH * PRIOR_RATE) / (4 + SEGMENT_STRENGTH)
    other = await donor_headers(client)
    learned = await claimed(client, county, other, "health")
    assert learned["pairing"]["predicted_success"] == pytest.approx(rate, abs=1e-6)
    # Another category has no history: still the prior.
    untouched = await claimed(client, county, await donor_headers(client), "schooling")
    assert untouched["pairing"]["predicted_success"] == pytest.approx(PRIOR_RATE)
    # A donor with one success moves from the segment rate by its own record.
    seasoned = await claimed(client, county, donors[0], "health")
    expected = (1 + DONOR_STRENGTH * rate) / (1 + DONOR_STRENGTH)
    assert seasoned["pairing"]["predicted_success"] == pytest.approx(expected, abs=1e-6)


async def test_a_refresh_replaces_the_segments(
    app: FastAPI, client: AsyncClient, county: Headers
) -> None:
    donor = await donor_headers(client)
    await fulfil(client, county, donor, "goods")
    await refresh_model(app.state.database)
    await release(client, county, donor, "goods")
    await refresh_model(app.state.database)
    assert await segments(app) == {("goods", 5): (1, 1)}


async def test_the_service_relearns_periodically(
    app: FastAPI, client: AsyncClient, county: Headers
) -> None:
    await fulfil(client, county, await donor_headers(client), "skills")
    task = asyncio.create_task(expiry_loop(app.state.database, 0.05, model_refresh_seconds=0.1))
    try:
        for _ in range(100):
            if await segments(app):
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await segments(app) == {("skills", 5): (1, 0)}


async def test_a_matched_pairing_counts_in_its_offers_band(
    app: FastAPI, client: AsyncClient, county: Headers
) -> None:
    household = await make_household(client, county, village_code=VILLAGE)
    need = await post_need(client, county, household["id"])
    donor = await donor_headers(client)
    offer = await client.post(
        "/api/v1/offers",
        json={"category": "goods", "title": "棉被", "description": "冬季棉被", "capacity": 1,
              "region_preference": "430525101"},
        headers=donor,
    )  # fmt: skip
    assert offer.status_code == 201, offer.text
    run = await client.post("/api/v1/matching/runs", json={"scope": "430525"}, headers=county)
    assert run.json()["pairs_proposed"] == 1
    [proposal] = (await client.get("/api/v1/pairings", headers=donor)).json()["items"]
    await client.post(f"/api/v1/pairings/{proposal['id']}/decline", headers=donor)
    await refresh_model(app.state.database)
    assert await segments(app) == {("goods", 1): (0, 1)}  # township band, one failure
    assert need["status"] == "published"
