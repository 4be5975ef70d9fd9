"""Claims lapse and deadlines pass: by the command, by the service's task, safely twice at once."""

from __future__ import annotations

import asyncio
import datetime as dt

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select

from app.core.db import utcnow
from app.events.models import Event
from app.jobs import run_expiry
from tests.factories import admin_headers, donor_headers, make_household, post_need


async def claimed_need(app: FastAPI, client: AsyncClient) -> tuple[dict, dict[str, str]]:
    admin = await admin_headers(app, client, "county", "430525")
    household = await make_household(client, admin)
    need = await post_need(client, admin, household["id"])
    donor = await donor_headers(client)
    response = await client.post(f"/api/v1/needs/{need['id']}/claim", headers=donor)
    assert response.status_code == 201
    return need, admin


async def test_a_claim_past_its_hold_lapses_back_to_the_pool(
    app: FastAPI, client: AsyncClient
) -> None:
    need, admin = await claimed_need(app, client)
    result = await run_expiry(app.state.database, now=utcnow() + dt.timedelta(days=15))
    assert result.lapsed_claims == 1

    current = (await client.get(f"/api/v1/needs/{need['id']}", headers=admin)).json()
    assert current["status"] == "published"
    pairings = (await client.get("/api/v1/pairings", headers=admin)).json()["items"]
    assert [p["status"] for p in pairings] == ["expired"]
    events = (await client.get(f"/api/v1/needs/{need['id']}/events", headers=admin)).json()
    lapse = [(e["entity"], e["action"], e["actor_id"]) for e in events["items"][-2:]]
    assert lapse == [("need", "lapse", None), ("pairing", "lapse", None)]


async def test_a_claim_within_its_hold_does_not_lapse(app: FastAPI, client: AsyncClient) -> None:
    need, admin = await claimed_need(app, client)
    result = await run_expiry(app.state.database, now=utcnow() + dt.timedelta(days=13))
    assert result.lapsed_claims == 0
    current = (await client.get(f"/api/v1/needs/{need['id']}", headers=admin)).json()
    assert current["status"] == "claimed"


async def test_a_published_need_past_its_deadline_expires(
    app: FastAPI, client: AsyncClient
) -> None:
    admin = await admin_headers(app, client, "county", "430525")
    household = await make_household(client, admin)
    need = await post_need(client, admin, household["id"], deadline="2099-01-01")
    await run_expiry(app.state.database, now=dt.datetime(2099, 1, 1, 12, tzinfo=dt.UTC))
    assert (await client.get(f"/api/v1/needs/{need['id']}", headers=admin)).json()[
        "status"
    ] == "published"
    result = await run_expiry(app.state.database, now=dt.datetime(2099, 1, 2, tzinfo=dt.UTC))
    assert result.expired_needs == 1
    assert (await client.get(f"/api/v1/needs/{need['id']}", headers=admin)).json()[
        "status"
    ] == "expired"


async def test_two_runs_at_once_lapse_each_claim_once(app: FastAPI, client: AsyncClient) -> None:
    needs = [await claimed_need(app, client) for _ in range(3)]
    later = utcnow() + dt.timedelta(days=15)
    first, second = await asyncio.gather(
        run_expiry(app.state.database, now=later), run_expiry(app.state.database, now=later)
    )
    assert first.lapsed_claims + second.lapsed_claims == len(needs)
    async with app.state.database.sessionmaker() as session:
        lapses = await session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.entity == "need", Event.action == "lapse")
        )
    assert lapses == len(needs)
