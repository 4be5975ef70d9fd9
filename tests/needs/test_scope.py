"""An admin acts only inside its scope: records elsewhere do not exist for it."""

from __future__ import annotations

from fastapi import FastAPI
from httpx import AsyncClient

from tests.factories import admin_headers, donor_headers, make_household, post_need

VILLAGE_A, VILLAGE_B = "430525101201", "430525101202"


async def test_an_admin_of_village_a_gets_404_for_village_b(
    app: FastAPI, client: AsyncClient
) -> None:
    admin_a = await admin_headers(app, client, "village", VILLAGE_A)
    admin_b = await admin_headers(app, client, "village", VILLAGE_B)
    household = await make_household(client, admin_b, village_code=VILLAGE_B)
    need = await post_need(client, admin_b, household["id"])
    donor = await donor_headers(client)
    await client.post(f"/api/v1/needs/{need['id']}/claim", headers=donor)
    await client.post(f"/api/v1/needs/{need['id']}/deliver", headers=donor)

    url = f"/api/v1/needs/{need['id']}"
    attempts = [
        await client.get(f"/api/v1/households/{household['id']}", headers=admin_a),
        await client.patch(
            f"/api/v1/households/{household['id']}", json={"size": 2}, headers=admin_a
        ),
        await client.get(url, headers=admin_a),
        await client.patch(url, json={"title": "x"}, headers={**admin_a, "If-Match": '"3"'}),
        await client.post(f"{url}/confirm", headers=admin_a),
        await client.post(f"{url}/cancel", json={"reason": "x"}, headers=admin_a),
        await client.get(f"{url}/events", headers=admin_a),
    ]
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    assert all(r.json()["code"].endswith("not_found") for r in attempts)
    assert (await client.get(url, headers=admin_b)).json()["status"] == "delivered"


async def test_an_admin_cannot_post_a_need_for_a_household_outside_its_scope(
    app: FastAPI, client: AsyncClient
) -> None:
    admin_a = await admin_headers(app, client, "village", VILLAGE_A)
    admin_b = await admin_headers(app, client, "village", VILLAGE_B)
    household = await make_household(client, admin_b, village_code=VILLAGE_B)
    response = await client.post(
        "/api/v1/needs",
        headers=admin_a,
        json={
            "household_id": household["id"],
            "category": "goods",
            "title": "米",
            "description": "大米",
            "value_fen": 100,
            "deadline": "2099-01-01",
        },
    )
    assert response.status_code == 404


async def test_lists_hold_only_records_in_scope(app: FastAPI, client: AsyncClient) -> None:
    admin_a = await admin_headers(app, client, "village", VILLAGE_A)
    admin_b = await admin_headers(app, client, "village", VILLAGE_B)
    for admin, village in ((admin_a, VILLAGE_A), (admin_b, VILLAGE_B)):
        household = await make_household(client, admin, village_code=village)
        need = await post_need(client, admin, household["id"])
        donor = await donor_headers(client)
        await client.post(f"/api/v1/needs/{need['id']}/claim", headers=donor)

    for path in ("/api/v1/needs?status=claimed", "/api/v1/pairings", "/api/v1/households"):
        items = (await client.get(path, headers=admin_a)).json()["items"]
        assert items, path
        assert {item["village_code"] for item in items} == {VILLAGE_A}, path
    township = await admin_headers(app, client, "township", "430525101")
    items = (await client.get("/api/v1/needs?status=claimed", headers=township)).json()["items"]
    assert {item["village_code"] for item in items} == {VILLAGE_A, VILLAGE_B}
