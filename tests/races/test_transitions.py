"""Every pair of conflicting actions on one need or one pairing, raced on PostgreSQL.

The pairs are generated from the need's and the pairing's transition tables
(:mod:`tests.races.situations`), so a new action is raced without a new test. Each race sets up
a few needs in the situation through the API, then fires both actions at each of them at once,
each side more than once, through a uvicorn with several worker processes; the system's actions
(a claim's or a proposal's lapse, a need's deadline) are the lapse job run in this process at a
moment when they are due. Afterwards the winners must be an order of moves the tables allow and
the rows must be what that order leaves: one winner of two moves that exclude each other, the
losers 409, no 5xx, an event per move, one pairing holding a claimed or delivered need, and
every offer's used capacity its accepted pairings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.errors import PROBLEM_MEDIA_TYPE
from app.events.models import Event
from app.jobs import run_expiry
from app.needs.models import Need
from app.offers.models import Offer
from app.pairings.models import Pairing
from app.pairings.states import ENDED
from tests.factories import admin_headers, make_household, post_need, register_donor, sign_in
from tests.matchmaking.test_runs import offer
from tests.races import situations
from tests.races.situations import NEED, PAIRING, Action, Race, World
from tests.races.test_races import bounded, signed_in_donor

pytestmark = pytest.mark.postgresql_only

Headers = dict[str, str]
# Each race runs on this many needs at once, each side of it sent this many times to each
# (by different admins, different donors, the holder twice, or the job run twice).
NEEDS_PER_RACE = 2
CALLS_PER_SIDE = 2
ADMINS = 2
RACES = situations.races()

# What the endpoints of the actions take; any other action is POSTed to its name with no body.
ENDPOINTS = {"approve": "review", "reject": "review"}
BODIES: dict[str, dict[str, str]] = {
    "approve": {"decision": "approve", "reason": "核实无误"},
    "reject": {"decision": "reject", "reason": "不符合条件"},
    "cancel": {"reason": "需求已由他人解决"},
    "dispute": {"reason": "村民说没有收到"},
    "deliver": {"note": "已送到村委会"},
    "confirm": {"thanks": "谢谢您"},
    "release": {"reason": "临时有事"},
    "decline": {"reason": "暂时不便"},
}
SUCCESS_CODES = range(200, 300)
# The states of a proposal that was accepted: each used one unit of its offer's capacity.
ACCEPTED = ("active", "delivered", "confirmed", "released", "expired", "cancelled")


# -- setting a situation up -------------------------------------------------------------------


@dataclasses.dataclass
class Arena:
    """One need in the race's situation, with the pairing beside it and who holds it."""

    need_id: int
    pairing_id: int | None = None
    holder: Headers | None = None


@dataclasses.dataclass
class Stage:
    arenas: list[Arena]
    admins: list[Headers]
    mark: int  # the last event before the race


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


async def post_needs(
    http: httpx.AsyncClient, admin: Headers, count: int, race: Race, origin: str = "admin"
) -> list[int]:
    # A job run for one move must find no other due. A deadline raced only against requests is
    # tomorrow, before any claim or proposal the race makes can lapse; any other race gets a
    # deadline past every hold, so that a run past a hold expires no need.
    system = {action.name for action in race.actions if action.by == "system"}
    soon = system == {"expire"}
    deadline = today() + dt.timedelta(days=1 if soon else 60)

    async def one() -> int:
        household = await make_household(http, admin)
        need = await post_need(
            http, admin, household["id"], deadline=deadline.isoformat(), origin=origin
        )
        return int(str(need["id"]))

    return await bounded(one() for _ in range(count))


