"""Personal data of households never reaches a donor, on any endpoint."""

from __future__ import annotations

import re

from fastapi import FastAPI
from httpx import AsyncClient, Response

from tests.factories import admin_headers, donor_headers, id_number, make_household, post_need

HEAD_NAME = "欧阳春花"
ID_PATTERN = re.compile(r"\d{17}[\dXx]")
PHONE_PATTERN = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


async def test_no_donor_response_carries_a_name_id_number_or_phone(
    app: FastAPI, client: AsyncClient
) -> None:
    admin = await admin_headers(app, client, "village", "430525101201")
    secret_id, secret_phone = id_number(), "13912345678"
    household = await make_household(
        client, admin, head_name=HEAD_NAME, id_number=secret_id, phone=secret_phone
    )
    need = await post_need(client, admin, household["id"], title="助学", category="schooling")
    donor = await donor_headers(client)
    bodies: list[Response] = []

    async def see(response: Response) -> Response:
        bodies.append(response)
        return response

    base = f"/api/v1/needs/{need['id']}"
    await see(await client.get("/api/v1/needs", headers=donor))
    await see(await client.get("/api/v1/needs", params={"q": "助学"}, headers=donor))
    await see(await client.get(base, headers=donor))
    await see(await client.post(f"{base}/claim", headers=donor))
    await see(await client.post(f"{base}/deliver", json={"note": "送到了"}, headers=donor))
    await client.post(f"{base}/confirm", json={"thanks": "谢谢"}, headers=admin)
    await see(await client.get(base, headers=donor))
    await see(await client.get(f"{base}/events", headers=donor))
    await see(await client.get("/api/v1/pairings", headers=donor))
    await see(await client.get("/api/v1/me", headers=donor))
    for forbidden in (
        f"/api/v1/households/{household['id']}",
        "/api/v1/households",
        f"/api/v1/households?village={household['village_code']}",
    ):
        response = await see(await client.get(forbidden, headers=donor))
        assert response.status_code == 403
    await see(await client.post(f"{base}/confirm", headers=donor))

    assert all(r.status_code < 500 for r in bodies)
    assert bodies[2].json()["household"]["masked_name"] == "欧***"
    for response in bodies:
        # Request ids are random hex and may hold long runs of digits by chance.
        text = re.sub(r'"request_id":"[0-9a-f]+"', "", response.text)
        assert HEAD_NAME not in text, response.url
        assert secret_id not in text, response.url
        assert not ID_PATTERN.search(text), response.url
        assert secret_phone not in text, response.url
        assert not PHONE_PATTERN.search(text), response.url
