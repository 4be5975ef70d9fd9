"""The fund pool's races on PostgreSQL, against a uvicorn of three workers.

Fifty copies of one payment notification at once post one income entry. Then every pair of
actions from one state of the donation's, the funding's and the allocation's transition tables
(:mod:`app.funds.states`) is fired at once, each side twice: exactly one call wins, the others
lose with 409 problem details (a notification that loses is acknowledged as a duplicate or a
late one, so the provider stops sending it), nothing answers 5xx, and the ledger's invariants
hold afterwards. The pairs are generated from the tables, so a new action is raced without a
new test.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.core.errors import PROBLEM_MEDIA_TYPE
from app.core.settings import Settings
from app.core.transitions import TransitionTable
from app.funds import crowdfunding
from app.funds.states import TABLES
from tests.factories import DONGKOU_VILLAGE, admin_headers, donor_headers, make_household, post_need
from tests.funds.ledger_checks import check_ledger
from tests.funds.simulator import Simulator
from tests.live import free_port, server_environment
from tests.races.situations import ELSEWHERE

NOTIFY = "/api/v1/payments/notify/wechat_pay"
CALLS_PER_SIDE = 2
# A move that cannot be set up from outside: approval executes in its own transaction.
UNREACHABLE = {("allocation", "approved")}


@pytest.fixture(scope="module")
def live(
    settings: Settings, simulator: Simulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if settings.is_sqlite:
        pytest.skip("races need concurrent writers: PostgreSQL only")
    port_hint = free_port()
    env = {
        **simulator.environment(f"http://127.0.0.1:{port_hint}{NOTIFY}"),
        "AIXIN_DB_POOL_SIZE": "10",
        "AIXIN_DB_MAX_OVERFLOW": "2",
        "AIXIN_DB_POOL_TIMEOUT_SECONDS": "60",
    }
    log = tmp_path_factory.mktemp("funds-races") / "server.log"
    yield from serve(settings, log, env)


def serve(settings: Settings, log_path: Path, env: dict[str, str]) -> Iterator[str]:
    """tests.live's server, given two minutes to start on a machine that others keep busy."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--workers", "3",
               "--no-access-log", "--log-level", "warning"]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=server_environment(settings) | env, stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, f"the server exited with {process.returncode}"
                assert time.monotonic() < deadline, "the server did not become healthy in time"
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
async def http(live: str, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=live, limits=limits, timeout=120) as session:
        yield session


async def new_order(
    http: httpx.AsyncClient, donor: dict[str, str], amount: int, target: dict[str, Any]
) -> dict[str, Any]:
    body = {"amount_fen": amount, "target": target, "channel": "wechat_pay"}
    response = await http.post("/api/v1/donations", json=body, headers=donor)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_fifty_copies_of_one_notification_post_one_income_entry(
    http: httpx.AsyncClient, simulator: Simulator, engine: Any
) -> None:
    donor = await donor_headers(http)
    created = await new_order(http, donor, 24_897_800, {"pool": "430525"})
    headers, body = simulator.notification(created["out_trade_no"])
    answers = await asyncio.gather(
        *(http.post(NOTIFY, content=body, headers=headers) for _ in range(50))
    )
    assert [a.status_code for a in answers] == [200] * 50, [
        a.text for a in answers if a.status_code != 200
    ]
    outcomes = sorted(a.json()["outcome"] for a in answers)
    assert outcomes == ["accepted"] + ["duplicate"] * 49
    balances = await check_ledger(engine)
    assert balances["pool:430525"] == 24_897_800
    assert balances["clearing:wechat_pay"] == -24_897_800


# -- every pair of actions of the tables --------------------------------------------------------


@dataclass
class Arena:
    """One record in the race's state, and what its actions need."""

    record_id: int
    donor: dict[str, str]
    admins: list[dict[str, str]]
    out_trade_no: str = ""
    deadline: dt.date | None = None
    orders: list[str] = field(default_factory=list)  # half the need each, made before the race


@dataclass
class Answer:
    won: bool
    problem: str | None  # what is wrong with a losing answer, if anything


def pairs() -> list[tuple[str, str, str, str]]:
    found = []
    for table in TABLES:
        for state in table.states:
            if (table.entity, state) in UNREACHABLE:
                continue
            actions = sorted({a for (s, a) in table.moves if s == state})
            for first, second in itertools.combinations_with_replacement(actions, 2):
                found.append((table.entity, state, first, second))
    return found


def _table(entity: str) -> TransitionTable:
    return next(table for table in TABLES if table.entity == entity)


