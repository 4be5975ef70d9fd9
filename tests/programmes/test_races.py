"""Every pair of actions on one programme pairing, and on one sponsorship payment, raced on
PostgreSQL.

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
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.errors import PROBLEM_MEDIA_TYPE
from app.core.settings import Settings
from app.funds.models import FundTransaction
from app.programmes.states import PAYMENT, TABLE
from tests.factories import DONGKOU_VILLAGE, admin_headers, donor_headers
from tests.funds.ledger_checks import check_ledger
from tests.live import live_server
from tests.programmes.conftest import SPONSORSHIP, TODAY, create, enrol, run, volunteer

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


# -- sponsorship payments ----------------------------------------------------------------------
# Two receipts, two disbursements, and a receipt against the pairing's termination (which cancels
# the payments still scheduled), fired at once at a few payments by different county admins: on
# each payment at most one step of each kind wins, every other call is a 409 problem, and the
# ledger holds exactly the postings of the winners, balanced.

PAYMENTS_PER_RACE = 3
PAYMENT_LOST = {"invalid_transition", "sponsorship_payment_changed", "programme_pairing_changed"}
BODIES = {
    "receive": {"voucher_no": "YZY-R", "received_on": TODAY.isoformat()},
    "disburse": {"voucher_no": "YZF-R", "disbursed_on": TODAY.isoformat()},
}
# (the payment's state before, one side's action, the other's): the pairing's "terminate".
PAYMENT_RACES = [
    ("scheduled", "receive", "receive"),
    ("received", "disburse", "disburse"),
    ("scheduled", "receive", "terminate"),
]


async def payments_due(
    app: FastAPI, http: httpx.AsyncClient, county: dict[str, str]
) -> list[tuple[int, int]]:
    """(pairing, payment) of enough new sponsorship pairings for every race."""
    village = await admin_headers(app, http, "village", DONGKOU_VILLAGE)
    programme = await create(http, county, SPONSORSHIP)
    total = PAYMENTS_PER_RACE * len(PAYMENT_RACES)
    for _ in range(total):
        await enrol(http, village, programme, grade=4)
    sponsor = await donor_headers(http)
    await volunteer(http, sponsor, programme, {"amount_fen": 100_000 * total, "max_students": 50})
    found = []
    for pairing in (await run(http, county, programme))["pairings"]:
        listed = await http.get(f"/api/v1/programme-pairings/{pairing['id']}/payments",
                                headers=county)  # fmt: skip
        found.append((pairing["id"], listed.json()["items"][0]["id"]))
    assert len(found) == total
    return found


def url(pairing_id: int, payment_id: int, action: str) -> str:
    path = f"/api/v1/programme-pairings/{pairing_id}"
    return f"{path}/{action}" if action == "terminate" else f"{path}/payments/{payment_id}/{action}"


def refused(action: str, response: httpx.Response) -> str | None:
    """What is wrong with a losing call (nothing, if it is a 409 problem of a lost race)."""
    problem = response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    if response.status_code == 409 and problem and response.json().get("code") in PAYMENT_LOST:
        return None
    return f"{action} got {response.status_code} {response.text[:200]}"


def judge(state: str, race: tuple[str, str], won: list[str], status: str) -> list[str]:
    """What is wrong with one payment's winners and the status it was left in."""
    steps = [action for action in won if action != "terminate"]
    problems = []
    if "terminate" in race and won.count("terminate") != 1:
        problems.append(f"the pairing was terminated {won.count('terminate')} times")
    if len(steps) > 1 or ("terminate" not in race and len(steps) != 1):
        problems.append(f"winners {won}")
    expected = PAYMENT.moves[(state, steps[0])].to if steps else "cancelled"
    if status != expected:
        problems.append(f"left {status}, expected {expected} after {won}")
    return problems


async def postings(engine: AsyncEngine, payment_ids: list[int]) -> list[str]:
    keys = [
        f"sponsorship-{kind}:{payment_id}"
        for payment_id in payment_ids
        for kind in ("receipt", "disbursement")
    ]
    async with engine.connect() as connection:
        found = await connection.execute(
            select(FundTransaction.business_key).where(FundTransaction.business_key.in_(keys))
        )
        return sorted(found.scalars().all())


async def test_two_admins_recording_one_payment_have_one_winner_and_one_posting(
    app: FastAPI, http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    county = await admin_headers(app, http, "county", "430525")
    due = await payments_due(app, http, county)
    admins = [await admin_headers(app, http, "county", "430525") for _ in range(ADMINS)]
    problems: list[str] = []
    expected_keys: list[str] = []
    raced = [payment_id for _, payment_id in due]
    for state, first, second in PAYMENT_RACES:
        arenas, due = due[:PAYMENTS_PER_RACE], due[PAYMENTS_PER_RACE:]
        if state == "received":
            for pairing_id, payment_id in arenas:
                taken = await http.post(url(pairing_id, payment_id, "receive"),
                                        json=BODIES["receive"], headers=county)  # fmt: skip
                assert taken.status_code == 200, taken.text
        calls = [
            (arena, action, admins[n % ADMINS])
            for arena in arenas
            for n, action in enumerate([first] * CALLS_PER_SIDE + [second] * CALLS_PER_SIDE)
        ]
        responses = await asyncio.gather(
            *(
                http.post(url(*arena, action), json=BODIES.get(action), headers=who)
                for arena, action, who in calls
            )
        )
        for arena in arenas:
            mine = [(c[1], r) for c, r in zip(calls, responses, strict=True) if c[0] == arena]
            won = [action for action, r in mine if r.status_code == 200]
            lost = [refused(action, r) for action, r in mine if r.status_code != 200]
            listed = await http.get(f"/api/v1/programme-pairings/{arena[0]}/payments",
                                    headers=county)  # fmt: skip
            status = listed.json()["items"][0]["status"]
            race = f"{state}: {first} / {second} on payment {arena[1]}"
            found = [p for p in lost if p] + judge(state, (first, second), won, status)
            problems += [f"{race}: {p}" for p in found]
            if status in ("received", "disbursed"):
                expected_keys.append(f"sponsorship-receipt:{arena[1]}")
            if status == "disbursed":
                expected_keys.append(f"sponsorship-disbursement:{arena[1]}")
    assert problems == []
    await check_ledger(engine)
    assert await postings(engine, raced) == sorted(expected_keys)
