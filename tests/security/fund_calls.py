"""The requests of the access tests on the fund pool (基金库): crowdfundings, allocations, the
office's income, and what is public."""

from __future__ import annotations

import datetime as dt

from tests.factories import post_need, unique
from tests.security.calls import Call, Target
from tests.security.world import COUNTY_A, VILLAGE_A, World, ok

TODAY = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date()
# A need worth a crowdfunding (at least the setting's ¥1,000).
FUNDABLE_FEN = 150_000


async def fundable_need(world: World) -> int:
    """A new published need of village A worth crowdfunding."""
    household = await world.household(VILLAGE_A)
    need = await post_need(
        world.client, world.headers["village_in"], household, category="health",
        value_fen=FUNDABLE_FEN,
    )  # fmt: skip
    return int(str(need["id"]))


async def new_funding(world: World) -> Call:
    deadline = (TODAY + dt.timedelta(days=20)).isoformat()
    body = {"need_id": await fundable_need(world), "deadline": deadline}
    return Call("POST", "/api/v1/fundings", json=body)


async def the_funding(world: World) -> Call:
    if "funding" not in world.records:
        call = await new_funding(world)
        headers = world.headers["village_in"]
        created = ok(await world.client.post(call.url, json=call.json, headers=headers))
        world.records["funding"] = int(created["id"])
    return Call("GET", f"/api/v1/fundings/{world.records['funding']}")


async def income(world: World) -> Call:
    """Money received at county A's office, into its pool."""
    body = {
        "county": COUNTY_A, "voucher_no": unique("XJ"), "amount_fen": 20_000,
        "received_on": TODAY.isoformat(),
    }  # fmt: skip
    return Call("POST", "/api/v1/offline-donations", json=body)


async def new_allocation(world: World) -> Call:
    return Call("POST", "/api/v1/allocations", json={"county": COUNTY_A})


async def the_allocation(world: World) -> Call:
    if "allocation" not in world.records:
        headers = world.headers["county_in"]
        given = await income(world)
        ok(await world.client.post(given.url, json=given.json, headers=headers))
        proposed = await new_allocation(world)
        created = ok(await world.client.post(proposed.url, json=proposed.json, headers=headers))
        world.records["allocation"] = int(created["id"])
    return Call("GET", f"/api/v1/allocations/{world.records['allocation']}")


def public(url: str, **params: object) -> Target:
    async def target(world: World) -> Call:
        return Call("GET", url, params=dict(params))

    return target


DISCLOSURE = public(f"/api/v1/disclosure/{COUNTY_A}", period=str(TODAY.year))
FUND_STATS = public("/api/v1/stats/funds", county=COUNTY_A)
