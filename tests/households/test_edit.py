"""Editing a household: partial, guarded by its version when If-Match is sent."""

from __future__ import annotations

import datetime as dt

import pytest
from httpx import AsyncClient

from tests.factories import make_household
from tests.households.conftest import Headers

URL = "/api/v1/households"


def when(value: object) -> dt.datetime:
    return dt.datetime.fromisoformat(str(value))


async def test_an_edit_changes_only_the_fields_sent_and_bumps_the_version(
    client: AsyncClient, admin: Headers
) -> None:
    household = await make_household(client, admin, main_helper="王书记")
    path = f"{URL}/{household['id']}"
    changes = {"head_name": "欧阳春花", "phone": "0739-7221234", "size": 2, "key_household": True}
    response = await client.patch(path, json=changes, headers=admin)
    assert response.status_code == 200, response.text
    edited = response.json()
    assert response.headers["ETag"] == '"2"'
    assert {key: edited[key] for key in changes} == changes
    assert (edited["head_name_masked"], edited["version"]) == ("欧***", 2)
    assert edited["main_helper"] == "王书记"
    assert edited["id_number"] == household["id_number"]
    assert when(edited["updated_at"]) > when(household["updated_at"])
    assert (await client.get(path, headers=admin)).json() == edited


async def test_null_clears_the_main_helper_and_liaison(client: AsyncClient, admin: Headers) -> None:
    household = await make_household(client, admin, main_helper="王书记", liaison="李会计")
    response = await client.patch(
        f"{URL}/{household['id']}", json={"main_helper": None, "liaison": None}, headers=admin
    )
    assert response.status_code == 200
    assert (response.json()["main_helper"], response.json()["liaison"]) == (None, None)


@pytest.mark.parametrize("if_match", ['"1"', "1", 'W/"1"', "*"])
async def test_a_current_if_match_is_accepted_quoted_or_bare(
    client: AsyncClient, admin: Headers, if_match: str
) -> None:
    household = await make_household(client, admin)
    response = await client.patch(
        f"{URL}/{household['id']}", json={"size": 3}, headers=admin | {"If-Match": if_match}
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2


async def test_a_stale_if_match_is_412_and_nothing_changes(
    client: AsyncClient, admin: Headers
) -> None:
    household = await make_household(client, admin, size=4)
    path = f"{URL}/{household['id']}"
    await client.patch(path, json={"size": 5}, headers=admin | {"If-Match": '"1"'})
    stale = await client.patch(path, json={"size": 1}, headers=admin | {"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["code"] == "version_mismatch"
    after = (await client.get(path, headers=admin)).json()
    assert (after["size"], after["version"]) == (5, 2)


async def test_an_if_match_that_is_not_a_version_is_412(
    client: AsyncClient, admin: Headers
) -> None:
    household = await make_household(client, admin)
    response = await client.patch(
        f"{URL}/{household['id']}", json={"size": 3}, headers=admin | {"If-Match": '"abc"'}
    )
    assert response.status_code == 412
    assert response.json()["code"] == "if_match_invalid"


@pytest.mark.parametrize(
    "body",
    [
        {"village_code": "430525101202"},
        {"id_number": "430525195001010013"},
        {"version": 7},
        {"county_code": "430521"},
        {"head_name": None},
        {"size": None},
        {"size": 31},
        {"phone": "12345"},
        {},
    ],
)
async def test_an_edit_outside_the_schema_is_refused_and_nothing_changes(
    client: AsyncClient, admin: Headers, body: dict[str, object]
) -> None:
    household = await make_household(client, admin)
    path = f"{URL}/{household['id']}"
    response = await client.patch(path, json=body, headers=admin)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    assert (await client.get(path, headers=admin)).json()["version"] == 1