class Stage:
    def __init__(self, app: FastAPI, http: httpx.AsyncClient, simulator: Simulator) -> None:
        self.app, self.http, self.simulator = app, http, simulator

    async def admins(self, role: str, scope: str) -> list[dict[str, str]]:
        return [await admin_headers(self.app, self.http, role, scope) for _ in range(2)]

    async def pay(self, out_trade_no: str) -> None:
        headers, body = self.simulator.notification(out_trade_no)
        answer = await self.http.post(NOTIFY, content=body, headers=headers)
        assert answer.json()["outcome"] == "accepted", answer.text

    async def donation(self, state: str) -> Arena:
        donor = await donor_headers(self.http)
        created = await new_order(self.http, donor, 10_000, {"pool": "430525"})
        if state == "paid":
            await self.pay(created["out_trade_no"])
        return Arena(
            created["id"], donor, await self.admins("county", "430525"), created["out_trade_no"]
        )

    async def funding(self, state: str) -> Arena:
        village = await self.admins("village", DONGKOU_VILLAGE)
        household = await make_household(self.http, village[0])
        need = await post_need(
            self.http, village[0], household["id"], category="health", value_fen=100_000
        )
        deadline = dt.date.today() + dt.timedelta(days=5)
        opened = await self.http.post(
            "/api/v1/fundings", json={"need_id": need["id"], "deadline": deadline.isoformat()},
            headers=village[0],
        )  # fmt: skip
        assert opened.status_code == 201, opened.text
        donor = await donor_headers(self.http)
        arena = Arena(opened.json()["id"], donor, village, deadline=deadline)
        arena.out_trade_no = str(need["id"])
        if state == "open":
            for _ in range(2 * CALLS_PER_SIDE):
                half = await new_order(self.http, donor, 50_000, {"need_id": need["id"]})
                arena.orders.append(half["out_trade_no"])
        if state in ("funded", "purchased"):
            paid = await new_order(self.http, donor, 100_000, {"need_id": need["id"]})
            await self.pay(paid["out_trade_no"])
        if state == "purchased":
            bought = await self.http.post(
                f"/api/v1/fundings/{arena.record_id}/purchase", json={"voucher_no": "FP-1"},
                headers=village[0],
            )  # fmt: skip
            assert bought.status_code == 200, bought.text
        return arena

    async def allocation(self, state: str) -> Arena:
        county = await self.admins("county", "430525")
        village = await admin_headers(self.app, self.http, "village", DONGKOU_VILLAGE)
        household = await make_household(self.http, village)
        await post_need(self.http, village, household["id"], category="goods", value_fen=20_000)
        income = {"county": "430525", "voucher_no": f"R-{free_port()}", "amount_fen": 20_000,
                  "received_on": dt.date.today().isoformat()}  # fmt: skip
        assert (
            await self.http.post("/api/v1/offline-donations", json=income, headers=county[0])
        ).status_code == 201
        proposed = await self.http.post(
            "/api/v1/allocations", json={"county": "430525"}, headers=county[0]
        )
        assert proposed.status_code == 201, proposed.text
        return Arena(proposed.json()["id"], {}, county)

    async def setup(self, entity: str, state: str) -> Arena:
        made: Callable[[str], Awaitable[Arena]] = getattr(self, entity)
        return await made(state)


def http_answer(response: httpx.Response) -> Answer:
    if response.status_code < 300:
        return Answer(True, None)
    if response.status_code != 409:
        return Answer(False, f"{response.status_code} {response.text[:200]}")
    if not response.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE):
        return Answer(False, "409 is not problem details")
    return Answer(False, None)


def notify_answer(response: httpx.Response, winning: str) -> Answer:
    if response.status_code != 200:
        return Answer(False, f"{response.status_code} {response.text[:200]}")
    outcome = response.json()["outcome"]
    if outcome == winning:
        return Answer(True, None)
    return Answer(False, None if outcome in ("duplicate", "late") else f"outcome {outcome}")


async def act(stage: Stage, entity: str, action: str, arena: Arena, n: int) -> Answer:
    http, admin = stage.http, arena.admins[n % len(arena.admins)]
    if entity == "donation" and action in ("pay", "fail"):
        state = "SUCCESS" if action == "pay" else "CLOSED"
        headers, body = stage.simulator.notification(arena.out_trade_no, state=state)
        winning = "accepted" if action == "pay" else "failed_trade"
        return notify_answer(await http.post(NOTIFY, content=body, headers=headers), winning)
    if entity == "donation":
        body = {"reason": "录入错误"} if action == "reverse" else None
        who = arena.donor if action == "close" else admin
        return http_answer(
            await http.post(f"/api/v1/donations/{arena.record_id}/{action}", json=body, headers=who)
        )
    if entity == "funding" and action == "fund":
        # Half the need each: the payment that completes it funds it; one past it is credits.
        headers, body = stage.simulator.notification(arena.orders.pop())
        answer = notify_answer(await http.post(NOTIFY, content=body, headers=headers), "accepted")
        return Answer(False, answer.problem)  # its win is read from the funding below
    if entity == "funding" and action == "expire":
        assert arena.deadline is not None
        async with stage.app.state.database.write_sessionmaker.begin() as session:
            moved = await crowdfunding.expire_fundings(
                session, arena.deadline + dt.timedelta(days=1), 30
            )
        return Answer(moved == 1, None)
    if entity == "funding":
        body = {"voucher_no": "FP-2"} if action == "purchase" else None
        return http_answer(
            await http.post(
                f"/api/v1/fundings/{arena.record_id}/{action}", json=body, headers=admin
            )
        )
    return http_answer(
        await http.post(f"/api/v1/allocations/{arena.record_id}/{action}", json={}, headers=admin)
    )


