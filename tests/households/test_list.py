"""Listing households: scoped in SQL, filtered, paged by cursor, without personal data."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.core.pagination import encode_cursor
from tests.factories import (
    DONGKOU_VILLAGE,
    OTHER_VILLAGE,
    admin_headers,
    assert_problem,
    make_household,
)
from tests.households.conftest import Headers

URL = "/api/v1/households"
SUMMARY_FIELDS = {
    "id",
    "village_code",
    "head_name_masked",
    "size",
    "support_category",
    "key_household",
    "main_helper",
    "liaison",
    "version",
    "created_at",
}
# A village of another township of Dongkou (高沙镇).
OTHER_TOWNSHIP_VILLAGE = "430525102201"


async def listed_ids(client: AsyncClient, headers: Headers, **params: object) -> list[int]:
    response = await client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@pytest.fixture
async def county_admin(app: FastAPI, client: AsyncClient) -> Headers:
    return await admin_headers(app, client, "county", "430525")


async def test_a_county_admin_sees_the_households_of_every_village_of_its_county(
    client: AsyncClient, county_admin: Headers
) -> None:
    a = await make_household(client, county_admin, DONGKOU_VILLAGE)
    b = await make_household(client, county_admin, OTHER_VILLAGE)
    c = await make_household(client, county_admin, OTHER_TOWNSHIP_VILLAGE)
    assert await listed_ids(client, county_admin) == [a["id"], b["id"], c["id"]]


async def test_a_village_admin_sees_only_its_own_village(
    client: AsyncClient, county_admin: Headers, admin: Headers
) -> None:
    own = await make_household(client, admin, DONGKOU_VILLAGE)
    await make_household(client, county_admin, OTHER_VILLAGE)
    assert await listed_ids(client, admin) == [own["id"]]


async def test_a_township_admin_never_sees_another_townships_households(
    app: FastAPI, client: AsyncClient, county_admin: Headers
) -> None:
    await make_household(client, county_admin, OTHER_TOWNSHIP_VILLAGE)
    township = await admin_headers(app, client, "township", "430525101")
    assert await listed_ids(client, township) == []
    assert await listed_ids(client, township, village="430525102") == []


async def test_another_countys_admin_sees_no_household(
    app: FastAPI, client: AsyncClient, county_admin: Headers
) -> None:
    await make_household(client, county_admin, DONGKOU_VILLAGE)
    xinshao = await admin_headers(app, client, "county", "430522")
    assert await listed_ids(client, xinshao) == []
    assert await listed_ids(client, xinshao, village="430525") == []


async def test_list_items_carry_no_personal_data(client: AsyncClient, admin: Headers) -> None:
    household = await make_household(client, admin, head_name="欧阳春花")
    response = await client.get(URL, headers=admin)
    [item] = response.json()["items"]
    assert set(item) == SUMMARY_FIELDS
    assert item["head_name_masked"] == "欧***"
    for secret in ("欧阳春花", household["id_number"], household["phone"]):
        assert str(secret) not in response.text


async def test_the_village_filter_takes_a_code_prefix(
    client: AsyncClient, county_admin: Headers
) -> None:
    a = await make_household(client, county_admin, DONGKOU_VILLAGE)
    b = await make_household(client, county_admin, OTHER_VILLAGE)
    c = await make_household(client, county_admin, OTHER_TOWNSHIP_VILLAGE)
    assert await listed_ids(client, county_admin, village=OTHER_VILLAGE) == [b["id"]]
    assert await listed_ids(client, county_admin, village="430525101") == [a["id"], b["id"]]
    assert await listed_ids(client, county_admin, village="430525102") == [c["id"]]


@pytest.mark.parametrize("village", ["4305x", "430525101201000", ""])
async def test_a_village_filter_that_is_not_a_digit_prefix_is_refused(
    client: AsyncClient, admin: Headers, village: str
) -> None:
    response = await client.get(URL, params={"village": village}, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "village"]


async def test_filters_by_support_category_and_key_household(
    client: AsyncClient, admin: Headers
) -> None:
    poor = await make_household(client, admin, support_category="poor", key_household=True)
    dibao = await make_household(client, admin, support_category="dibao")
    assert await listed_ids(client, admin, support_category="dibao") == [dibao["id"]]
    assert await listed_ids(client, admin, key_household="true") == [poor["id"]]
    assert await listed_ids(client, admin, key_household="false") == [dibao["id"]]
    assert await listed_ids(client, admin, support_category="poor", key_household="false") == []


async def test_the_cursor_pages_through_every_household_once(
    client: AsyncClient, admin: Headers
) -> None:
    created = [(await make_household(client, admin))["id"] for _ in range(5)]
    pages: list[list[int]] = []
    cursor: str | None = None
    while True:
        params: dict[str, object] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = (await client.get(URL, params=params, headers=admin)).json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [i for page in pages for i in page] == created


@pytest.mark.parametrize("last_id", [2**63, -(2**70), 1.5, "3"])
async def test_a_forged_cursor_id_is_a_422(
    client: AsyncClient, admin: Headers, last_id: object
) -> None:
    # An id past 64 bits overflowed the database's integer: a 500 (tests/fuzz/test_cursors.py).
    cursor = encode_cursor([last_id])
    response = await client.get(URL, params={"cursor": cursor}, headers=admin)
    assert_problem(response, 422, "invalid_cursor")


async def test_a_full_last_page_has_no_next_cursor(client: AsyncClient, admin: Headers) -> None:
    for _ in range(2):
        await make_household(client, admin)
    body = (await client.get(URL, params={"limit": 2}, headers=admin)).json()
    assert len(body["items"]) == 2
    assert body["next_cursor"] is None


@pytest.mark.parametrize("params", [{"cursor": "not-a-cursor"}, {"cursor": "WyJ4Il0"}])
async def test_a_cursor_this_api_did_not_make_is_refused(
    client: AsyncClient, admin: Headers, params: dict[str, str]
) -> None:
    response = await client.get(URL, params=params, headers=admin)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize("limit", [0, 101])
async def test_a_limit_outside_1_to_100_is_refused(
    client: AsyncClient, admin: Headers, limit: int
) -> None:
    response = await client.get(URL, params={"limit": limit}, headers=admin)
    assert response.status_code == 422