async def propose(http: httpx.AsyncClient, admin: Headers, arenas: list[Arena]) -> None:
    """A matching run proposes each of ``arenas``' needs to an offer of its own donor."""
    by_id = dict(await bounded(donor(http) for _ in arenas))
    await bounded(offer(http, headers, capacity=1) for headers in by_id.values())
    run = await http.post("/api/v1/matching/runs", json={"scope": "430525"}, headers=admin)
    assert run.status_code == 201, run.text
    assert run.json()["pairs_proposed"] == len(arenas), run.text
    listed = await http.get(f"/api/v1/matching/runs/{run.json()['id']}/pairings", headers=admin)
    proposals = {p["need_id"]: p for p in listed.json()["items"]}
    for arena in arenas:
        proposal = proposals[arena.need_id]
        arena.pairing_id, arena.holder = proposal["id"], by_id[proposal["donor_id"]]


async def donor(http: httpx.AsyncClient) -> tuple[int, Headers]:
    """A new donor's id and authorization headers."""
    registered = await register_donor(http)
    return int(str(registered["id"])), await sign_in(http, str(registered["username"]))


async def step(
    http: httpx.AsyncClient, path: str, headers: Headers, body: object = None
) -> dict[str, Any]:
    response = await http.post(path, json=body, headers=headers)
    assert response.status_code in SUCCESS_CODES, response.text
    return dict(response.json())


async def claim_directly(http: httpx.AsyncClient, arena: Arena) -> None:
    arena.holder = await signed_in_donor(http)
    result = await step(http, f"/api/v1/needs/{arena.need_id}/claim", arena.holder)
    arena.pairing_id = result["pairing"]["id"]


async def prepare(app: FastAPI, http: httpx.AsyncClient, race: Race) -> Stage:
    """``NEEDS_PER_RACE`` needs in the race's situation, set up through the API."""
    state = race.situation.need
    admins = list(
        await asyncio.gather(*(admin_headers(app, http, "county", "430525") for _ in range(ADMINS)))
    )
    origin = "household" if state == "pending_review" else "admin"
    needs = await post_needs(http, admins[0], NEEDS_PER_RACE, race, origin)
    arenas = [Arena(need_id) for need_id in needs]
    if state == "published":
        await propose(http, admins[0], arenas)
    elif state in ("claimed", "delivered"):
        # Half are claimed directly, half by accepting a matching run's proposal.
        direct, matched = arenas[::2], arenas[1::2]
        await bounded(claim_directly(http, arena) for arena in direct)
        if matched:
            await propose(http, admins[0], matched)
            await bounded(
                step(http, f"/api/v1/pairings/{arena.pairing_id}/accept", arena.holder or {})
                for arena in matched
            )
        if state == "delivered":
            await bounded(
                step(http, f"/api/v1/needs/{a.need_id}/deliver", a.holder or {}, BODIES["deliver"])
                for a in arenas
            )
    elif state != "pending_review":
        raise AssertionError(f"no way to set up a {state} need")
    async with app.state.database.sessionmaker() as session:
        mark = await session.scalar(select(func.coalesce(func.max(Event.id), 0)))
        statuses = dict((await session.execute(select(Need.id, Need.status))).all())
    assert {statuses[a.need_id] for a in arenas} == {state}
    return Stage(arenas, admins, int(mark or 0))


# -- the moments the system's actions are due --------------------------------------------------


