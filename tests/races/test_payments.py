"""Every pair of a sponsorship payment's actions, raced on PostgreSQL, generated from its table.

A *situation* is a payment state together with the state of the pairing beside it: a scheduled
payment of an active pairing, a received payment of an active pairing or of a terminated one.
Its actions are the payment's moves from its state (:data:`app.programmes.states.PAYMENT`) and
the pairing's request that makes the payment's system move (terminating the pairing cancels its
scheduled payments, and lets its received ones be refunded). Every unordered pair of them, an
action with itself included, is fired at once at a few payments, each side more than once, by
different county admins, through a uvicorn with several worker processes.

Everything is judged through the API, as the county office and the public see it: the winners
must be an order of moves the tables allow, the payment and the pairing must be where that order
leaves them, every loser is a 409 problem (never a 5xx), and the county's disclosure must show
exactly the money of the winners' postings, so that no step is posted twice.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from app.core.errors import PROBLEM_MEDIA_TYPE
from app.programmes import states
from tests.factories import DONGKOU_VILLAGE, admin_headers, donor_headers
from tests.programmes.conftest import SPONSORSHIP, TODAY, create, enrol, run, volunteer
from tests.races.test_races import bounded

pytestmark = pytest.mark.postgresql_only

PAYMENT, PAIRING = states.PAYMENT, states.TABLE
# The payment's system moves, and the pairing's request that makes each.
MADE_BY = {"cancel": "terminate"}
# What the pairing must be for a payment's action to be taken.
NEEDS = {"refund": states.REFUNDABLE}
# The pairing states beside a payment in each state that has moves.
BESIDE = {"scheduled": ("active",), "received": ("active", "terminated")}

PAYMENTS_PER_RACE = 2
CALLS_PER_SIDE = 2
ADMINS = 3
AMOUNT = SPONSORSHIP["amount_per_term_fen"]
DAY = TODAY.isoformat()
BODIES = {
    "receive": {"voucher_no": "YZY-R", "received_on": DAY},
    "disburse": {"voucher_no": "YZF-R", "disbursed_on": DAY},
    "refund": {"voucher_no": "YZT-R", "refunded_on": DAY},
}
# What a loser of a race is told: the state no longer allows the step, or it moved meanwhile.
LOST = {
    "invalid_transition",
    "sponsorship_payment_changed",
    "programme_pairing_changed",
    "pairing_not_terminated",
}
# The disclosure's figure each step's posting counts in.
FIGURES = {"receive": "received_fen", "disburse": "disbursed_fen", "refund": "refunded_fen"}


# -- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class World:
    payment: str
    pairing: str


def apply(world: World, action: str) -> World | None:
    """``world`` after ``action``, or None when the tables do not allow it there."""
    if action in MADE_BY.values():
        pairing_move = PAIRING.moves.get((world.pairing, action))
        if pairing_move is None:
            return None
        payment = world.payment
        for consequence, request in MADE_BY.items():
            made = PAYMENT.moves.get((world.payment, consequence))
            if request == action and made is not None:
                payment = made.to
        return World(payment, pairing_move.to)
    move = PAYMENT.moves.get((world.payment, action))
    if move is None or world.pairing not in NEEDS.get(action, (world.pairing,)):
        return None
    return World(move.to, world.pairing)


def replay(start: World, order: tuple[str, ...]) -> World | None:
    world: World | None = start
    for action in order:
        world = None if world is None else apply(world, action)
    return world


def outcomes(start: World, winners: list[str]) -> Iterator[World]:
    """What each allowed order of ``winners`` leaves behind."""
    for order in itertools.permutations(winners):
        world = replay(start, order)
        if world is not None:
            yield world


@dataclass(frozen=True, slots=True)
class Race:
    start: World
    first: str
    second: str

    @property
    def id(self) -> str:
        return f"{self.start.payment}-{self.start.pairing}:{self.first}-vs-{self.second}"

    @property
    def label(self) -> str:
        return f"payment {self.start.payment}, pairing {self.start.pairing}: " + (
            f"{self.first} × {self.second}"
        )


def actions(start: World) -> list[str]:
    """The payment's requests from its state, and the pairing's that make its system moves."""
    requests = PAYMENT.allowed(start.payment)
    return requests + [
        r for r in dict.fromkeys(MADE_BY.values()) if (start.pairing, r) in PAIRING.moves
    ]


def races() -> list[Race]:
    """Every unordered pair (with repetition) of a situation's actions. A pair that neither
    side may win (a refund of an ongoing pairing's payment, twice) is raced too: nobody wins."""
    return [
        Race(World(payment, pairing), first, second)
        for payment, pairings in BESIDE.items()
        for pairing in pairings
        for first, second in itertools.combinations_with_replacement(
            actions(World(payment, pairing)), 2
        )
    ]


RACES = races()


def unclassified() -> list[str]:
    """What the harness would not know how to race: empty when the payment table is covered."""
    problems = [
        f"payment state {state} has moves but no place in BESIDE"
        for state in dict.fromkeys(source for source, _ in PAYMENT.moves)
        if state not in BESIDE
    ]
    problems += [
        f"system action {action} is made by no request"
        for (_, action), move in PAYMENT.moves.items()
        if move.by == "system" and action not in MADE_BY
    ]
    return problems


def test_every_action_of_the_payment_table_is_raced() -> None:
    assert unclassified() == []
    raced = {action for race in RACES for action in (race.first, race.second)}
    made = {MADE_BY.get(action, action) for _, action in PAYMENT.moves}
    assert raced == made
    for example in ("receive-vs-terminate", "disburse-vs-refund", "refund-vs-terminate",
                    "receive-vs-receive", "refund-vs-refund"):  # fmt: skip
        assert any(race.id.endswith(f":{example}") for race in RACES), example


def test_the_model_follows_the_tables() -> None:
    terminated = World("received", "terminated")
    assert apply(World("scheduled", "active"), "terminate") == World("cancelled", "terminated")
    assert apply(World("received", "active"), "terminate") == terminated
    assert apply(World("received", "active"), "refund") is None
    assert apply(terminated, "refund") == World("refunded", "terminated")
    assert replay(terminated, ("disburse", "refund")) is None
    assert list(outcomes(World("received", "active"), ["refund", "terminate"])) == [
        World("refunded", "terminated")
    ]


# -- setting a race up ---------------------------------------------------------------------------

Headers = dict[str, str]


@dataclass
class Arena:
    pairing_id: int
    payment_id: int

    def url(self, action: str) -> str:
        path = f"/api/v1/programme-pairings/{self.pairing_id}"
        return (
            f"{path}/{action}"
            if action in MADE_BY.values()
            else (f"{path}/payments/{self.payment_id}/{action}")
        )


def ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text


async def prepare(
    app: FastAPI, http: httpx.AsyncClient, start: World
) -> tuple[Headers, list[Arena]]:
    """The county office and ``PAYMENTS_PER_RACE`` payments in ``start``, through the API."""
    county = await admin_headers(app, http, "county", "430525")
    village = await admin_headers(app, http, "village", DONGKOU_VILLAGE)
    programme = await create(http, county, SPONSORSHIP)
    await bounded(enrol(http, village, programme, grade=4) for _ in range(PAYMENTS_PER_RACE))
    sponsor = await donor_headers(http)
    terms = {"amount_fen": AMOUNT * PAYMENTS_PER_RACE, "max_students": PAYMENTS_PER_RACE}
    await volunteer(http, sponsor, programme, terms)
    arenas = []
    for pairing in (await run(http, county, programme))["pairings"]:
        listed = await http.get(f"/api/v1/programme-pairings/{pairing['id']}/payments",
                                headers=county)  # fmt: skip
        arenas.append(Arena(pairing["id"], listed.json()["items"][0]["id"]))
    # The moves that lead from a scheduled payment of an active pairing to the start.
    path = {"received": ["receive"], "terminated": ["terminate"]}
    for step in path.get(start.payment, []) + path.get(start.pairing, []):
        for arena in arenas:
            ok(await http.post(arena.url(step), json=BODIES.get(step), headers=county))
    assert [await observe(http, county, arena) for arena in arenas] == [start] * len(arenas)
    return county, arenas


async def observe(http: httpx.AsyncClient, county: Headers, arena: Arena) -> World:
    """The payment's and the pairing's states, as the county office reads them."""
    pairing = await http.get(f"/api/v1/programme-pairings/{arena.pairing_id}", headers=county)
    listed = await http.get(f"/api/v1/programme-pairings/{arena.pairing_id}/payments",
                            headers=county)  # fmt: skip
    (payment,) = [p for p in listed.json()["items"] if p["id"] == arena.payment_id]
    return World(payment["status"], pairing.json()["status"])


async def sponsorship_money(http: httpx.AsyncClient) -> dict[str, int]:
    """The county's public sponsorship figures of this year, and what the pairings hold."""
    public = await http.get("/api/v1/disclosure/430525", params={"period": str(TODAY.year)})
    assert public.status_code == 200, public.text
    totals = dict.fromkeys(FIGURES.values(), 0)
    for month in public.json()["sponsorship"]:
        for figure in totals:
            totals[figure] += month[figure]
    return totals | {"held_fen": public.json()["balance"]["sponsorship_fen"]}


def refused(action: str, response: httpx.Response) -> str | None:
    """What is wrong with a losing call (nothing, if it is a 409 problem of a lost race)."""
    problem = response.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE)
    if response.status_code == 409 and problem and response.json().get("code") in LOST:
        return None
    return f"{action} got {response.status_code} {response.text[:200]}"


