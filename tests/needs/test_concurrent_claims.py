"""Claiming is first come, first served under real concurrency: exactly one donor wins."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select

from app.core.settings import Settings
from app.events.models import Event
from app.pairings.models import Pairing
from app.pairings.states import HOLDING
from tests.factories import admin_headers, make_household, post_need, register_donor, sign_in
from tests.live import live_server

NEEDS, DONORS, REQUESTS = 10, 50, 200


async def test_200_concurrent_claims_on_10_needs_have_exactly_10_winners(
    app: FastAPI, client: AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    admin = await admin_headers(app, client, "county", "430525")
    need_ids = []
    for _ in range(NEEDS):
        household = await make_household(client, admin)
        need_ids.append((await post_need(client, admin, household["id"]))["id"])
    donors = [
        await sign_in(client, str((await register_donor(client))["username"]))
        for _ in range(DONORS)
    ]
    # Each donor claims 4 different needs; every need is wanted by 20 donors.
    attempts = [(donors[i % DONORS], need_ids[(i + i // DONORS) % NEEDS]) for i in range(REQUESTS)]

    with live_server(settings, tmp_path / "server.log") as base_url:
        limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http:
            responses = await asyncio.gather(
                *(http.post(f"/api/v1/needs/{need}/claim", headers=h) for h, need in attempts)
            )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: NEEDS, 409: REQUESTS - NEEDS}, statuses
    winners = Counter(r.json()["need"]["id"] for r in responses if r.status_code == 201)
    assert sorted(winners) == sorted(need_ids)
    for response in responses:
        if response.status_code == 409:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] in {"already_claimed", "invalid_transition"}
    await assert_claimed_once_each(app, need_ids)


async def assert_claimed_once_each(app: FastAPI, need_ids: list[int]) -> None:
    """Each need has exactly one claim event and one pairing holding it."""
    async with app.state.database.sessionmaker() as session:
        claim_events = await session.execute(
            select(Event.need_id, func.count())
            .where(Event.entity == "need", Event.action == "claim")
            .group_by(Event.need_id)
        )
        assert dict(claim_events.all()) == dict.fromkeys(need_ids, 1)
        holding = await session.execute(
            select(Pairing.need_id, func.count())
            .where(Pairing.status.in_(HOLDING))
            .group_by(Pairing.need_id)
        )
        assert dict(holding.all()) == dict.fromkeys(need_ids, 1)
