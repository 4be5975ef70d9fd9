"""Donors never reach a household: 403 on every endpoint, and no personal data."""

from __future__ import annotations

from fastapi import FastAPI
from httpx import AsyncClient

from tests.factories import donor_headers, id_number, make_household, phone_number
from tests.households.conftest import Headers, access_log

URL = "/api/v1/households"


async def test_a_donor_gets_403_on_every_households_endpoint_and_no_personal_data(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    name, number, phone = "欧阳春花", id_number(), phone_number()
    household = await make_household(client, admin, head_name=name, id_number=number, phone=phone)
    donor = await donor_headers(client)
    path = f"{URL}/{household['id']}"
    new = {
        "village_code": household["village_code"],
        "head_name": "张三",
        "id_number": id_number(),
        "phone": phone_number(),
        "size": 2,
        "support_category": "poor",
    }
    before = await access_log(app)
    responses = [
        await client.post(URL, json=new, headers=donor),
        await client.get(URL, headers=donor),
        await client.get(URL, params={"village": household["village_code"]}, headers=donor),
        await client.get(path, headers=donor),
        await client.patch(path, json={"size": 2}, headers=donor),
    ]
    for response in responses:
        assert response.status_code == 403, response.url
        assert response.json()["code"] == "admin_only"
        for secret in (name, number, phone):
            assert secret not in response.text
    assert await access_log(app) == before
    listed = (await client.get(URL, headers=admin)).json()["items"]
    assert [item["id"] for item in listed] == [household["id"]]


async def test_without_a_token_every_households_endpoint_is_401(client: AsyncClient) -> None:
    for method, path in (("POST", URL), ("GET", URL), ("GET", f"{URL}/1"), ("PATCH", f"{URL}/1")):
        response = await client.request(method, path, json={})
        assert response.status_code == 401, (method, path)
