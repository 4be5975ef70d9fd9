"""The roll of honour (爱心榜): donors who opted in, and only they, by confirmed pairings."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from tests.factories import PASSWORD, admin_headers, assert_problem, sign_in, unique
from tests.stats.rows import Headers, get_json, rows, utc

A, B = "430525101201", "430525102201"
ROLL = "/api/v1/stats/donors"


async def donor(client: AsyncClient, name: str, kind: str = "individual") -> tuple[int, Headers]:
    """A donor registered and signed in through the API: its id and headers."""
    username = unique("donor")
    response = await client.post(
        "/api/v1/auth/register",
        json={"username": username, "password": PASSWORD, "display_name": name, "kind": kind},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], await sign_in(client, username)


async def opt(client: AsyncClient, headers: Headers, value: bool) -> dict[str, Any]:
    response = await client.patch("/api/v1/me", json={"honour_roll": value}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def confirmed(app: FastAPI, donor_id: int, *villages: str, status: str = "confirmed") -> None:
    async with rows(app) as r:
        for village in villages:
            need = await r.need(
                village, utc(2026, 1, 5), status="fulfilled", fulfilled=utc(2026, 2, 1)
            )
            await r.pairing(
                need, donor_id, village=village, status=status, created=utc(2026, 1, 6),
                active=utc(2026, 1, 6), ended=utc(2026, 2, 1),
            )  # fmt: skip


def listed(body: dict[str, Any]) -> list[tuple[int, int, str, int]]:
    return [(e["rank"], e["donor_id"], e["display_name"], e["fulfilled"]) for e in body["items"]]


@pytest.fixture
async def donors(app: FastAPI, client: AsyncClient) -> dict[str, tuple[int, Headers]]:
    """Zed (not opted in) 3 confirmed; 李四 2; 张三 1 + 1 in township 102; two 爱心人士 1 each."""
    made = {
        "zed": await donor(client, "Zed", "enterprise"),
        "li": await donor(client, "李四"),
        "zhang": await donor(client, "张三", "organization"),
        "first": await donor(client, "爱心人士"),
        "second": await donor(client, "爱心人士"),
    }
    await confirmed(app, made["zed"][0], A, A, A)
    await confirmed(app, made["li"][0], A, A)
    await confirmed(app, made["zhang"][0], A, B)
    await confirmed(app, made["first"][0], A)
    await confirmed(app, made["first"][0], A, status="released")  # not a fulfilment
    await confirmed(app, made["second"][0], A)
    for key in ("li", "zhang", "first", "second"):
        await opt(client, made[key][1], True)
    return made


async def test_only_donors_who_opted_in_are_listed_in_order(
    client: AsyncClient, donors: dict[str, tuple[int, Headers]]
) -> None:
    viewer = donors["zed"][1]  # any signed-in user may read it, a donor included
    body = await get_json(client, f"{ROLL}?scope=430525", viewer)
    # 张三 and 李四 tie at 2: by display name (code point order: 张 U+5F20 < 李 U+674E); the two
    # 爱心人士 tie on name too: by id.
    assert listed(body) == [
        (1, donors["zhang"][0], "张三", 2),
        (2, donors["li"][0], "李四", 2),
        (3, donors["first"][0], "爱心人士", 1),
        (4, donors["second"][0], "爱心人士", 1),
    ]
    assert body["items"][0]["kind"] == "organization"
    assert "never listed" in body["definition"]


async def test_opting_in_shows_the_donor_and_opting_out_hides_them(
    client: AsyncClient, donors: dict[str, tuple[int, Headers]]
) -> None:
    zed_id, zed = donors["zed"]
    assert (await get_json(client, "/api/v1/me", zed))["honour_roll"] is False
    assert (await opt(client, zed, True))["honour_roll"] is True
    assert (await get_json(client, "/api/v1/me", zed))["honour_roll"] is True
    body = await get_json(client, f"{ROLL}?limit=2", zed)
    assert listed(body) == [(1, zed_id, "Zed", 3), (2, donors["zhang"][0], "张三", 2)]
    await opt(client, zed, False)
    assert zed_id not in [e["donor_id"] for e in (await get_json(client, ROLL, zed))["items"]]


async def test_the_scope_counts_its_own_pairings(
    app: FastAPI, client: AsyncClient, donors: dict[str, tuple[int, Headers]]
) -> None:
    admin = await admin_headers(app, client, "township", "430525101")
    body = await get_json(client, f"{ROLL}?scope=430525102", admin)  # public: any scope
    assert listed(body) == [(1, donors["zhang"][0], "张三", 1)]
    village = await get_json(client, f"{ROLL}?scope={A}&limit=1", admin)
    assert listed(village) == [(1, donors["li"][0], "李四", 2)]
    assert (await get_json(client, f"{ROLL}?scope=430525105", admin))["items"] == []


async def test_reading_needs_a_token_a_known_region_and_a_sane_limit(
    app: FastAPI, client: AsyncClient
) -> None:
    _, viewer = await donor(client, "王五")
    assert_problem(await client.get(ROLL), 401, "not_authenticated")
    assert_problem(
        await client.get(f"{ROLL}?scope=430525999", headers=viewer), 404, "region_not_found"
    )
    for query in ("limit=0", "limit=101", "scope=43052", "scope=abc"):
        assert_problem(
            await client.get(f"{ROLL}?{query}", headers=viewer), 422, "validation_failed"
        )


async def test_only_donors_change_the_setting_and_only_it(
    app: FastAPI, client: AsyncClient
) -> None:
    admin = await admin_headers(app, client, "county", "430525")
    me = await get_json(client, "/api/v1/me", admin)
    assert me["honour_roll"] is None
    refused = await client.patch("/api/v1/me", json={"honour_roll": True}, headers=admin)
    assert_problem(refused, 403, "donor_only")
    _, headers = await donor(client, "王五")
    for body in ({}, {"honour_roll": True, "display_name": "x"}, {"honour_roll": "yes"}):
        response = await client.patch("/api/v1/me", json=body, headers=headers)
        assert_problem(response, 422, "validation_failed")
    assert (await get_json(client, "/api/v1/me", headers))["honour_roll"] is False
    assert_problem(
        await client.patch("/api/v1/me", json={"honour_roll": True}), 401, "not_authenticated"
    )
