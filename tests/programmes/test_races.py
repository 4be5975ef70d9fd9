"""Every pair of actions on one programme pairing, raced on PostgreSQL (a sponsorship payment's
are raced in tests/races/test_payments.py, generated from the payment's table).

The pairs are generated from the pairing's transition table (:mod:`app.programmes.states`):
for each state, every two of its actions (an action with itself too) are fired at once at a
few pairings in that state, each side more than once, by different admins, through a uvicorn
with several worker processes. Every move is a compare-and-set on the status and the version,
so the calls that win on a pairing took turns (versions 2, 3, … with no repeat) and, in that
order, each is a move the table allows (:func:`order_of`); every other call is a 409 problem;
nothing is a 5xx.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Iterable

import httpx
import pytest
from fastapi import FastAPI

from app.core.errors import PROBLEM_MEDIA_TYPE
from app.core.settings import Settings
from app.programmes.states import TABLE
from tests.factories import DONGKOU_VILLAGE, admin_headers, donor_headers
from tests.live import live_server
from tests.programmes.conftest import SPONSORSHIP, create, enrol, run, volunteer

pytestmark = pytest.mark.postgresql_only

PAIRINGS_PER_RACE = 2
CALLS_PER_SIDE = 2
ADMINS = 3
# Worker processes of the server (as tests/races); fewer on a machine too busy to start three
# within the live server's deadline.
WORKERS = int(os.environ.get("AIXIN_RACE_WORKERS", "3"))
LOST = {"invalid_transition", "programme_pairing_changed"}


def races() -> list[tuple[str, str, str]]:
    """(state, first action, second action) for every two actions a state allows."""
    found = []
    for state in TABLE.states:
        actions = TABLE.allowed(state)
        found += [(state, a, b) for a, b in itertools.combinations_with_replacement(actions, 2)]
    return found


RACES = races()
# The pairings' version before a race: a run makes them active (1), one pause paused (2).
VERSION_BEFORE = {"active": 1, "paused": 2}


@pytest.fixture(scope="module")
def base_url(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterable[str]:
    if settings.is_sqlite:
        pytest.skip("races need concurrent writers: PostgreSQL only")
    log = tmp_path_factory.mktemp("programme-races") / "server.log"
    with live_server(settings, log, workers=WORKERS) as url:
        yield url


@pytest.fixture
async def http(base_url: str, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as live:
        yield live


async def pairings_in_states(app: FastAPI, http: httpx.AsyncClient) -> dict[str, list[int]]:
    """Enough sponsorship pairings for every race, in each state a race starts from."""
    county = await admin_headers(app, http, "county", "430525")
    village = await admin_headers(app, http, "village", DONGKOU_VILLAGE)
    programme = await create(http, county, SPONSORSHIP)
    wanted = {
        state: PAIRINGS_PER_RACE * sum(r[0] == state for r in RACES) for state in TABLE.states
    }
    total = sum(wanted.values())
    for _ in range(total):
        await enrol(http, village, programme, grade=4)
    sponsor = await donor_headers(http)
    await volunteer(http, sponsor, programme, {"amount_fen": 100_000 * total, "max_students": 50})
    ids = [pairing["id"] for pairing in (await run(http, county, programme))["pairings"]]
    assert len(ids) == total
    by_state: dict[str, list[int]] = {}
    for state, count in wanted.items():
        by_state[state], ids = ids[:count], ids[count:]
        if state == "paused":
            for pairing_id in by_state[state]:
                moved = await http.post(f"/api/v1/programme-pairings/{pairing_id}/pause",
                                        headers=county)  # fmt: skip
                assert moved.status_code == 200, moved.text
    return by_state


def order_of(state: str, winners: list[tuple[str, httpx.Response]], version: int) -> list[str]:
    """What is wrong with the winners on one pairing (nothing, if all is well).

    Each move is a compare-and-set on the version, so the winners took turns: their answers'
    versions follow ``version`` without a gap or a repeat, and in that order each move is one the
    table allows from the state the one before left, ending where the answer says. Two calls
    that overlap in time have one winner; a call that came after another's commit may win too,
    as a move of the table from the new state (renew, then renew again).
    """
    if not winners:
        return ["no call won"]
    ordered = sorted(winners, key=lambda winner: int(winner[1].json()["version"]))
    versions = [int(response.json()["version"]) for _, response in ordered]
    if versions != list(range(version + 1, version + 1 + len(ordered))):
        return [f"versions {versions}: two moves from one version"]
    problems = []
    for action, response in ordered:
        move = TABLE.moves.get((state, action))
        if move is None or response.json()["status"] != move.to:
            problems.append(f"{action} from {state} answered {response.json()['status']}")
            break
        state = move.to
    return problems


async def test_every_pair_of_actions_takes_turns_and_losers_get_409(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    by_state = await pairings_in_states(app, http)
    admins = [await admin_headers(app, http, "county", "430525") for _ in range(ADMINS)]
    problems: list[str] = []
    for state, first, second in RACES:
        arenas, by_state[state] = (
            by_state[state][:PAIRINGS_PER_RACE],
            by_state[state][PAIRINGS_PER_RACE:],
        )
        calls = [
            (pairing_id, action, admins[n % ADMINS])
            for pairing_id in arenas
            for n, action in enumerate([first] * CALLS_PER_SIDE + [second] * CALLS_PER_SIDE)
        ]
        responses = await asyncio.gather(
            *(
                http.post(f"/api/v1/programme-pairings/{pairing_id}/{action}", headers=who)
                for pairing_id, action, who in calls
            )
        )
        race = f"{state}: {first} / {second}"
        for pairing_id in arenas:
            mine = [(c[1], r) for c, r in zip(calls, responses, strict=True) if c[0] == pairing_id]
            winners = [(action, r) for action, r in mine if r.status_code == 200]
            problems += [
                f"{race} on pairing {pairing_id}: {p}"
                for p in order_of(state, winners, VERSION_BEFORE[state])
            ]
            for action, lost in mine:
                if lost.status_code == 200:
                    continue
                body = lost.json() if lost.status_code == 409 else {}
                if (
                    lost.status_code != 409
                    or not lost.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
                    or body.get("code") not in LOST
                ):
                    problems.append(f"{race}: {action} got {lost.status_code} {lost.text[:200]}")
    assert problems == []
