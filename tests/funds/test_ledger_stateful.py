"""A hypothesis state machine over the fund pool, on both engines.

Random online donations (to the pool and to crowdfunded needs), their notifications delivered,
duplicated and out of order, offline donations and their reversals, needs posted and allocated
from the pool, crowdfunding deadlines, credits given and lapsed. After every step: every
transaction balances, no protected account is below zero, each balance is the sum of its entries,
everything received is somewhere (pool, needs, credits, spent), the pool is its income less its
allocations (plus credits come back), and a replay changes nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Coroutine
from typing import Any, ClassVar

from fastapi import FastAPI
from httpx import AsyncClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import utcnow
from app.funds import crowdfunding
from app.funds.models import FundAccount, FundEntry, FundTransaction
from tests.conftest import empty_tables
from tests.factories import DONGKOU_VILLAGE, admin_headers, donor_headers, make_household, post_need
from tests.funds.ledger_checks import check_ledger
from tests.funds.simulator import Simulator

NOTIFY = "/api/v1/payments/notify/wechat_pay"
REACHED: set[str] = set()  # what the examples got to, so a run that never got there fails


class World:
    app: FastAPI
    client: AsyncClient
    engine: AsyncEngine
    simulator: Simulator
    loop: asyncio.AbstractEventLoop


class FundPool(RuleBasedStateMachine):
    world: ClassVar[World]

    def __init__(self) -> None:
        super().__init__()
        self.run(empty_tables(self.world.engine))
        self.county = self.run(admin_headers(self.world.app, self.world.client, "county", "430525"))
        self.village = self.run(
            admin_headers(self.world.app, self.world.client, "village", DONGKOU_VILLAGE)
        )
        self.donor = self.run(donor_headers(self.world.client))
        self.orders: list[str] = []
        self.sent: list[tuple[dict[str, str], bytes]] = []
        self.needs: list[int] = []  # crowdfunded
        self.offline: list[int] = []
        self.income = 0  # what the income accounts gave, as the answers told it
        self.allocated = 0
        self.vouchers = 0
        self.credits = False  # a deadline passed with money on a need: donors hold credits

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.world.loop).result(timeout=300)

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.run(self.world.client.post(path, json=body, headers=headers))

    @initialize()
    def a_county_with_money_and_needs(self) -> None:
        self.offline_income(300_000, replay=False)
        self.post_need(50_000, crowdfund=False)
        self.post_need(100_000, crowdfund=True)
        self.back_a_need(30_000)  # money on the need, so a deadline passing leaves credits

    # -- money in ------------------------------------------------------------------------------

    @rule(amount=st.integers(1, 60_000), to_need=st.booleans())
    def donate_online(self, amount: int, to_need: bool) -> None:
        target: dict[str, Any] = {"pool": "430525"}
        if to_need and self.needs:
            target = {"need_id": self.needs[amount % len(self.needs)]}
        body = {"amount_fen": amount, "target": target, "channel": "wechat_pay"}
        answer = self.post("/api/v1/donations", body, self.donor)
        assert answer.status_code in (201, 409), answer.text
        if answer.status_code == 201:
            # The donor pays: the provider writes its notification, delivered some time later.
            self.orders.append(answer.json()["out_trade_no"])
            self.sent.append(self.world.simulator.notification(self.orders[-1]))

    @precondition(lambda self: self.needs)
    @rule(amount=st.integers(1, 100_000))
    def back_a_need(self, amount: int) -> None:
        """A donor gives to a crowdfunded need and pays at once."""
        self.donate_online(amount, to_need=True)
        self.deliver(len(self.sent) - 1)

    @precondition(lambda self: self.orders)
    @rule(pick=st.integers(0, 10_000), fail=st.booleans())
    def provider_writes(self, pick: int, fail: bool) -> None:
        """The provider writes another notification of an order (a copy, or its closing)."""
        no = self.orders[pick % len(self.orders)]
        self.sent.append(
            self.world.simulator.notification(
                no, state="CLOSED" if fail and pick % 3 == 0 else "SUCCESS"
            )
        )

    @precondition(lambda self: self.sent)
    @rule(pick=st.integers(0, 10_000))
    def deliver(self, pick: int) -> None:
        """The provider delivers a notification it wrote (any of them: late, again, reordered)."""
        headers, body = self.sent[pick % len(self.sent)]
        before = self.run(check_ledger(self.world.engine))
        answer = self.run(self.world.client.post(NOTIFY, content=body, headers=headers))
        assert answer.status_code == 200, answer.text
        outcome = answer.json()["outcome"]
        after = self.run(check_ledger(self.world.engine))
        if outcome == "accepted":
            self.income += (
                after.get("clearing:wechat_pay", 0) * -1 - before.get("clearing:wechat_pay", 0) * -1
            )
        else:
            assert after == before, outcome  # a duplicate or a late one changes nothing

    @rule(amount=st.integers(1, 200_000), replay=st.booleans())
    def offline_income(self, amount: int, replay: bool) -> None:
        self.vouchers += 1
        body = {"county": "430525", "voucher_no": f"V-{self.vouchers}", "amount_fen": amount,
                "received_on": dt.date.today().isoformat()}  # fmt: skip
        answer = self.post("/api/v1/offline-donations", body, self.county)
        assert answer.status_code == 201, answer.text
        self.income += amount
        self.offline.append(answer.json()["id"])
        if replay:
            before = self.run(check_ledger(self.world.engine))
            again = self.post("/api/v1/offline-donations", body, self.county)
            assert again.json()["id"] == answer.json()["id"]
            assert self.run(check_ledger(self.world.engine)) == before

    @precondition(lambda self: self.offline)
    @rule(pick=st.integers(0, 10_000))
    def reverse_offline(self, pick: int) -> None:
        donation_id = self.offline.pop(pick % len(self.offline))
        answer = self.post(
            f"/api/v1/donations/{donation_id}/reverse", {"reason": "录入错误"}, self.county
        )
        assert answer.status_code in (200, 409), answer.text
        if answer.status_code == 200:
            self.income -= answer.json()["amount_fen"]

    # -- money out -----------------------------------------------------------------------------

    @rule(value=st.integers(10_000, 150_000), crowdfund=st.booleans())
    def post_need(self, value: int, crowdfund: bool) -> None:
        household = self.run(make_household(self.world.client, self.village))
        value = max(value, 100_000) if crowdfund else value
        need = self.run(
            post_need(self.world.client, self.village, household["id"], value_fen=value)
        )
        if crowdfund:
            deadline = (dt.date.today() + dt.timedelta(days=5)).isoformat()
            opened = self.post(
                "/api/v1/fundings", {"need_id": need["id"], "deadline": deadline}, self.village
            )
            assert opened.status_code == 201, opened.text
            self.needs.append(need["id"])

    @rule()
    def allocate(self) -> None:
        proposed = self.post("/api/v1/allocations", {"county": "430525"}, self.county)
        assert proposed.status_code == 201, proposed.text
        approved = self.post(
            f"/api/v1/allocations/{proposed.json()['id']}/approve", {}, self.county
        )
        assert approved.status_code in (200, 409), approved.text
        if approved.status_code == 200:
            self.allocated += approved.json()["total_fen"]

    @rule()
    def deadlines_pass(self) -> None:
        async def expire() -> None:
            async with self.world.app.state.database.write_sessionmaker.begin() as session:
                await crowdfunding.expire_fundings(
                    session, dt.date.today() + dt.timedelta(days=6), 30
                )

        self.run(expire())
        self.needs.clear()
        balances = self.run(check_ledger(self.world.engine))
        self.credits = any(v for k, v in balances.items() if k.startswith("credits:"))

    @precondition(lambda self: self.credits)
    @rule(amount=st.integers(1, 50_000))
    def give_credits(self, amount: int) -> None:
        body = {"amount_fen": amount, "target": {"pool": "430525"}, "channel": "credits"}
        answer = self.post("/api/v1/donations", body, self.donor)
        assert answer.status_code in (201, 409), answer.text

    @precondition(lambda self: self.credits)
    @rule()
    def credits_lapse(self) -> None:
        async def lapse() -> None:
            async with self.world.app.state.database.write_sessionmaker.begin() as session:
                await crowdfunding.lapse_credits(session, utcnow() + dt.timedelta(days=31))

        self.run(lapse())
        self.credits = False

    # -- what always holds ---------------------------------------------------------------------

    def teardown(self) -> None:
        balances = self.run(check_ledger(self.world.engine))
        kinds = self.run(pool_by_kind(self.world.engine))
        REACHED.update(k for k, v in kinds.items() if v)
        REACHED.update("credits" for k, v in balances.items() if k.startswith("credits:") and v)
        REACHED.update("disbursed" for k, v in balances.items() if k.startswith("need:") and v)

    @invariant()
    def the_ledger_holds(self) -> None:
        balances = self.run(check_ledger(self.world.engine))
        received = -sum(v for k, v in balances.items() if k.startswith(("clearing:", "offline:")))
        held = sum(
            v
            for k, v in balances.items()
            if k.startswith(("pool:", "need:", "credits:", "disbursed:"))
        )
        assert received == held == self.income
        by_kind = self.run(pool_by_kind(self.world.engine))
        assert balances.get("pool:430525", 0) == sum(by_kind.values())
        assert -by_kind.get("allocation", 0) == self.allocated
        assert by_kind.get("income", 0) + by_kind.get("reversal", 0) <= self.income + self.allocated


async def pool_by_kind(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(FundTransaction.kind, func.sum(FundEntry.amount_fen))
            .join(FundEntry, FundEntry.transaction_id == FundTransaction.id)
            .join(FundAccount, FundAccount.id == FundEntry.account_id)
            .where(FundAccount.key == "pool:430525")
            .group_by(FundTransaction.kind)
        )
        return {kind: int(total) for kind, total in rows.all()}


async def test_the_ledger_holds_under_random_steps(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine, pay: Simulator
) -> None:
    world = World()
    world.app, world.client, world.engine, world.simulator = app, client, engine, pay
    world.loop = asyncio.get_running_loop()
    FundPool.world = world
    chosen = settings(
        max_examples=8,
        stateful_step_count=20,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    await asyncio.to_thread(run_state_machine_as_test, FundPool, settings=chosen)
    assert {"allocation", "credit_expiry", "credit_gift", "income"} <= REACHED, REACHED
