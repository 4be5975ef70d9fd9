"""Reading the access log (county and platform admins, inside their scope), and finding a
household by ID number through its blind index (logged as a look-up)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient

from tests.factories import (
    DONGKOU_VILLAGE,
    admin_headers,
    assert_problem,
    id_number,
    make_household,
)
from tests.households.conftest import Headers, access_log, id_number_ending_in_x, id_of

URL = "/api/v1/households"
LOG = "/api/v1/households/access-log"


async def page(client: AsyncClient, headers: Headers, **params: Any) -> dict[str, Any]:
    response = await client.get(LOG, headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_county_reads_who_disclosed_which_household_newest_first(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    household = await make_household(client, admin)
    assert (await client.get(f"{URL}/{household['id']}", headers=admin)).status_code == 200
    county = await admin_headers(app, client, "county", "430525")
    items = (await page(client, county))["items"]
    assert [item["action"] for item in items] == ["read", "create"]
    assert {item["household_id"] for item in items} == {household["id"]}
    first = items[0]
    assert first["village_code"] == DONGKOU_VILLAGE
    assert first["head_name_masked"] == "刘**"
    assert first["actor_role"] == "village"
    assert first["request_id"]
    # Reading the log discloses no personal data, so it is not logged itself.
    assert len(await access_log(app)) == 2


async def test_township_and_village_admins_may_not_read_the_log(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    township = await admin_headers(app, client, "township", "430525101")
    for headers in (admin, township):
        assert_problem(await client.get(LOG, headers=headers), 403, "not_allowed")


async def test_a_county_sees_no_access_to_another_countys_households(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    await make_household(client, admin)
    other = await admin_headers(app, client, "county", "430522")
    assert (await page(client, other))["items"] == []
    platform = await admin_headers(app, client, "platform", "")
    assert len((await page(client, platform))["items"]) == 1


async def test_the_log_filters_by_household_actor_and_moment(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    first, second = await make_household(client, admin), await make_household(client, admin)
    county = await admin_headers(app, client, "county", "430525")
    assert (await client.get(f"{URL}/{first['id']}", headers=county)).status_code == 200
    by_household = (await page(client, county, household_id=first["id"]))["items"]
    assert {item["household_id"] for item in by_household} == {first["id"]}
    assert len(by_household) == 2
    county_id = (await client.get("/api/v1/me", headers=county)).json()["id"]
    by_actor = (await page(client, county, actor_id=county_id))["items"]
    assert [(item["household_id"], item["action"]) for item in by_actor] == [(first["id"], "read")]
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat()
    assert (await page(client, county, since=later))["items"] == []
    assert len((await page(client, county, until=later))["items"]) == 3
    assert second["id"] in {item["household_id"] for item in (await page(client, county))["items"]}


async def test_the_log_pages_by_cursor(app: FastAPI, client: AsyncClient, admin: Headers) -> None:
    for _ in range(3):
        await make_household(client, admin)
    county = await admin_headers(app, client, "county", "430525")
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = await page(client, county, **params)
        seen += [item["id"] for item in body["items"]]
        if not (cursor := body["next_cursor"]):
            break
    assert len(seen) == 3
    assert seen == sorted(seen, reverse=True)


async def test_a_zoneless_moment_is_422(app: FastAPI, client: AsyncClient) -> None:
    county = await admin_headers(app, client, "county", "430525")
    response = await client.get(LOG, headers=county, params={"since": "2026-01-01T00:00:00"})
    assert_problem(response, 422, "validation_failed")


# -- finding a household by ID number ----------------------------------------------------------


async def test_an_id_number_finds_its_household_and_the_look_up_is_logged(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    number = id_number_ending_in_x()
    household = await make_household(client, admin, id_number=number)
    await make_household(client, admin)
    response = await client.get(URL, headers=admin, params={"id_number": number.lower()})
    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["items"]] == [household["id"]]
    assert [(row.household_id, row.action) for row in await access_log(app)][-1] == (
        id_of(household),
        "lookup",
    )


async def test_an_id_number_outside_the_scope_finds_nothing_and_logs_nothing(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    number = id_number()
    await make_household(client, admin, id_number=number)
    elsewhere = await admin_headers(app, client, "village", "430525101202")
    before = len(await access_log(app))
    response = await client.get(URL, headers=elsewhere, params={"id_number": number})
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []
    assert len(await access_log(app)) == before


async def test_a_malformed_id_number_is_422(client: AsyncClient, admin: Headers) -> None:
    for number in ("430525198001011234", "４３０５２５１９８００１０１１２３３", "12345"):
        response = await client.get(URL, headers=admin, params={"id_number": number})
        assert_problem(response, 422, "validation_failed")
