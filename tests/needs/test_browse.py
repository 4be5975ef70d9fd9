"""Browsing needs: filters, sort orders, keyset pages, and what a donor may see."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.needs.browse import NeedRecord
from app.needs.models import Need
from tests.factories import admin_headers, assert_problem, donor_headers, make_household, post_need

Headers = dict[str, str]


@pytest.fixture
async def admin(app: FastAPI, client: AsyncClient) -> Headers:
    return await admin_headers(app, client, "county", "430525")


async def new_need(
    client: AsyncClient, admin: Headers, village: str = "430525101201", **overrides: object
) -> dict:
    household = await make_household(client, admin, village_code=village)
    return await post_need(client, admin, household["id"], **overrides)


async def browse(client: AsyncClient, headers: Headers, **params: object) -> dict:
    response = await client.get("/api/v1/needs", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_donors_see_published_needs_with_masked_household(
    client: AsyncClient, admin: Headers
) -> None:
    published = await new_need(client, admin)
    await new_need(client, admin, origin="household")  # waits for review: not listed
    donor = await donor_headers(client)
    items = (await browse(client, donor))["items"]
    assert [item["id"] for item in items] == [published["id"]]
    assert items[0]["household"] == {"masked_name": "刘**", "size": 4, "key_household": False}
    assert "household_id" not in items[0]


async def test_donors_may_not_ask_for_unpublished_needs(
    client: AsyncClient, admin: Headers
) -> None:
    donor = await donor_headers(client)
    response = await client.get("/api/v1/needs", params={"status": "pending_review"}, headers=donor)
    assert response.status_code == 403


async def test_admins_may_browse_other_statuses_in_scope(
    client: AsyncClient, admin: Headers
) -> None:
    pending = await new_need(client, admin, origin="household")
    items = (await browse(client, admin, status="pending_review"))["items"]
    assert [item["id"] for item in items] == [pending["id"]]


async def test_filters_by_region_category_urgency_key_household_and_keyword(
    client: AsyncClient, admin: Headers
) -> None:
    a = await new_need(client, admin, "430525101201", category="goods", urgency=3, title="冬季棉被")
    b = await new_need(
        client,
        admin,
        "430525102201",
        category="schooling",
        urgency=1,
        title="学费资助",
        description="孩子上高中",
    )
    donor = await donor_headers(client)

    async def ids(**params: object) -> list[object]:
        return [item["id"] for item in (await browse(client, donor, **params))["items"]]

    assert await ids(region="430525101") == [a["id"]]
    assert await ids(category="schooling") == [b["id"]]
    assert await ids(urgency=3) == [a["id"]]
    assert await ids(q="棉被") == [a["id"]]
    assert await ids(q="高中") == [b["id"]]
    assert await ids(key_household=True) == []
    assert sorted(await ids(key_household=False)) == sorted([a["id"], b["id"]])


async def test_sort_orders(client: AsyncClient, admin: Headers) -> None:
    first = await new_need(client, admin, urgency=1, deadline="2099-03-01")
    second = await new_need(client, admin, urgency=3, deadline="2099-01-01")
    third = await new_need(client, admin, urgency=2, deadline="2099-02-01")
    donor = await donor_headers(client)

    async def order(sort: str) -> list[object]:
        return [item["id"] for item in (await browse(client, donor, sort=sort))["items"]]

    assert await order("newest") == [third["id"], second["id"], first["id"]]
    assert await order("urgent") == [second["id"], third["id"], first["id"]]
    assert await order("deadline") == [second["id"], third["id"], first["id"]]


@pytest.mark.parametrize("sort", ["newest", "urgent", "deadline"])
async def test_cursor_pages_are_stable_while_new_needs_arrive(
    client: AsyncClient, admin: Headers, sort: str
) -> None:
    posted = [(await new_need(client, admin, urgency=1 + i % 3))["id"] for i in range(7)]
    donor = await donor_headers(client)
    seen: list[object] = []
    page = await browse(client, donor, sort=sort, limit=3)
    while True:
        seen += [item["id"] for item in page["items"]]
        # A need posted between pages must not shift what the next page holds.
        await new_need(client, admin, urgency=1)
        if page["next_cursor"] is None:
            break
        page = await browse(client, donor, sort=sort, limit=3, cursor=page["next_cursor"])
    assert len(seen) == len(set(seen))
    assert set(posted) <= set(seen)


async def test_page_size_and_cursor_are_validated(client: AsyncClient) -> None:
    donor = await donor_headers(client)
    for params in ({"limit": 0}, {"limit": 101}, {"cursor": "not-a-cursor"}, {"sort": "random"}):
        response = await client.get("/api/v1/needs", params=params, headers=donor)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("sort", "values"),
    [
        ("newest", ["00011001000000000", 1]),  # a timestamp without its zone
        ("newest", ["2026-01-01T00:00:00", 1]),
        ("newest", ["0001-01-01T00:00:00+05:00", 1]),  # before the calendar once in UTC
        ("newest", ["2026-01-01T00:00:00+00:00", 2**64]),  # an id past 64 bits
        ("newest", ["2026-01-01T00:00:00+00:00", "7"]),
        ("urgent", [2**70, "2026-01-01T00:00:00+00:00", 1]),
        ("deadline", ["2026-01-01", True]),
    ],
)
async def test_a_forged_cursor_is_a_422_not_a_500(
    client: AsyncClient, sort: str, values: list[object]
) -> None:
    # Found by forging cursors (tests/fuzz/test_cursors.py): a 500, or read as another value.
    donor = await donor_headers(client)
    raw = base64.urlsafe_b64encode(json.dumps(values).encode()).decode()
    response = await client.get(
        "/api/v1/needs", params={"sort": sort, "cursor": raw}, headers=donor
    )
    assert_problem(response, 422, "invalid_cursor")


async def test_browsing_needs_a_token(client: AsyncClient) -> None:
    assert (await client.get("/api/v1/needs")).status_code == 401


def test_a_shown_need_has_every_column_of_the_need_in_the_tables_order() -> None:
    # Reads build NeedRecord from a row of the need's columns by position: a column added to
    # the model (or moved) must be added here as well, or the fields would be shifted.
    assert [field.name for field in dataclasses.fields(NeedRecord)] == [
        column.key for column in Need.__table__.columns
    ]