@pytest.mark.parametrize(("entity", "state", "first", "second"), pairs())
async def test_every_pair_of_actions_from_one_state_has_one_winner(
    app: FastAPI,
    http: httpx.AsyncClient,
    simulator: Simulator,
    engine: Any,
    entity: str,
    state: str,
    first: str,
    second: str,
) -> None:
    stage = Stage(app, http, simulator)
    arena = await stage.setup(entity, state)
    sides = [first] * CALLS_PER_SIDE + [second] * CALLS_PER_SIDE
    answers = await asyncio.gather(*(act(stage, entity, a, arena, n) for n, a in enumerate(sides)))
    assert [a.problem for a in answers if a.problem] == []
    winners = [action for action, answer in zip(sides, answers, strict=True) if answer.won]
    if (entity, first) == ("funding", "fund") or (entity, second) == ("funding", "fund"):
        # A payment's win is the funding's state; the job says whether it expired it.
        read = (await http.get(f"/api/v1/fundings/{arena.record_id}", headers=arena.donor)).json()
        funded = read["status"] == "funded"
        assert len(winners) + int(funded) == 1, (read, winners)
        balances = await check_ledger(engine)
        assert balances[f"need:{arena.out_trade_no}"] == (100_000 if funded else 0)
    else:
        assert len(winners) == 1, (winners, answers)
        move = _table(entity).moves[(state, winners[0])]
        assert move.to != state
    if entity == "funding" and state == "purchased":
        await check_settled(http, arena, settled=winners == ["confirm"])
    await check_ledger(engine)


async def check_settled(http: httpx.AsyncClient, arena: Arena, *, settled: bool) -> None:
    """The funding's confirmation settles its need once (the need's move made elsewhere)."""
    need_id, admin = arena.out_trade_no, arena.admins[0]
    need = (await http.get(f"/api/v1/needs/{need_id}", headers=admin)).json()
    events = (await http.get(f"/api/v1/needs/{need_id}/events", headers=admin)).json()["items"]
    settles = [(e["from_status"], e["to_status"]) for e in events if e["action"] == "settle"]
    if settled:
        assert (need["status"], settles) == ("fulfilled", [("published", "fulfilled")]), need
    else:
        assert (need["status"], settles) == ("published", []), need


def test_the_needs_moves_made_here_are_raced_here() -> None:
    # The need's race harness leaves these to this module (tests/races/situations.ELSEWHERE).
    assert {
        action for (_, action), where in ELSEWHERE.items() if where.endswith("funds/test_races.py")
    } == {"settle"}
    assert ("purchased", "confirm") in _table("funding").moves


async def test_claims_and_crowdfundings_of_one_need_at_once_have_one_winner(
    app: FastAPI, http: httpx.AsyncClient, engine: Any
) -> None:
    # Money and goods never both pay for one need: a crowdfunding's opening is a compare-and-set
    # on the need, as a claim is, so of three donors claiming and three fundings opened at once
    # exactly one wins.
    village = await admin_headers(app, http, "village", DONGKOU_VILLAGE)
    household = await make_household(http, village)
    need = await post_need(http, village, household["id"], category="health", value_fen=100_000)
    donors = [await donor_headers(http) for _ in range(3)]
    deadline = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    funding = {"need_id": need["id"], "deadline": deadline}
    calls = [http.post(f"/api/v1/needs/{need['id']}/claim", headers=donor) for donor in donors]
    calls += [http.post("/api/v1/fundings", json=funding, headers=village) for _ in range(3)]
    answers = [http_answer(response) for response in await asyncio.gather(*calls)]
    assert [answer.problem for answer in answers if answer.problem] == []
    assert sum(answer.won for answer in answers) == 1, answers
    claimed = any(answer.won for answer in answers[:3])
    events = (await http.get(f"/api/v1/needs/{need['id']}/events", headers=village)).json()
    claims = [e for e in events["items"] if (e["entity"], e["action"]) == ("need", "claim")]
    assert len(claims) == int(claimed), claims
    late = await http.post(f"/api/v1/needs/{need['id']}/claim", headers=donors[0])
    assert late.status_code == 409
    assert late.json()["code"] == ("invalid_transition" if claimed else "need_funded")
    await check_ledger(engine)
