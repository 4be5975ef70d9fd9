"""Offers: the pool of non-directed donations."""

from __future__ import annotations

from fastapi import FastAPI
from httpx import AsyncClient

from tests.factories import admin_headers, donor_headers

OFFER = {
    "category": "goods",
    "title": "棉被一百床",
    "description": "爱心企业捐赠的冬季棉被",
    "capacity": 100,
    "region_preference": "430525",
    "value_cap_fen": 50_000,
}


async def test_a_donor_posts_an_open_offer(client: AsyncClient) -> None:
    donor = await donor_headers(client)
    response = await client.post("/api/v1/offers", json=OFFER, headers=donor)
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["capacity"], body["capacity_used"]) == ("open", 100, 0)
    assert (await client.get(f"/api/v1/offers/{body['id']}", headers=donor)).status_code == 200


async def test_offer_input_is_validated(client: AsyncClient) -> None:
    donor = await donor_headers(client)
    for change in (
        {"capacity": 0},
        {"category": "cash"},
        {"region_preference": "4305x"},
        {"region_preference": "123"},
        {"value_cap_fen": -1},
        {"status": "exhausted"},
        {"available_until": "2000-01-01T00:00:00Z"},
        {"available_until": 4_102_444_800},  # 2100-01-01 as Unix time: a number, not a date
    ):
        response = await client.post("/api/v1/offers", json={**OFFER, **change}, headers=donor)
        assert response.status_code == 422, change
    unknown = await client.post(
        "/api/v1/offers", json={**OFFER, "region_preference": "990000"}, headers=donor
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_region"


async def test_donors_see_only_their_own_offers(client: AsyncClient) -> None:
    owner, other = await donor_headers(client), await donor_headers(client)
    offer = (await client.post("/api/v1/offers", json=OFFER, headers=owner)).json()
    assert (await client.get(f"/api/v1/offers/{offer['id']}", headers=other)).status_code == 404
    assert (await client.get("/api/v1/offers", headers=other)).json()["items"] == []
    own = (await client.get("/api/v1/offers", headers=owner)).json()["items"]
    assert [o["id"] for o in own] == [offer["id"]]


async def test_admins_see_the_offers_that_may_serve_their_scope(
    app: FastAPI, client: AsyncClient
) -> None:
    donor = await donor_headers(client)
    ids = {}
    for preference in ("", "43", "430525", "430525101", "430522"):
        response = await client.post(
            "/api/v1/offers", json={**OFFER, "region_preference": preference}, headers=donor
        )
        ids[preference] = response.json()["id"]
    township = await admin_headers(app, client, "township", "430525101")
    seen = {o["id"] for o in (await client.get("/api/v1/offers", headers=township)).json()["items"]}
    assert seen == {ids[""], ids["43"], ids["430525"], ids["430525101"]}
    other = ids["430522"]
    assert (await client.get(f"/api/v1/offers/{other}", headers=township)).status_code == 404


async def test_withdrawing_takes_an_offer_out_of_the_pool_once(client: AsyncClient) -> None:
    donor = await donor_headers(client)
    offer = (await client.post("/api/v1/offers", json=OFFER, headers=donor)).json()
    url = f"/api/v1/offers/{offer['id']}/withdraw"
    first = await client.post(url, headers=donor)
    assert (first.status_code, first.json()["status"]) == (200, "withdrawn")
    second = await client.post(url, headers=donor)
    assert second.status_code == 409
    other = await donor_headers(client)
    assert (await client.post(url, headers=other)).status_code == 404


async def test_admins_cannot_post_offers(app: FastAPI, client: AsyncClient) -> None:
    admin = await admin_headers(app, client, "county", "430525")
    assert (await client.post("/api/v1/offers", json=OFFER, headers=admin)).status_code == 403