async def _past_deadline(session: AsyncSession, need_ids: list[int]) -> dt.datetime:
    latest = await session.scalar(select(func.max(Need.deadline)).where(Need.id.in_(need_ids)))
    assert latest is not None
    return dt.datetime.combine(latest + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


async def _past_hold(session: AsyncSession, need_ids: list[int]) -> dt.datetime:
    latest = await session.scalar(
        select(func.max(Pairing.expires_at)).where(
            Pairing.need_id.in_(need_ids), Pairing.expires_at.is_not(None)
        )
    )
    assert latest is not None
    return latest + dt.timedelta(seconds=1)


DUE_AT: dict[tuple[str, str], Callable[[AsyncSession, list[int]], Awaitable[dt.datetime]]] = {
    ("need", "expire"): _past_deadline,
    ("need", "lapse"): _past_hold,
    ("pairing", "lapse"): _past_hold,
}


# -- the race ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Call:
    action: Action
    arena: Arena | None  # None for a run of the job (it serves every arena)
    response: httpx.Response | None = None
    moves: int = 0  # the job's own count of what it did
    error: BaseException | None = None


def job_moves(result: Any) -> int:
    """What one run of the lapse job says it moved (its counts, not its housekeeping)."""
    assert dataclasses.is_dataclass(result), result
    counts = dataclasses.asdict(result)  # type: ignore[arg-type]
    return sum(
        value
        for name, value in counts.items()
        if isinstance(value, int) and not name.startswith("purged")
    )


async def perform(
    http: httpx.AsyncClient, database: Database, call: Call, who: Headers, now: dt.datetime | None
) -> Call:
    try:
        if call.arena is None:
            assert now is not None
            call.moves = job_moves(await run_expiry(database, now))
            return call
        action, arena = call.action, call.arena
        if action.entity == "need":
            path = f"/api/v1/needs/{arena.need_id}/{ENDPOINTS.get(action.name, action.name)}"
        else:
            path = f"/api/v1/pairings/{arena.pairing_id}/{action.name}"
        call.response = await http.post(path, json=BODIES.get(action.name), headers=who)
    except Exception as exc:  # a crash of the job is a finding, like a 500
        call.error = exc
    return call


async def fire(app: FastAPI, http: httpx.AsyncClient, race: Race, stage: Stage) -> list[Call]:
    """Both sides of the race on every arena at once, each side ``CALLS_PER_SIDE`` times."""
    database: Database = app.state.database
    need_ids = [arena.need_id for arena in stage.arenas]
    sides = [race.first, race.second]
    calls: list[tuple[Call, Headers, dt.datetime | None]] = []
    # Who performs: an admin each call, a new donor each claim, the holder, or the job.
    wanted = sum(action.by == "donor" for action in sides) * CALLS_PER_SIDE * len(need_ids)
    claimants = await bounded(signed_in_donor(http) for _ in range(wanted))
    for side, action in enumerate(sides):
        if action.by == "system":
            async with database.sessionmaker() as session:
                key = (action.entity, action.name)
                now = await DUE_AT[key](session, need_ids)
            calls += [(Call(action, None), {}, now) for _ in range(CALLS_PER_SIDE)]
            continue
        for arena in stage.arenas:
            for n in range(CALLS_PER_SIDE):
                if action.by in ("admin", "reviewer"):
                    who = stage.admins[(side * CALLS_PER_SIDE + n) % len(stage.admins)]
                elif action.by == "holder":
                    who = arena.holder or {}
                else:
                    who = claimants.pop()
                calls.append((Call(action, arena), who, None))
    return list(
        await asyncio.gather(*(perform(http, database, c, who, now) for c, who, now in calls))
    )


# -- what must hold afterwards -----------------------------------------------------------------


@dataclasses.dataclass
class Observed:
    need: str
    pairing: str | None
    created: list[str]
    events: list[Event]  # the need's and its pairings' whole history, oldest first
    pairings: dict[int, Pairing]


async def observe(session: AsyncSession, arena: Arena) -> Observed:
    need = await session.get(Need, arena.need_id)
    assert need is not None
    pairings = {
        p.id: p for p in await session.scalars(select(Pairing).where(Pairing.need_id == need.id))
    }
    events = list(
        await session.scalars(select(Event).where(Event.need_id == need.id).order_by(Event.id))
    )
    original = pairings.get(arena.pairing_id) if arena.pairing_id else None
    created = [p.status for p in pairings.values() if p.id != arena.pairing_id]
    return Observed(need.status, original.status if original else None, created, events, pairings)


def system_wins(race: Race, observed: Observed, arena: Arena, mark: int) -> list[Action]:
    """The job's moves on this arena, read from the event log (the job serves all arenas)."""
    wins = []
    for action in race.actions:
        if action.by != "system":
            continue
        for event in observed.events:
            if event.id <= mark or event.actor_id is not None:
                continue
            if action.need is not None:
                hit = (event.entity, event.action, event.from_status) == (
                    "need", action.name, action.need_from
                )  # fmt: skip
            else:
                assert action.pairing is not None
                hit = (event.entity, event.entity_id, event.from_status, event.to_status) == (
                    "pairing", arena.pairing_id, action.pairing_from, action.pairing.to
                )  # fmt: skip
            if hit:
                wins.append(action)
    return wins


def check_losers(calls: Sequence[Call]) -> list[str]:
    problems = []
    for call in calls:
        response = call.response
        if call.error is not None:
            problems.append(f"{call.action.name}: raised {call.error!r}")
        if response is None or response.status_code in SUCCESS_CODES:
            continue
        if response.status_code != 409:
            problems.append(f"{call.action.name}: {response.status_code} {response.text[:300]}")
            continue
        if not response.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE):
            problems.append(f"{call.action.name}: 409 is not problem details")
            continue
        body = response.json()
        if body.get("code") == "invalid_transition":
            allowed = body.get("allowed")
            known = {*NEED.actions, *PAIRING.actions}
            if not isinstance(allowed, list) or not set(allowed) <= known:
                problems.append(f"{call.action.name}: 409 without a valid allowed: {body}")
    return problems


