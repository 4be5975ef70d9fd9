"""An admin reaches the households of its own scope only; outside it they do not exist."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.core.errors import NotFound
from app.core.scope import Scope
from app.households import service
from tests.factories import OTHER_VILLAGE, admin_headers, make_household
from tests.households.conftest import Headers, access_log, id_of

URL = "/api/v1/households"


async def test_an_admin_of_another_village_gets_404_on_read(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    neighbour = await admin_headers(app, client, "village", OTHER_VILLAGE)
    household = await make_household(client, neighbour, OTHER_VILLAGE)
    response = await client.get(
        f"{URL}/{household['id']}", headers={**admin, "Accept-Language": "en"}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "household_not_found"
    assert response.json()["detail"] == f"No household {household['id']} in your scope"


async def test_an_admin_of_another_village_gets_404_on_edit_and_nothing_changes(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    neighbour = await admin_headers(app, client, "village", OTHER_VILLAGE)
    household = await make_household(client, neighbour, OTHER_VILLAGE, size=4)
    path = f"{URL}/{household['id']}"
    response = await client.patch(path, json={"size": 2}, headers=admin)
    assert response.status_code == 404
    assert response.json()["code"] == "household_not_found"
    after = (await client.get(path, headers=neighbour)).json()
    assert (after["size"], after["version"]) == (4, 1)


async def test_an_unknown_id_is_404_like_one_outside_the_scope(
    client: AsyncClient, admin: Headers
) -> None:
    response = await client.get(f"{URL}/999999", headers=admin)
    assert response.status_code == 404
    assert response.json()["code"] == "household_not_found"


async def test_a_township_admin_reads_the_households_of_its_villages(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    household = await make_household(client, admin)
    township = await admin_headers(app, client, "township", "430525101")
    response = await client.get(f"{URL}/{household['id']}", headers=township)
    assert response.status_code == 200
    assert response.json()["id_number"] == household["id_number"]


async def test_get_in_scope_returns_the_household_inside_the_scope_without_logging(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    household = await make_household(client, admin)
    before = await access_log(app)
    async with app.state.database.sessionmaker() as session:
        found = await service.get_in_scope(session, Scope("430525101"), id_of(household))
    assert found.village_code == household["village_code"]
    assert await access_log(app) == before


async def test_get_in_scope_raises_not_found_outside_the_scope(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    household = await make_household(client, admin)
    async with app.state.database.sessionmaker() as session:
        with pytest.raises(NotFound) as raised:
            await service.get_in_scope(session, Scope(OTHER_VILLAGE), id_of(household))
    assert raised.value.code == "household_not_found"
