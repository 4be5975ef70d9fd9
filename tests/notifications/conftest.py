"""Helpers of the notification tests: a world of one need and its people, and the receiver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.inbox.models import Notification
from tests.factories import admin_headers, make_household, post_need, register_donor, sign_in
from tests.notifications.receiver import Receiver
from tests.security.body_scan import SCAN, personal_data_in


@dataclass
class People:
    village: dict[str, str]
    donor: dict[str, str]
    donor_id: int
    household_id: int


async def people(app: FastAPI, client: AsyncClient) -> People:
    """A village admin with a household, and a donor."""
    village = await admin_headers(app, client, "village", "430525101201")
    household = await make_household(client, village)
    donor = await register_donor(client)
    return People(
        village, await sign_in(client, str(donor["username"])), int(str(donor["id"])),
        int(str(household["id"])),
    )  # fmt: skip


async def a_need(client: AsyncClient, who: People, **overrides: Any) -> int:
    need = await post_need(client, who.village, who.household_id, **overrides)
    return int(str(need["id"]))


async def notifications(engine: AsyncEngine) -> list[Notification]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(Notification).order_by(Notification.id))
        return list(rows.all())  # type: ignore[arg-type]


async def webhook(app: FastAPI, client: AsyncClient, url: str, events: list[str]) -> dict[str, Any]:
    """An endpoint registered by a platform admin through the API."""
    platform = await admin_headers(app, client, "platform", "")
    response = await client.post(
        "/api/v1/webhooks", json={"url": url, "events": events}, headers=platform
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    created["headers"] = platform
    return created


def assert_bodies_clean(receiver: Receiver) -> None:
    """Every body the receiver got passes the suite's personal-data scan, and verified."""
    assert receiver.unverified == []
    found = [f for body in receiver.bodies for f in personal_data_in(body, SCAN.head_names)]
    assert found == []