def check_history(observed: Observed) -> list[str]:
    """Each record's events chain from state to state by moves of its table, ending where it is."""
    problems = []
    now = {("need", None): observed.need} | {
        ("pairing", pid): p.status for pid, p in observed.pairings.items()
    }
    last: dict[tuple[str, int | None], str | None] = {}
    for event in observed.events:
        key = ("need", None) if event.entity == "need" else (event.entity, event.entity_id)
        if key not in now:
            continue
        table = NEED if event.entity == "need" else PAIRING
        if event.from_status == event.to_status and event.entity == "need":
            continue  # an edit
        if key in last and event.from_status != last[key]:
            problems.append(
                f"{event.entity} {event.entity_id}: event {event.id} {event.action} moves from "
                f"{event.from_status}, but it was {last[key]} (a lost update)"
            )
        legal = event.from_status is None or any(
            source == event.from_status and move.to == event.to_status
            for (source, _), move in table.moves.items()
        )
        if not legal:
            problems.append(
                f"{event.entity} {event.entity_id}: {event.from_status} → {event.to_status} "
                f"({event.action}) is not a move of its table"
            )
        last[key] = event.to_status
    for key, status in now.items():
        if last.get(key) != status:
            entity, number = key
            problems.append(
                f"{entity} {number or ''}: is {status}, its last event says {last.get(key)}"
            )
    return problems


def check_holding(observed: Observed) -> list[str]:
    problems = []
    holding = [p.status for p in observed.pairings.values() if p.status in ("active", "delivered")]
    proposed = [p for p in observed.pairings.values() if p.status == "proposed"]
    expected = situations.BESIDE.get(observed.need)
    wanted = [expected] if expected in ("active", "delivered") else []
    if holding != wanted:
        problems.append(f"a {observed.need} need is held by pairings {holding}")
    if len(proposed) > (1 if observed.need == "published" else 0):
        problems.append(f"a {observed.need} need has {len(proposed)} open proposals")
    return problems


def check_arena(
    race: Race, arena: Arena, calls: Sequence[Call], observed: Observed, mark: int
) -> tuple[list[str], list[str]]:
    """The problems of one arena, and its winners."""
    mine = [call for call in calls if call.arena is arena]
    winners = [
        call.action for call in mine if call.response and call.response.status_code in SUCCESS_CODES
    ] + system_wins(race, observed, arena, mark)
    names = sorted(action.name for action in winners)
    problems = [f"need {arena.need_id}: {p}" for p in check_losers(mine)]
    start = World(race.situation.need, race.situation.pairing)
    if not winners:
        problems.append(f"need {arena.need_id}: nobody won")
    elif situations.conflicting(start, race.first, race.second) and len(winners) != 1:
        problems.append(f"need {arena.need_id}: {len(winners)} winners {names}, one expected")
    new = [event for event in observed.events if event.id > mark]
    seen = World(
        observed.need,
        observed.pairing,
        tuple(sorted(observed.created)),
        sum(e.entity == "need" for e in new),
        sum(e.entity == "pairing" for e in new),
    )
    possible = list(situations.outcomes(start, winners))
    if winners and seen not in possible:
        problems.append(
            f"need {arena.need_id}: winners {names} cannot leave {seen} (the tables allow "
            f"{possible or 'no order of them'}); events {[_brief(e) for e in new]}"
        )
    problems += [f"need {arena.need_id}: {p}" for p in check_history(observed)]
    problems += [f"need {arena.need_id}: {p}" for p in check_holding(observed)]
    return problems, names


