"""A donor's pages over the ASGI app, on both engines: releasing a claim, answering proposals,
and browsing by region and category."""

from __future__ import annotations

import re

from fastapi import FastAPI
from httpx import AsyncClient

from tests.console.conftest import Browsers
from tests.console.pages import signed_in, submit
from tests.factories import (
    DONGKOU_VILLAGE,
    admin_headers,
    make_household,
    post_need,
    register_donor,
    sign_in,
)

COUNTY = DONGKOU_VILLAGE[:6]
OTHER_TOWNSHIP_VILLAGE = "430525102201"

Headers = dict[str, str]


async def need_in(
    client: AsyncClient, admin: Headers, village: str = DONGKOU_VILLAGE, **fields: object
) -> dict[str, object]:
    household = await make_household(client, admin, village_code=village)
    return await post_need(client, admin, household["id"], **fields)


async def donor(client: AsyncClient, browsers: Browsers) -> tuple[AsyncClient, Headers]:
    """A donor's console browser and the same donor's API headers."""
    username = str((await register_donor(client))["username"])
    return await signed_in(browsers, username), await sign_in(client, username)


async def test_a_donor_releases_a_claim_from_my_claims(
    app: FastAPI, browsers: Browsers, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", COUNTY)
    need = await need_in(client, county)
    path = f"/console/needs/{need['id']}"
    browser, api = await donor(client, browsers)
    assert (await submit(browser, path, f"{path}/claim")).status_code == 303

    released = await submit(browser, "/console/claims", f"{path}/release?back=/console/claims")

    assert released.status_code == 303
    assert released.headers["location"] == "/console/claims?notice=release"
    public = (await client.get(f"/api/v1/needs/{need['id']}", headers=api)).json()
    assert public["status"] == "published"
    pairings = (await client.get("/api/v1/pairings", headers=api)).json()["items"]
    assert [p["status"] for p in pairings] == ["released"]
    claims = (await browser.get("/console/claims")).text
    assert "已放弃" in claims
    assert f"{path}/release" not in claims
    assert "我来认领" in (await browser.get(path)).text


async def offer(client: AsyncClient, donor_api: Headers, capacity: int) -> None:
    body = {
        "category": "goods", "title": "棉被", "description": "冬季棉被",
        "capacity": capacity, "region_preference": COUNTY,
    }  # fmt: skip
    response = await client.post("/api/v1/offers", json=body, headers=donor_api)
    assert response.status_code == 201, response.text


async def test_a_donor_declines_one_proposal_and_accepts_another(
    app: FastAPI, browsers: Browsers, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", COUNTY)
    needs = [await need_in(client, county), await need_in(client, county)]
    browser, api = await donor(client, browsers)
    await offer(client, api, capacity=2)
    run = await client.post("/api/v1/matching/runs", json={"scope": COUNTY}, headers=county)
    assert run.json()["pairs_proposed"] == 2
    listed = (await client.get("/api/v1/pairings?status=proposed", headers=api)).json()["items"]
    first, second = sorted(listed, key=lambda p: p["need_id"])

    page = await browser.get("/console/proposals")
    declined = await submit(
        browser, "/console/proposals", f"/console/proposals/{first['id']}/decline"
    )
    accepted = await submit(
        browser, "/console/proposals", f"/console/proposals/{second['id']}/accept"
    )
    late = await submit(browser, "/console/proposals", f"/console/proposals/{first['id']}/accept")

    for need in needs:
        assert f"/console/needs/{need['id']}" in page.text
    assert f"/console/proposals/{first['id']}/decline" in page.text
    assert declined.headers["location"] == "/console/proposals?notice=decline"
    assert accepted.headers["location"] == "/console/proposals?notice=accept"
    assert late.status_code == 409
    assert 'role="alert"' in late.text
    mine = (await client.get("/api/v1/pairings", headers=api)).json()["items"]
    assert {p["id"]: p["status"] for p in mine} == {first["id"]: "declined", second["id"]: "active"}
    claimed = (await client.get(f"/api/v1/needs/{second['need_id']}", headers=api)).json()
    assert claimed["status"] == "claimed"
    assert "暂无推荐" in (await browser.get("/console/proposals")).text


async def test_browsing_filters_by_region_and_category(
    app: FastAPI, browsers: Browsers, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", COUNTY)
    quilts = await need_in(client, county, category="goods", title="过冬棉被")
    fees = await need_in(client, county, OTHER_TOWNSHIP_VILLAGE, category="schooling", title="学费")
    books = await need_in(client, county, OTHER_TOWNSHIP_VILLAGE, category="goods", title="课本")
    browser, _ = await donor(client, browsers)

    async def found(**query: str) -> set[object]:
        page = await browser.get("/console/browse", params=query)
        assert page.status_code == 200
        links = set(re.findall(r'href="/console/needs/(\d+)"', page.text))
        return {n["id"] for n in (quilts, fees, books) if str(n["id"]) in links}

    assert await found() == {quilts["id"], fees["id"], books["id"]}
    assert await found(region=DONGKOU_VILLAGE[:9]) == {quilts["id"]}
    assert await found(region=OTHER_TOWNSHIP_VILLAGE) == {fees["id"], books["id"]}
    assert await found(category="schooling") == {fees["id"]}
    assert await found(category="goods", region=OTHER_TOWNSHIP_VILLAGE[:9]) == {books["id"]}
    assert await found(category="health") == set()
    refused = await browser.get("/console/browse", params={"region": "43x"})
    assert "地区代码为 1 到 12 位数字" in refused.text
    assert await found(region="43x") == set()
