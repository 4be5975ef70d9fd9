"""The outbox: each change writes its notifications in its own transaction; the inbox reads them."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.events import service as events
from app.events.models import Event
from app.inbox.models import Notification
from tests.notifications.conftest import a_need, notifications, people
from tests.security.body_scan import SCAN, personal_data_in

HOUSEHOLD_FIELDS = {"head_name", "id_number", "phone", "household_id"}


async def test_a_claim_tells_the_village_admins_and_the_inbox_shows_it(
    app: FastAPI, client: AsyncClient
) -> None:
    who = await people(app, client)
    need_id = await a_need(client, who)
    response = await client.post(f"/api/v1/needs/{need_id}/claim", headers=who.donor)
    assert response.status_code == 201, response.text

    inbox = (await client.get("/api/v1/me/notifications", headers=who.village)).json()
    [claimed] = inbox["items"]
    assert claimed["type"] == "need.claimed"
    assert claimed["read"] is False
    assert claimed["data"]["need_id"] == need_id
    assert claimed["data"]["title"] == "冬季棉被两床"
    assert claimed["data"]["village_code"] == "430525101201"
    assert claimed["data"]["category"] == "goods"
    assert not HOUSEHOLD_FIELDS & set(claimed["data"])
    assert personal_data_in(str(inbox), SCAN.head_names) == []
    me = (await client.get("/api/v1/me", headers=who.village)).json()
    assert me["unread_notifications"] == 1
    assert me["notifications"]["quiet_hours"] == {"start": "22:00", "end": "08:00"}

    read = await client.post(
        "/api/v1/me/notifications/read", json={"up_to_id": claimed["id"]}, headers=who.village
    )
    assert read.status_code == 200
    assert read.json()["unread"] == 0
    assert (await client.get("/api/v1/me", headers=who.village)).json()["unread_notifications"] == 0
    # The donor acted, so the donor is not told of the claim.
    assert (await client.get("/api/v1/me/notifications", headers=who.donor)).json()["items"] == []


async def test_a_confirmation_with_thanks_tells_the_donor_twice(
    app: FastAPI, client: AsyncClient
) -> None:
    who = await people(app, client)
    need_id = await a_need(client, who)
    for step, actor, body in (
        ("claim", who.donor, None), ("deliver", who.donor, None),
        ("confirm", who.village, {"thanks": "谢谢您"}),
    ):  # fmt: skip
        response = await client.post(f"/api/v1/needs/{need_id}/{step}", json=body, headers=actor)
        assert response.status_code in (200, 201), response.text
    items = (await client.get("/api/v1/me/notifications", headers=who.donor)).json()["items"]
    assert [item["type"] for item in items] == ["thanks.received", "need.fulfilled"]
    assert all(item["data"]["recipient_id"] == who.donor_id for item in items)
    assert "谢谢您" not in str(items)  # ids only: the thanks is read on the pairing


async def test_the_inbox_pages_newest_first_with_a_cursor(
    app: FastAPI, client: AsyncClient
) -> None:
    who = await people(app, client)
    for category in ("goods", "schooling", "health"):
        need_id = await a_need(client, who, category=category)
        await client.post(f"/api/v1/needs/{need_id}/claim", headers=who.donor)
    first = (
        await client.get("/api/v1/me/notifications", params={"limit": 2}, headers=who.village)
    ).json()
    params = {"limit": 2, "cursor": first["next_cursor"]}
    second = (
        await client.get("/api/v1/me/notifications", params=params, headers=who.village)
    ).json()
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert len(ids) == 3
    assert ids == sorted(ids, reverse=True)
    assert second["next_cursor"] is None
    assert first["unread"] == 3


async def test_preferences_off_and_digest(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine
) -> None:
    who = await people(app, client)
    prefs = {"notifications": {"modes": {"need.claimed": "off", "need.delivered": "digest"}}}
    response = await client.patch("/api/v1/me", json=prefs, headers=who.village)
    assert response.status_code == 200, response.text
    modes = response.json()["notifications"]["modes"]
    assert modes["need.claimed"] == "off"
    assert modes["need.delivered"] == "digest"
    assert modes["need.released"] == "immediate"
    need_id = await a_need(client, who)
    for step in ("claim", "deliver"):
        await client.post(f"/api/v1/needs/{need_id}/{step}", headers=who.donor)
    rows = await notifications(engine)
    kinds = {(row.type, row.visible_at is None) for row in rows if row.user_id is not None}
    assert kinds == {("need.delivered", True)}  # off: nothing; digest: held
    assert (await client.get("/api/v1/me", headers=who.village)).json()["unread_notifications"] == 0


async def test_an_admin_may_set_preferences_but_not_the_roll_of_honour(
    app: FastAPI, client: AsyncClient
) -> None:
    who = await people(app, client)
    response = await client.patch("/api/v1/me", json={"honour_roll": True}, headers=who.village)
    assert response.status_code == 403
    quiet = {"notifications": {"quiet_hours": {"start": "21:30", "end": "07:00"}}}
    response = await client.patch("/api/v1/me", json=quiet, headers=who.village)
    assert response.status_code == 200
    assert response.json()["notifications"]["quiet_hours"] == {"start": "21:30", "end": "07:00"}


async def test_first_writes_of_the_settings_at_once_all_land(
    app: FastAPI, client: AsyncClient
) -> None:
    """A user's first preferences and first read mark, sent together, make one row, not a 500."""
    who = await people(app, client)
    changes = [
        {"notifications": {"modes": {"need.claimed": "off"}}},
        {"notifications": {"modes": {"need.delivered": "digest"}}},
        {"notifications": {"quiet_hours": {"start": "21:30", "end": "07:00"}}},
    ]
    responses = await asyncio.gather(
        *(client.patch("/api/v1/me", json=change, headers=who.donor) for change in changes),
        client.post("/api/v1/me/notifications/read", json={"up_to_id": 1}, headers=who.donor),
    )
    assert [r.status_code for r in responses] == [200, 200, 200, 200], [r.text for r in responses]
    settled = (await client.get("/api/v1/me", headers=who.donor)).json()["notifications"]
    assert settled["modes"]["need.claimed"] == "off"
    assert settled["modes"]["need.delivered"] == "digest"
    assert settled["quiet_hours"] == {"start": "21:30", "end": "07:00"}


async def test_a_rolled_back_request_emits_nothing(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine
) -> None:
    who = await people(app, client)
    need_id = await a_need(client, who)
    before = await notifications(engine)
    written_inside: list[int] = []

    def fail_after_the_outbox(connection: Connection, rows: Any) -> None:
        # Runs after the outbox's follower, in the same transaction: its rows are there.
        written_inside.append(connection.scalar(select(func.count()).select_from(Notification)))
        raise RuntimeError("the request fails after its notifications were written")

    events.follow(fail_after_the_outbox)
    try:
        try:
            response = await client.post(f"/api/v1/needs/{need_id}/claim", headers=who.donor)
        except RuntimeError:
            status = 500  # the ASGI transport may hand the error to the test itself
        else:
            status = response.status_code
    finally:
        events._followers.remove(fail_after_the_outbox)
    assert status == 500
    assert written_inside
    assert written_inside[0] > len(before)
    assert len(await notifications(engine)) == len(before)
    async with engine.connect() as connection:
        claims = await connection.scalar(
            select(func.count()).select_from(Event).where(Event.action == "claim")
        )
        status = await connection.scalar(text(f"SELECT status FROM needs WHERE id = {need_id}"))
    assert claims == 0
    assert status == "published"
