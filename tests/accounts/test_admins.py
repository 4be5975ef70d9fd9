"""Admins create admins of a lower role inside their own scope, and see only admins inside it.

Dongkou county is 430525; 430525101 (江口镇) and 430525102 are two of its townships, and
430525101201 / 430525101202 two villages of the first. 430522 is another county of the same city
(the bundled regions hold villages of Dongkou only).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select

from app.accounts.models import User
from tests.factories import (
    DONGKOU_VILLAGE,
    OTHER_VILLAGE,
    PASSWORD,
    admin_headers,
    assert_problem,
    donor_headers,
    make_admin,
    register_donor,
    sign_in,
    unique,
)

ADMINS = "/api/v1/admins"
COUNTY = "430525"
TOWNSHIP = "430525101"
OTHER_TOWNSHIP = "430525102"
OTHER_COUNTY = "430522"
OTHER_COUNTY_TOWNSHIP = "430522101"


def new_admin(role: str, scope: str, **overrides: object) -> dict[str, object]:
    return {
        "username": unique(f"{role}-new"),
        "password": PASSWORD,
        "role": role,
        "scope": scope,
        **overrides,
    }


async def admin_count(app: FastAPI) -> int:
    async with app.state.database.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(User).where(User.role != "donor")
        )
    return int(count or 0)


async def listed_ids(client: AsyncClient, headers: dict[str, str]) -> set[int]:
    response = await client.get(ADMINS, headers=headers, params={"limit": 100})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["next_cursor"] is None
    return {item["id"] for item in body["items"]}


# -- who may create whom -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        ("village", DONGKOU_VILLAGE),
        ("village", OTHER_VILLAGE),
        ("township", TOWNSHIP),
        ("county", COUNTY),
        ("platform", ""),
    ],
)
async def test_a_village_admin_cannot_create_any_admin(
    client: AsyncClient, app: FastAPI, role: str, scope: str
) -> None:
    headers = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    before = await admin_count(app)
    response = await client.post(ADMINS, json=new_admin(role, scope), headers=headers)
    assert_problem(response, 403, "role_not_grantable")
    assert await admin_count(app) == before


async def test_a_refused_creation_is_not_listed_to_the_county_admin(
    client: AsyncClient, app: FastAPI
) -> None:
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    county = await admin_headers(app, client, "county", COUNTY)
    body = new_admin("village", DONGKOU_VILLAGE)
    await client.post(ADMINS, json=body, headers=village)
    response = await client.get(ADMINS, headers=county, params={"limit": 100})
    assert body["username"] not in {item["username"] for item in response.json()["items"]}


async def test_a_county_admin_creates_a_township_admin_in_its_county(
    client: AsyncClient, app: FastAPI
) -> None:
    creator = await make_admin(app, "county", COUNTY)
    headers = await sign_in(client, creator.username)
    body = new_admin("township", TOWNSHIP)
    response = await client.post(ADMINS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["username"], created["role"], created["scope"]) == (
        body["username"],
        "township",
        TOWNSHIP,
    )
    assert created["is_active"] is True
    assert created["display_name"] == "江口镇"
    assert "password" not in response.text
    async with app.state.database.sessionmaker() as session:
        stored = await session.get(User, created["id"])
    assert stored is not None
    assert stored.created_by_id == creator.id


async def test_a_county_admin_creates_a_village_admin_in_its_county(
    client: AsyncClient, app: FastAPI
) -> None:
    headers = await admin_headers(app, client, "county", COUNTY)
    response = await client.post(
        ADMINS, json=new_admin("village", DONGKOU_VILLAGE), headers=headers
    )
    assert response.status_code == 201, response.text
    assert (response.json()["role"], response.json()["scope"]) == ("village", DONGKOU_VILLAGE)


async def test_a_given_display_name_is_kept(client: AsyncClient, app: FastAPI) -> None:
    headers = await admin_headers(app, client, "county", COUNTY)
    body = new_admin("township", TOWNSHIP, display_name="江口镇扶贫办")
    response = await client.post(ADMINS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["display_name"] == "江口镇扶贫办"


async def test_a_county_admin_cannot_create_an_admin_in_another_county(
    client: AsyncClient, app: FastAPI
) -> None:
    headers = await admin_headers(app, client, "county", COUNTY)
    before = await admin_count(app)
    body = new_admin("township", OTHER_COUNTY_TOWNSHIP)
    response = await client.post(ADMINS, json=body, headers=headers)
    assert_problem(response, 403, "out_of_scope")
    assert await admin_count(app) == before


@pytest.mark.parametrize(
    ("role", "scope"), [("county", COUNTY), ("county", OTHER_COUNTY), ("platform", "")]
)
async def test_a_county_admin_cannot_create_an_admin_of_its_rank_or_above(
    client: AsyncClient, app: FastAPI, role: str, scope: str
) -> None:
    headers = await admin_headers(app, client, "county", COUNTY)
    response = await client.post(ADMINS, json=new_admin(role, scope), headers=headers)
    assert_problem(response, 403, "role_not_grantable")


async def test_a_township_admin_cannot_create_a_village_admin_of_another_township(
    client: AsyncClient, app: FastAPI
) -> None:
    headers = await admin_headers(app, client, "township", OTHER_TOWNSHIP)
    response = await client.post(
        ADMINS, json=new_admin("village", DONGKOU_VILLAGE), headers=headers
    )
    assert_problem(response, 403, "out_of_scope")


@pytest.mark.parametrize(
    ("role", "scope"),
    [("township", COUNTY), ("village", TOWNSHIP), ("township", DONGKOU_VILLAGE)],
)
async def test_a_scope_of_the_wrong_length_for_the_role_is_scope_level_mismatch(
    client: AsyncClient, app: FastAPI, role: str, scope: str
) -> None:
    headers = await admin_headers(app, client, "county", COUNTY)
    response = await client.post(ADMINS, json=new_admin(role, scope), headers=headers)
    assert_problem(response, 422, "scope_level_mismatch")


async def test_an_unknown_region_inside_the_scope_is_region_not_found(
    client: AsyncClient, app: FastAPI
) -> None:
    headers = await admin_headers(app, client, "county", COUNTY)
    before = await admin_count(app)
    response = await client.post(ADMINS, json=new_admin("township", "430525999"), headers=headers)
    assert_problem(response, 404, "region_not_found")
    assert await admin_count(app) == before


@pytest.mark.parametrize(
    "scope", ["43052510", "4305251012", "43052a", " 430525101", "４３０５２５１０１"]
)
async def test_a_scope_that_is_not_a_region_code_is_a_validation_error(
    client: AsyncClient, app: FastAPI, scope: str
) -> None:
    headers = await admin_headers(app, client, "county", COUNTY)
    response = await client.post(ADMINS, json=new_admin("township", scope), headers=headers)
    assert_problem(response, 422, "validation_failed")


async def test_an_unknown_role_is_a_validation_error(client: AsyncClient, app: FastAPI) -> None:
    headers = await admin_headers(app, client, "county", COUNTY)
    response = await client.post(ADMINS, json=new_admin("donor", TOWNSHIP), headers=headers)
    assert_problem(response, 422, "validation_failed")


async def test_a_taken_username_is_username_taken(client: AsyncClient, app: FastAPI) -> None:
    headers = await admin_headers(app, client, "county", COUNTY)
    existing = await make_admin(app, "village", OTHER_VILLAGE)
    body = new_admin("township", TOWNSHIP, username=existing.username.upper())
    response = await client.post(ADMINS, json=body, headers=headers)
    assert_problem(response, 409, "username_taken")


async def test_the_platform_admin_creates_a_county_admin_anywhere(
    client: AsyncClient, app: FastAPI
) -> None:
    headers = await admin_headers(app, client, "platform", "")
    for county in (COUNTY, OTHER_COUNTY, "110101"):
        response = await client.post(ADMINS, json=new_admin("county", county), headers=headers)
        assert response.status_code == 201, response.text
        assert response.json()["scope"] == county


async def test_the_platform_admin_creates_another_platform_admin(
    client: AsyncClient, app: FastAPI
) -> None:
    headers = await admin_headers(app, client, "platform", "")
    response = await client.post(ADMINS, json=new_admin("platform", ""), headers=headers)
    assert response.status_code == 201, response.text
    assert (response.json()["role"], response.json()["scope"]) == ("platform", "")


async def test_a_created_admin_signs_in_and_sees_its_role_and_scope(
    client: AsyncClient, app: FastAPI
) -> None:
    headers = await admin_headers(app, client, "county", COUNTY)
    body = new_admin("township", TOWNSHIP)
    created = await client.post(ADMINS, json=body, headers=headers)
    assert created.status_code == 201, created.text
    own = await sign_in(client, str(body["username"]))
    me = await client.get("/api/v1/me", headers=own)
    assert me.status_code == 200, me.text
    assert (me.json()["id"], me.json()["role"], me.json()["scope"], me.json()["kind"]) == (
        created.json()["id"],
        "township",
        TOWNSHIP,
        None,
    )


# -- donors ------------------------------------------------------------------------------------


async def test_a_donor_cannot_list_admins(client: AsyncClient) -> None:
    headers = await donor_headers(client)
    assert_problem(await client.get(ADMINS, headers=headers), 403, "admin_only")


async def test_a_donor_cannot_read_an_admin(client: AsyncClient, app: FastAPI) -> None:
    admin = await make_admin(app, "county", COUNTY)
    headers = await donor_headers(client)
    response = await client.get(f"{ADMINS}/{admin.id}", headers=headers)
    assert_problem(response, 403, "admin_only")


async def test_a_donor_cannot_create_an_admin(client: AsyncClient, app: FastAPI) -> None:
    headers = await donor_headers(client)
    before = await admin_count(app)
    response = await client.post(
        ADMINS, json=new_admin("village", DONGKOU_VILLAGE), headers=headers
    )
    assert_problem(response, 403, "admin_only")
    assert await admin_count(app) == before


async def test_admins_need_a_signed_in_caller(client: AsyncClient) -> None:
    assert_problem(await client.get(ADMINS), 401, "not_authenticated")


# -- what each admin sees ----------------------------------------------------------------------


async def test_a_village_admin_cannot_read_its_township_admin(
    client: AsyncClient, app: FastAPI
) -> None:
    township = await make_admin(app, "township", TOWNSHIP)
    headers = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    response = await client.get(f"{ADMINS}/{township.id}", headers=headers)
    assert_problem(response, 404, "admin_not_found")


async def test_a_village_admin_cannot_read_another_villages_admin(
    client: AsyncClient, app: FastAPI
) -> None:
    other = await make_admin(app, "village", OTHER_VILLAGE)
    headers = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    response = await client.get(f"{ADMINS}/{other.id}", headers=headers)
    assert_problem(response, 404, "admin_not_found")


async def test_an_admin_outside_the_scope_looks_like_a_missing_one(
    client: AsyncClient, app: FastAPI
) -> None:
    """Out of scope and nonexistent give the same answer, so ids cannot be probed."""
    other = await make_admin(app, "village", OTHER_VILLAGE)
    headers = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    outside = await client.get(f"{ADMINS}/{other.id}", headers=headers)
    missing = await client.get(f"{ADMINS}/{2**62}", headers=headers)
    assert outside.status_code == missing.status_code == 404
    assert outside.json()["code"] == missing.json()["code"]
    assert outside.json()["title"] == missing.json()["title"]


async def test_a_village_admin_reads_an_admin_of_its_own_village(
    client: AsyncClient, app: FastAPI
) -> None:
    colleague = await make_admin(app, "village", DONGKOU_VILLAGE)
    headers = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    response = await client.get(f"{ADMINS}/{colleague.id}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["username"] == colleague.username


async def test_a_donor_id_is_not_an_admin(client: AsyncClient, app: FastAPI) -> None:
    donor = await register_donor(client)
    headers = await admin_headers(app, client, "platform", "")
    response = await client.get(f"{ADMINS}/{donor['id']}", headers=headers)
    assert_problem(response, 404, "admin_not_found")


async def test_a_village_admin_lists_only_admins_of_its_village(
    client: AsyncClient, app: FastAPI
) -> None:
    me = await make_admin(app, "village", DONGKOU_VILLAGE)
    colleague = await make_admin(app, "village", DONGKOU_VILLAGE)
    for role, scope in [
        ("platform", ""),
        ("county", COUNTY),
        ("township", TOWNSHIP),
        ("village", OTHER_VILLAGE),
        ("township", OTHER_COUNTY_TOWNSHIP),
    ]:
        await make_admin(app, role, scope)
    headers = await sign_in(client, me.username)
    assert await listed_ids(client, headers) == {me.id, colleague.id}


async def test_a_county_admin_lists_its_admins_but_not_another_countys_nor_the_platform(
    client: AsyncClient, app: FastAPI
) -> None:
    me = await make_admin(app, "county", COUNTY)
    inside = [
        await make_admin(app, "township", TOWNSHIP),
        await make_admin(app, "township", OTHER_TOWNSHIP),
        await make_admin(app, "village", DONGKOU_VILLAGE),
        await make_admin(app, "village", OTHER_VILLAGE),
    ]
    for role, scope in [
        ("platform", ""),
        ("county", OTHER_COUNTY),
        ("township", OTHER_COUNTY_TOWNSHIP),
        ("county", "430524"),
        ("county", "430527"),
    ]:
        await make_admin(app, role, scope)
    await donor_headers(client)
    headers = await sign_in(client, me.username)
    assert await listed_ids(client, headers) == {me.id, *(admin.id for admin in inside)}


async def test_the_platform_admin_lists_every_admin_and_no_donor(
    client: AsyncClient, app: FastAPI
) -> None:
    me = await make_admin(app, "platform", "")
    others = [
        await make_admin(app, "county", COUNTY),
        await make_admin(app, "township", OTHER_COUNTY_TOWNSHIP),
        await make_admin(app, "village", DONGKOU_VILLAGE),
    ]
    await donor_headers(client)
    headers = await sign_in(client, me.username)
    assert await listed_ids(client, headers) == {me.id, *(admin.id for admin in others)}


async def test_the_admin_list_pages_by_cursor(client: AsyncClient, app: FastAPI) -> None:
    me = await make_admin(app, "county", COUNTY)
    created = [await make_admin(app, "village", DONGKOU_VILLAGE) for _ in range(4)]
    headers = await sign_in(client, me.username)
    pages, cursor = [], None
    for _ in range(3):
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(ADMINS, headers=headers, params=params)).json()
        pages.append(page)
        cursor = page["next_cursor"]
    assert [len(page["items"]) for page in pages] == [2, 2, 1]
    assert cursor is None
    ids = [item["id"] for page in pages for item in page["items"]]
    assert ids == sorted({me.id, *(admin.id for admin in created)})


async def test_a_new_admin_after_a_page_shows_on_a_later_page(
    client: AsyncClient, app: FastAPI
) -> None:
    me = await make_admin(app, "county", COUNTY)
    early = await make_admin(app, "village", DONGKOU_VILLAGE)
    headers = await sign_in(client, me.username)
    first = (await client.get(ADMINS, headers=headers, params={"limit": 1})).json()
    assert [item["id"] for item in first["items"]] == [me.id]
    late = await make_admin(app, "village", DONGKOU_VILLAGE)
    params = {"limit": 2, "cursor": first["next_cursor"]}
    second = (await client.get(ADMINS, headers=headers, params=params)).json()
    assert [item["id"] for item in second["items"]] == [early.id, late.id]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}])
async def test_an_out_of_range_page_is_a_validation_error(
    client: AsyncClient, app: FastAPI, params: dict[str, int]
) -> None:
    headers = await admin_headers(app, client, "county", COUNTY)
    response = await client.get(ADMINS, headers=headers, params=params)
    assert_problem(response, 422, "validation_failed")


@pytest.mark.parametrize("cursor", ["not-a-cursor", "WyJ4Il0", "WzEsMl0"])
async def test_a_cursor_this_api_did_not_make_is_refused(
    client: AsyncClient, app: FastAPI, cursor: str
) -> None:
    headers = await admin_headers(app, client, "county", COUNTY)
    response = await client.get(ADMINS, headers=headers, params={"cursor": cursor})
    assert_problem(response, 422, "invalid_cursor")


@pytest.mark.parametrize("admin_id", ["0", "-1", "abc", str(2**63)])
async def test_an_admin_id_that_is_not_a_positive_bigint_is_a_validation_error(
    client: AsyncClient, app: FastAPI, admin_id: str
) -> None:
    headers = await admin_headers(app, client, "county", COUNTY)
    response = await client.get(f"{ADMINS}/{admin_id}", headers=headers)
    assert_problem(response, 422, "validation_failed")
