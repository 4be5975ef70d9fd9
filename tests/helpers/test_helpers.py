"""Helpers and liaisons of key households, and their help acts, within an admin's scope."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select

from app.helpers.models import Helper
from app.households.models import HouseholdAccess
from tests.factories import (
    DONGKOU_VILLAGE,
    OTHER_VILLAGE,
    admin_headers,
    assert_problem,
    make_household,
    phone_number,
    register_donor,
    sign_in,
)

TOWNSHIP = DONGKOU_VILLAGE[:9]
TODAY = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()


def helpers_path(household: dict[str, object]) -> str:
    return f"/api/v1/households/{household['id']}/helpers"


def acts_path(household: dict[str, object]) -> str:
    return f"/api/v1/households/{household['id']}/help-acts"


async def test_a_village_admin_cannot_assign_a_helper_to_another_villages_household(
    app: FastAPI, client: AsyncClient
) -> None:
    ours = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    theirs = await admin_headers(app, client, "village", OTHER_VILLAGE)
    household = await make_household(client, theirs, OTHER_VILLAGE, key_household=True)
    body = {"role": "helper", "name": "王建国", "phone": phone_number()}
    response = await client.post(helpers_path(household), json=body, headers=ours)
    assert_problem(response, 404, "household_not_found")
    assert_problem(
        await client.get(helpers_path(household), headers=ours), 404, "household_not_found"
    )
    act = {"acted_on": TODAY.isoformat(), "kind": "visit", "note": "走访"}
    assert_problem(await client.post(acts_path(household), json=act, headers=ours), 404,
                   "household_not_found")  # fmt: skip
    async with app.state.database.sessionmaker() as session:
        assert (await session.scalars(select(Helper))).all() == []


async def test_a_helper_and_a_liaison_are_disclosed_to_the_admin_and_logged(
    app: FastAPI, client: AsyncClient
) -> None:
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    township = await admin_headers(app, client, "township", TOWNSHIP)
    household = await make_household(client, village, key_household=True)
    helper_phone = phone_number()
    assigned = await client.post(
        helpers_path(household),
        json={"role": "helper", "name": "王建国", "phone": helper_phone},
        headers=village,
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["helper"]["helper"]["name"] == "王建国"
    assert assigned.json()["helper"]["helper"]["phone"] == helper_phone
    # A liaison of the township serves households of several villages.
    liaison = await client.post(
        helpers_path(household),
        json={
            "role": "liaison",
            "name": "李联络",
            "phone": phone_number(),
            "region_code": TOWNSHIP,
        },
        headers=township,
    )
    assert liaison.status_code == 200, liaison.text
    liaison_id = liaison.json()["liaison"]["helper"]["id"]
    other = await make_household(client, township, OTHER_VILLAGE, key_household=True)
    reused = await client.post(
        helpers_path(other), json={"role": "liaison", "helper_id": liaison_id}, headers=township
    )
    assert reused.json()["liaison"]["helper"]["id"] == liaison_id
    # The village admin does not see the township's liaison as a person to assign.
    refused = await client.post(
        helpers_path(household), json={"role": "liaison", "helper_id": liaison_id}, headers=village
    )
    assert_problem(refused, 404, "helper_not_found")
    read = await client.get(helpers_path(household), headers=village)
    assert read.json()["liaison"]["helper"]["name"] == "李联络"
    async with app.state.database.sessionmaker() as session:
        logged = await session.scalar(
            select(HouseholdAccess.action).where(
                HouseholdAccess.request_id == read.headers["x-request-id"]
            )
        )
        stored = (await session.scalars(select(Helper.name_encrypted))).all()
    assert logged == "helpers"
    assert all("王建国".encode() not in name for name in stored)
    listed = await client.get("/api/v1/helpers", headers=township)
    by_id = {item["id"]: item for item in listed.json()["items"]}
    assert by_id[liaison_id]["households"] == 2
    assert by_id[liaison_id]["name_masked"] == "李**"
    assert helper_phone not in listed.text


async def test_a_helper_with_a_donor_account_records_acts_and_sees_no_one(
    app: FastAPI, client: AsyncClient
) -> None:
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    household = await make_household(client, village, key_household=True)
    donor = await register_donor(client)
    helper_headers = await sign_in(client, str(donor["username"]))
    await client.post(
        helpers_path(household),
        json={"role": "helper", "name": "赵帮扶", "phone": phone_number(), "donor_id": donor["id"]},
        headers=village,
    )
    act = {"acted_on": TODAY.isoformat(), "kind": "production", "note": "帮忙插秧"}
    recorded = await client.post(acts_path(household), json=act, headers=helper_headers)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["helper_id"] is not None
    other_donor = await sign_in(client, str((await register_donor(client))["username"]))
    refused = await client.post(acts_path(household), json=act, headers=other_donor)
    assert_problem(refused, 404, "household_not_found")
    assert_problem(await client.get(helpers_path(household), headers=helper_headers), 403,
                   "admin_only")  # fmt: skip
    future = {**act, "acted_on": (TODAY + dt.timedelta(days=2)).isoformat()}
    assert_problem(await client.post(acts_path(household), json=future, headers=village), 422,
                   "act_in_future")  # fmt: skip
    # An admin records on a helper's behalf: only someone assigned to the household.
    behalf = await client.post(
        acts_path(household), json={**act, "helper_id": recorded.json()["helper_id"]},
        headers=village,
    )  # fmt: skip
    assert behalf.status_code == 201, behalf.text
    listed = await client.get(acts_path(household), headers=village)
    assert [item["id"] for item in listed.json()["items"]] == [
        behalf.json()["id"], recorded.json()["id"]
    ]  # fmt: skip
