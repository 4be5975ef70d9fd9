"""The requests of the access tests on the fund pool (基金库): donations and the payment channel's
notifications, crowdfundings, allocations, the office's income, and what is public."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.factories import post_need, unique
from tests.security.calls import Call, Target
from tests.security.world import COUNTY_A, VILLAGE_A, World, ok

TODAY = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date()
# A need worth a crowdfunding (at least the setting's ¥1,000).
FUNDABLE_FEN = 150_000
NOTIFY = "/api/v1/payments/notify/wechat_pay"


def gift(amount_fen: int = 5_000, **target: object) -> dict[str, Any]:
    """A WeChat Pay donation to ``target`` (county A's pool unless a need is named)."""
    body = {"amount_fen": amount_fen, "target": target or {"pool": COUNTY_A}}
    return {**body, "channel": "wechat_pay"}


async def new_donation(world: World) -> Call:
    return Call("POST", "/api/v1/donations", json=gift())


async def order(world: World, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A new WeChat Pay order of the donor, not paid yet."""
    headers = world.headers["donor"]
    return ok(await world.client.post("/api/v1/donations", json=body or gift(), headers=headers))


async def paid(world: World, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A donation of the donor, paid: the channel's signed notification of its order taken."""
    donation = await order(world, body)
    headers, content = world.payments.notification(donation["out_trade_no"])
    taken = ok(await world.client.post(NOTIFY, content=content, headers=headers))
    assert taken["outcome"] == "accepted", taken
    return donation


def on_donation(suffix: str = "") -> Target:
    """A request on the donor's paid donation to county A's pool."""

    async def target(world: World) -> Call:
        if "donation" not in world.records:
            world.records["donation"] = int((await paid(world))["id"])
        return Call("GET", f"/api/v1/donations/{world.records['donation']}{suffix}")

    return target


async def close_order(world: World) -> Call:
    return Call("POST", f"/api/v1/donations/{(await order(world))['id']}/close")


async def forged_notification(world: World) -> Call:
    """The notification of the donor's order, signed with a key that is not the platform's."""
    number = (await order(world))["out_trade_no"]
    headers, content = world.payments.notification(number, key=world.payments.merchant_key)
    return Call("POST", NOTIFY, content=content, headers=headers)


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


async def funded(world: World) -> int:
    """A crowdfunding of village A that the donor paid in full."""
    opened = await new_funding(world)
    headers = world.headers["village_in"]
    funding = ok(await world.client.post(opened.url, json=opened.json, headers=headers))
    await paid(world, gift(FUNDABLE_FEN, need_id=funding["need_id"]))
    return int(funding["id"])


def bought(funding_id: int) -> Call:
    body = {"voucher_no": unique("GM"), "note": "已购药品"}
    return Call("POST", f"/api/v1/fundings/{funding_id}/purchase", json=body)


async def purchase(world: World) -> Call:
    return bought(await funded(world))


async def confirm(world: World) -> Call:
    """The receipt of what a funded need's money bought."""
    funding_id = await funded(world)
    recorded = bought(funding_id)
    headers = world.headers["village_in"]
    ok(await world.client.post(recorded.url, json=recorded.json, headers=headers))
    return Call("POST", f"/api/v1/fundings/{funding_id}/confirm")


async def income(world: World) -> Call:
    """Money received at county A's office, into its pool."""
    body = {
        "county": COUNTY_A, "voucher_no": unique("XJ"), "amount_fen": 20_000,
        "received_on": TODAY.isoformat(),
    }  # fmt: skip
    return Call("POST", "/api/v1/offline-donations", json=body)


async def received(world: World) -> int:
    """An offline donation county A's office recorded; its id."""
    given = await income(world)
    headers = world.headers["county_in"]
    return int(ok(await world.client.post(given.url, json=given.json, headers=headers))["id"])


async def reverse(world: World) -> Call:
    body = {"reason": "凭证号录错"}
    return Call("POST", f"/api/v1/donations/{await received(world)}/reverse", json=body)


async def new_allocation(world: World) -> Call:
    return Call("POST", "/api/v1/allocations", json={"county": COUNTY_A})


async def proposal(world: World) -> int:
    """An allocation county A's office proposed, after money came into its pool."""
    await received(world)
    proposed = await new_allocation(world)
    headers = world.headers["county_in"]
    return int(ok(await world.client.post(proposed.url, json=proposed.json, headers=headers))["id"])


async def the_allocation(world: World) -> Call:
    if "allocation" not in world.records:
        world.records["allocation"] = await proposal(world)
    return Call("GET", f"/api/v1/allocations/{world.records['allocation']}")


def decide(action: str) -> Target:
    """``approve`` or ``reject`` a new proposal."""

    async def target(world: World) -> Call:
        body = {"reason": "按优先级分配"}
        return Call("POST", f"/api/v1/allocations/{await proposal(world)}/{action}", json=body)

    return target


def public(url: str, **params: object) -> Target:
    async def target(world: World) -> Call:
        return Call("GET", url, params=dict(params))

    return target


DISCLOSURE = public(f"/api/v1/disclosure/{COUNTY_A}", period=str(TODAY.year))
FUND_STATS = public("/api/v1/stats/funds", county=COUNTY_A)
