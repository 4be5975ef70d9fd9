"""Every response carrying a household's personal data is logged, in the same transaction."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from httpx import AsyncClient

from tests.factories import OTHER_VILLAGE, admin_headers, id_number, make_household, phone_number
from tests.households.conftest import Headers, access_log, id_of

URL = "/api/v1/households"


async def user_id(client: AsyncClient, headers: Headers) -> int:
    me: int = (await client.get("/api/v1/me", headers=headers)).json()["id"]
    return me


async def test_create_read_and_update_each_write_one_row_with_actor_and_request_id(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    body = {
        "village_code": "430525101201",
        "head_name": "刘德华",
        "id_number": id_number(),
        "phone": phone_number(),
        "size": 3,
        "support_category": "poor",
    }
    created = await client.post(URL, json=body, headers=admin | {"X-Request-ID": "req-create"})
    path = f"{URL}/{created.json()['id']}"
    await client.get(path, headers=admin | {"X-Request-ID": "req-read"})
    await client.patch(path, json={"size": 2}, headers=admin | {"X-Request-ID": "req-update"})
    actor, household_id = await user_id(client, admin), created.json()["id"]
    assert await access_log(app) == [
        (household_id, actor, "create", "req-create"),
        (household_id, actor, "read", "req-read"),
        (household_id, actor, "update", "req-update"),
    ]


async def test_each_read_is_logged_under_its_reader(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    household = await make_household(client, admin)
    township = await admin_headers(app, client, "township", "430525101")
    for headers in (admin, township, admin):
        assert (await client.get(f"{URL}/{household['id']}", headers=headers)).status_code == 200
    readers = [row.actor_id for row in await access_log(app) if row.action == "read"]
    assert readers == [
        await user_id(client, admin),
        await user_id(client, township),
        await user_id(client, admin),
    ]


async def test_listing_writes_no_log_row(app: FastAPI, client: AsyncClient, admin: Headers) -> None:
    await make_household(client, admin)
    before = await access_log(app)
    assert (await client.get(URL, headers=admin)).status_code == 200
    assert await access_log(app) == before


async def test_a_refused_read_or_edit_writes_no_log_row(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    household = await make_household(client, admin)
    neighbour = await admin_headers(app, client, "village", OTHER_VILLAGE)
    path = f"{URL}/{id_of(household)}"
    before = await access_log(app)
    assert (await client.get(path, headers=neighbour)).status_code == 404
    assert (await client.patch(path, json={"size": 2}, headers=neighbour)).status_code == 404
    stale = await client.patch(path, json={"size": 2}, headers=admin | {"If-Match": '"9"'})
    assert stale.status_code == 412
    assert await access_log(app) == before


async def test_concurrent_reads_all_succeed_and_are_all_logged(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    # On SQLite this holds only because the route is marked as writing (BEGIN IMMEDIATE):
    # a reader transaction could not take the write lock once another reader had written.
    household = await make_household(client, admin)
    path = f"{URL}/{household['id']}"
    responses = await asyncio.gather(*(client.get(path, headers=admin) for _ in range(10)))
    assert [r.status_code for r in responses] == [200] * 10
    assert [row.action for row in await access_log(app)] == ["create"] + ["read"] * 10
