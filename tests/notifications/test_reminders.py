"""Reminders on a simulated clock: each sent once; scheduled jobs once per period."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings
from app.jobs import run_scheduled, send_reminders
from tests.factories import admin_headers
from tests.notifications.conftest import a_need, notifications, people

DAY = dt.timedelta(days=1)


async def _reminders(engine: AsyncEngine) -> Counter[tuple[str, int | None]]:
    return Counter(
        (row.type, row.user_id)
        for row in await notifications(engine)
        if row.type.startswith("reminder.")
    )


async def test_each_reminder_is_sent_once_on_a_simulated_clock(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine
) -> None:
    who = await people(app, client)
    county = await admin_headers(app, client, "county", "430525")
    village_admin = (await client.get("/api/v1/me", headers=who.village)).json()["id"]
    claimed = await a_need(client, who, category="goods")
    await client.post(f"/api/v1/needs/{claimed}/claim", headers=who.donor)
    delivered = await a_need(client, who, category="schooling")
    for step in ("claim", "deliver"):
        await client.post(f"/api/v1/needs/{delivered}/{step}", headers=who.donor)
    await a_need(client, who, category="health")
    offer = {"category": "health", "title": "义诊", "description": "一次", "capacity": 1}
    assert (await client.post("/api/v1/offers", json=offer, headers=who.donor)).status_code == 201
    run = {"scope": "430525", "categories": ["health"]}
    response = await client.post("/api/v1/matching/runs", json=run, headers=county)
    assert response.json()["pairs_proposed"] == 1, response.text

    database, start = app.state.database, dt.datetime.now(dt.UTC)
    # Day 1: nothing is due yet.
    assert await send_reminders(database, start + DAY) == 0
    # The proposal (72 h) is 24 h from lapsing after 2 days; the delivery waited 3 days; the
    # claim (14 days) is 48 hours from lapsing after 12 days. Each clock reading runs twice.
    for moment in (
        start + 2 * DAY + dt.timedelta(minutes=1),
        start + 3 * DAY + dt.timedelta(minutes=1),
    ):
        for _ in range(2):
            await send_reminders(database, moment)
    for moment in (start + 12 * DAY + dt.timedelta(minutes=1), start + 13 * DAY):
        for _ in range(2):
            await send_reminders(database, moment)
    assert await _reminders(engine) == Counter(
        {
            ("reminder.proposal_waiting", who.donor_id): 1,
            ("reminder.confirmation_waiting", village_admin): 1,
            ("reminder.claim_lapsing", who.donor_id): 1,
        }
    )
    rows = [row for row in await notifications(engine) if row.type.startswith("reminder.")]
    for row in rows:
        assert row.data["title"]
        assert row.data["village_code"] == "430525101201"
        assert row.visible_at is not None  # after the quiet hours if sent inside them


async def test_a_scheduled_job_runs_once_per_period(
    app: FastAPI, client: AsyncClient, settings: Settings
) -> None:
    moment = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.UTC)  # 20:00 in China: digests are due
    first = await run_scheduled(app.state.database, settings, moment)
    again = await run_scheduled(app.state.database, settings, moment + dt.timedelta(seconds=1))
    assert {"lapses", "reminders", "digests"} <= set(first)
    assert again == []
    later = await run_scheduled(app.state.database, settings, moment + dt.timedelta(minutes=2))
    assert "lapses" in later
    assert "digests" not in later