def judge(race: Race, won: list[str], seen: World) -> list[str]:
    """What is wrong with one arena's winners and what they left."""
    if not won and any(apply(race.start, a) for a in (race.first, race.second)):
        return ["nobody won"]
    possible = list(outcomes(race.start, won))
    if seen not in possible:
        return [f"winners {sorted(won)} cannot leave {seen} (the tables allow {possible})"]
    return []


# -- the race ------------------------------------------------------------------------------------


@pytest.mark.parametrize("race", RACES, ids=[race.id for race in RACES])
async def test_race(
    app: FastAPI,
    http: httpx.AsyncClient,
    race: Race,
    record_property: Callable[[str, object], None],
) -> None:
    record_property("race", race.label)
    county, arenas = await prepare(app, http, race.start)
    admins = [await admin_headers(app, http, "county", "430525") for _ in range(ADMINS)]
    sides = [race.first] * CALLS_PER_SIDE + [race.second] * CALLS_PER_SIDE
    calls = [
        (arena, action, admins[n % ADMINS]) for arena in arenas for n, action in enumerate(sides)
    ]

    responses = await asyncio.gather(
        *(http.post(arena.url(a), json=BODIES.get(a), headers=who) for arena, a, who in calls)
    )

    problems: list[str] = []
    winners: Counter[str] = Counter()
    outcomes_seen: Counter[str] = Counter()
    for arena in arenas:
        mine = [(c[1], r) for c, r in zip(calls, responses, strict=True) if c[0] is arena]
        won = [action for action, response in mine if response.status_code == 200]
        problems += [p for p in (refused(a, r) for a, r in mine if r.status_code != 200) if p]
        seen = await observe(http, county, arena)
        problems += [f"payment {arena.payment_id}: {p}" for p in judge(race, won, seen)]
        winners.update(won)
        outcomes_seen[" + ".join(sorted(won)) or "nobody"] += 1
    # Every posting is the winner's, once: the disclosure shows their money and no more.
    before = {"received_fen": AMOUNT * len(arenas) if race.start.payment == "received" else 0}
    expected = {
        figure: before.get(figure, 0) + AMOUNT * winners[step] for step, figure in FIGURES.items()
    }
    expected["held_fen"] = (
        expected["received_fen"] - expected["disbursed_fen"] - expected["refunded_fen"]
    )
    money = await sponsorship_money(http)
    if money != expected:
        problems.append(
            f"the disclosure shows {money}, the winners {dict(winners)} make {expected}"
        )
    record_property("winners", dict(outcomes_seen))
    assert not problems, f"{race.label}:\n  " + "\n  ".join(problems)