def _brief(event: Event) -> str:
    who = "system" if event.actor_id is None else f"#{event.actor_id}"
    return f"{event.entity}:{event.action} {event.from_status}→{event.to_status} by {who}"


async def check_offers(session: AsyncSession) -> list[str]:
    """Each offer's used capacity is the number of its pairings that were ever accepted."""
    accepted = dict(
        (
            await session.execute(
                select(Pairing.offer_id, func.count())
                .where(
                    Pairing.source == "match",
                    Pairing.active_at.is_not(None),
                    Pairing.status.in_(ACCEPTED),
                )
                .group_by(Pairing.offer_id)
            )
        ).all()
    )
    offers = (await session.execute(select(Offer.id, Offer.capacity_used, Offer.capacity))).all()
    return [
        f"offer {oid}: capacity_used {used} of {cap}, {accepted.get(oid, 0)} accepted pairings"
        for oid, used, cap in offers
        if used != accepted.get(oid, 0) or used > cap
    ]


@pytest.mark.parametrize("race", RACES, ids=[race.id for race in RACES])
async def test_race(
    app: FastAPI,
    http: httpx.AsyncClient,
    race: Race,
    record_property: Callable[[str, object], None],
) -> None:
    record_property("race", race.label)
    stage = await prepare(app, http, race)

    calls = await fire(app, http, race, stage)

    problems = []
    server_errors = [c for c in calls if c.response is not None and c.response.status_code >= 500]
    if server_errors:
        problems.append(f"{len(server_errors)} × 5xx")
    outcomes: Counter[str] = Counter()
    async with app.state.database.sessionmaker() as session:
        system_won = 0
        for arena in stage.arenas:
            observed = await observe(session, arena)
            found, names = check_arena(race, arena, calls, observed, stage.mark)
            problems += found
            outcomes[" + ".join(names) or "nobody"] += 1
            system_won += len(system_wins(race, observed, arena, stage.mark))
        problems += await check_offers(session)
    job_said = sum(call.moves for call in calls if call.arena is None)
    if job_said != system_won:
        problems.append(f"the job counted {job_said} moves, the event log shows {system_won}")
    record_property("winners", dict(outcomes))
    assert not problems, f"{race.label}:\n  " + "\n  ".join(problems)


def test_every_action_of_both_tables_is_raced() -> None:
    assert situations.unclassified() == []
    assert set(DUE_AT) == situations.DUE
    raced = {action.name for race in RACES for action in race.actions}
    performed = {
        action for (_, action), move in [*NEED.moves.items(), *PAIRING.moves.items()]
        if action not in situations.CONSEQUENCES and ("need", action) not in situations.ELSEWHERE
    }  # fmt: skip
    assert raced == performed
    for example in ("accept×decline", "accept×lapse", "accept×claim", "confirm×confirm",
                    "confirm×dispute", "deliver×release", "lapse×release", "cancel×claim",
                    "approve×cancel", "cancel×reject"):  # fmt: skip
        a, b = example.split("×")
        assert any(race.id.endswith(f":{a}-vs-{b}") for race in RACES), example


def test_the_need_and_its_pairing_move_together() -> None:
    # The actions both tables share are one request: where the need goes, the pairing beside
    # it goes to the pairing state beside the need's new state, or ends.
    for place in situations.situations():
        for action in place.actions:
            if action.need is None or action.pairing is None:
                continue
            beside = situations.BESIDE.get(action.need.to)
            assert action.pairing.to == beside or action.pairing.to in ENDED, (place, action)
