"""The requests of the access tests on helpers, programmes and the year's summary."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.factories import phone_number
from tests.security.calls import Call, Target
from tests.security.world import COUNTY_A, VILLAGE_A, World, ok

TODAY = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date()
TUTORING = {
    "kind": "tutoring", "name": "云支教", "county_code": COUNTY_A,
    "term_start": TODAY.isoformat(), "term_end": (TODAY + dt.timedelta(days=120)).isoformat(),
    "sessions_per_term": 12,
}  # fmt: skip
TUTOR = {"subjects": ["math"], "grade_bands": ["junior"], "slots": ["sat_morning"]}
ACT = {"acted_on": TODAY.isoformat(), "kind": "visit", "note": "走访慰问"}
SESSION = {"held_on": TODAY.isoformat(), "minutes": 40}
YEAR = {"scope": COUNTY_A, "year": TODAY.year}


async def programme(world: World) -> int:
    """A new tutoring programme of county A."""
    headers = world.headers["county_in"]
    return int(
        ok(await world.client.post("/api/v1/programmes", json=TUTORING, headers=headers))["id"]
    )


async def the_programme(world: World) -> int:
    if "programme" not in world.records:
        world.records["programme"] = await programme(world)
    return world.records["programme"]


async def matched(world: World, body: object = None) -> dict[str, Any]:
    """A new programme's run (sent ``body``) pairing the donor with a student of village A."""
    url = f"/api/v1/programmes/{await programme(world)}"
    student = {"household_id": await world.household(VILLAGE_A), "grade": 8,
               "subjects": ["math"], "slots": ["sat_morning"]}  # fmt: skip
    ok(await world.client.post(f"{url}/students", json=student,
                               headers=world.headers["village_in"]))  # fmt: skip
    ok(await world.client.post(f"{url}/volunteers", json=TUTOR, headers=world.headers["donor"]))
    return ok(
        await world.client.post(f"{url}/matching", json=body, headers=world.headers["county_in"])
    )


async def the_pairing(world: World) -> int:
    """The donor tutoring a student of a household of village A."""
    if "programme_pairing" not in world.records:
        world.records["programme_pairing"] = (await matched(world))["pairings"][0]["id"]
    return world.records["programme_pairing"]


def on_programme(method: str, suffix: str = "", fresh: bool = False, **fields: object) -> Target:
    """A request on the world's programme (or, ``fresh``, a new one each call)."""

    async def target(world: World) -> Call:
        programme_id = await (programme(world) if fresh else the_programme(world))
        return Call(method, f"/api/v1/programmes/{programme_id}{suffix}", **fields)

    return target


def on_pairing(method: str, suffix: str = "", **fields: object) -> Target:
    async def target(world: World) -> Call:
        return Call(method, f"/api/v1/programme-pairings/{await the_pairing(world)}{suffix}",
                    **fields)  # fmt: skip

    return target


async def enrol(world: World) -> Call:
    body = {"household_id": world.records["household"], "grade": 5, "subjects": ["chinese"],
            "slots": ["sun_morning"]}  # fmt: skip
    return Call("POST", f"/api/v1/programmes/{await the_programme(world)}/students", json=body)


def helper() -> dict[str, str]:
    return {"role": "helper", "name": "周帮扶", "phone": phone_number()}


SPONSORSHIP = {**TUTORING, "kind": "sponsorship", "name": "一助一", "sessions_per_term": None,
               "amount_per_term_fen": 100_000}  # fmt: skip
RECEIVED = {"voucher_no": "YZY-0001", "received_on": TODAY.isoformat()}
PAID = {"voucher_no": "YZF-0001", "disbursed_on": TODAY.isoformat()}
REFUNDED = {"voucher_no": "YZT-0001", "refunded_on": TODAY.isoformat()}


async def sponsored(world: World) -> tuple[int, int]:
    """A new sponsorship pairing of the donor with a student of village A, and its payment."""
    programme = ok(await world.client.post("/api/v1/programmes", json=SPONSORSHIP,
                                           headers=world.headers["county_in"]))  # fmt: skip
    url = f"/api/v1/programmes/{programme['id']}"
    student = {"household_id": await world.household(VILLAGE_A), "grade": 4}
    ok(await world.client.post(f"{url}/students", json=student,
                               headers=world.headers["village_in"]))  # fmt: skip
    ok(await world.client.post(f"{url}/volunteers", json={"amount_fen": 100_000},
                               headers=world.headers["donor"]))  # fmt: skip
    run = ok(await world.client.post(f"{url}/matching", headers=world.headers["county_in"]))
    pairing = int(run["pairings"][0]["id"])
    listed = ok(await world.client.get(f"/api/v1/programme-pairings/{pairing}/payments",
                                       headers=world.headers["county_in"]))  # fmt: skip
    return pairing, int(listed["items"][0]["id"])


async def sponsorship_payments(world: World) -> Call:
    if "sponsorship" not in world.records:
        world.records["sponsorship"] = (await sponsored(world))[0]
    return Call("GET", f"/api/v1/programme-pairings/{world.records['sponsorship']}/payments")


async def receive_payment(world: World) -> Call:
    """The receipt of a new sponsorship pairing's scheduled payment."""
    pairing, payment = await sponsored(world)
    path = f"/api/v1/programme-pairings/{pairing}/payments/{payment}"
    return Call("POST", f"{path}/receive", json=RECEIVED)


async def disburse_payment(world: World) -> Call:
    """The payment to the household of a new sponsorship pairing's payment, received."""
    pairing, payment = await sponsored(world)
    path = f"/api/v1/programme-pairings/{pairing}/payments/{payment}"
    ok(await world.client.post(f"{path}/receive", json=RECEIVED,
                               headers=world.headers["county_in"]))  # fmt: skip
    return Call("POST", f"{path}/disburse", json=PAID)


async def refund_payment(world: World) -> Call:
    """The refund to the sponsor of a new sponsorship pairing's payment, received, the pairing
    then terminated."""
    pairing, payment = await sponsored(world)
    path = f"/api/v1/programme-pairings/{pairing}"
    county = world.headers["county_in"]
    ok(await world.client.post(f"{path}/payments/{payment}/receive", json=RECEIVED,
                               headers=county))  # fmt: skip
    ok(await world.client.post(f"{path}/terminate", headers=county))
    return Call("POST", f"{path}/payments/{payment}/refund", json=REFUNDED)
