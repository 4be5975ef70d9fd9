"""A past day's coverage of 户帮户亲帮亲 stays what it was: replacing a helper and registering
households later change neither the stats of that day nor the year's month-end figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient

from app.core.db import clock_at
from tests.factories import DONGKOU_VILLAGE, admin_headers, assert_problem, make_household
from tests.helpers.assigning import YEAR, assign, at, covered, helpers_path

TOWNSHIP = DONGKOU_VILLAGE[:9]


async def totals_on(client: AsyncClient, county: dict[str, str], on: dt.date) -> dict[str, Any]:
    params = {"scope": TOWNSHIP, "on": on.isoformat()}
    response = await client.get("/api/v1/stats/helpers", params=params, headers=county)
    assert response.status_code == 200, response.text
    totals: dict[str, Any] = response.json()["totals"]
    return totals


async def month_ends(
    client: AsyncClient, county: dict[str, str], *months: int
) -> list[tuple[int, int]]:
    """The year's summary: (key households, with a helper and a liaison) at the months' ends."""
    params = {"scope": TOWNSHIP, "year": YEAR}
    response = await client.get("/api/v1/stats/annual", params=params, headers=county)
    assert response.status_code == 200, response.text
    found = {
        row["month"]: (row["key_households"], row["with_helper_and_liaison"])
        for row in response.json()["coverage"]
        if row["township"] == TOWNSHIP
    }
    return [found.get(f"{YEAR}-{month:02d}", (0, 0)) for month in months]


async def test_replacing_a_helper_keeps_the_coverage_of_the_days_before(
    app: FastAPI, client: AsyncClient
) -> None:
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    county = await admin_headers(app, client, "county", "430525")
    household, first = await covered(client, village, at(9, 1), at(9, 10))
    september = await totals_on(client, county, dt.date(YEAR, 9, 30))
    assert (september["key_households"], september["with_helper_and_liaison"]) == (1, 1)

    with clock_at(at(10, 15)):
        second = await assign(client, village, household, "helper", "孙互助")
    assert second["helper"]["id"] != first["helper"]["id"]
    assert dt.datetime.fromisoformat(second["assigned_at"]) == at(10, 15)

    assert await totals_on(client, county, dt.date(YEAR, 9, 30)) == september
    before = await totals_on(client, county, dt.date(YEAR, 9, 5))
    assert (before["key_households"], before["with_helper_and_liaison"]) == (1, 0)
    after = await totals_on(client, county, dt.date(YEAR, 10, 31))
    assert (after["key_households"], after["with_helper_and_liaison"]) == (1, 1)
    assert await month_ends(client, county, 8, 9, 10) == [(0, 0), (1, 1), (1, 1)]


async def test_a_replaced_helper_no_longer_serves_the_household(
    app: FastAPI, client: AsyncClient
) -> None:
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    household = await make_household(client, village, key_household=True)
    first = await assign(client, village, household, "helper", "钱互助")
    second = await assign(client, village, household, "helper", "孙互助")
    read = await client.get(helpers_path(household), headers=village)
    assert read.json()["helper"]["helper"]["id"] == second["helper"]["id"]
    # The same person assigned again goes on holding the role from the first assignment.
    again = await client.post(
        helpers_path(household),
        json={"role": "helper", "helper_id": second["helper"]["id"]},
        headers=village,
    )
    assert again.json()["helper"]["assigned_at"] == second["assigned_at"]
    listed = await client.get("/api/v1/helpers", headers=village)
    served = {item["id"]: item["households"] for item in listed.json()["items"]}
    assert (served[first["helper"]["id"]], served[second["helper"]["id"]]) == (0, 1)
    act = {"acted_on": f"{YEAR}-10-01", "kind": "visit", "note": "走访",
           "helper_id": first["helper"]["id"]}  # fmt: skip
    refused = await client.post(
        f"/api/v1/households/{household['id']}/help-acts", json=act, headers=village
    )
    assert_problem(refused, 422, "helper_not_assigned")


async def test_a_past_day_counts_only_the_households_registered_by_then(
    app: FastAPI, client: AsyncClient
) -> None:
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    county = await admin_headers(app, client, "county", "430525")
    await covered(client, village, at(8, 1), at(8, 1))
    september = await totals_on(client, county, dt.date(YEAR, 9, 30))
    assert (september["key_households"], september["helper_and_liaison_share"]) == (1, 1.0)

    with clock_at(at(10, 10)):
        await make_household(client, village, key_household=True)
    assert await totals_on(client, county, dt.date(YEAR, 9, 30)) == september
    october = await totals_on(client, county, dt.date(YEAR, 10, 31))
    assert (october["key_households"], october["helper_and_liaison_share"]) == (2, 0.5)
    assert await month_ends(client, county, 7, 9, 10) == [(0, 0), (1, 1), (2, 1)]
