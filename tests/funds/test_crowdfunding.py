"""Crowdfunding a need: funded at exactly 100%, bought and received; or expired into credits,
given again, and lapsed into the county's pool."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import utcnow
from app.funds import crowdfunding
from app.needs import lifecycle as need_lifecycle
from tests.factories import (
    DONGKOU_VILLAGE,
    admin_headers,
    assert_problem,
    donor_headers,
    make_household,
    post_need,
)
from tests.funds.ledger_checks import check_ledger
from tests.funds.simulator import Simulator
from tests.funds.test_donations import notify, order


async def crowdfunded(app: FastAPI, client: AsyncClient, value: int = 100_000) -> tuple[dict, dict]:
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    household = await make_household(client, village)
    need = await post_need(client, village, household["id"], category="health", value_fen=value)
    deadline = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    opened = await client.post(
        "/api/v1/fundings", json={"need_id": need["id"], "deadline": deadline}, headers=village
    )
    assert opened.status_code == 201, opened.text
    return opened.json(), village


async def test_a_need_is_funded_at_exactly_its_value_and_the_rest_is_credits(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine, pay: Simulator, donor: dict[str, str]
) -> None:
    funding, village = await crowdfunded(app, client)
    need_id = funding["need_id"]
    first = await order(client, donor, 60_000, need_id=need_id)
    second = await order(client, donor, 60_000, need_id=need_id)
    for created in (first, second):
        assert (await notify(client, pay, created["out_trade_no"])).json()["outcome"] == "accepted"
    read = (await client.get(f"/api/v1/fundings/{funding['id']}", headers=donor)).json()
    assert (read["status"], read["raised_fen"], read["target_fen"]) == ("funded", 100_000, 100_000)
    more = {"amount_fen": 1, "target": {"need_id": need_id}, "channel": "wechat_pay"}
    assert_problem(await client.post("/api/v1/donations", json=more, headers=donor), 409,
                   "funding_not_open")  # fmt: skip
    balances = await check_ledger(engine)
    assert balances[f"need:{need_id}"] == 100_000
    assert sum(v for k, v in balances.items() if k.startswith("credits:")) == 20_000
    bought = await client.post(
        f"/api/v1/fundings/{funding['id']}/purchase", json={"voucher_no": "FP-2026-77"},
        headers=village,
    )  # fmt: skip
    assert bought.status_code == 200, bought.text
    assert bought.json()["status"] == "purchased"
    assert_problem(
        await client.post(
            f"/api/v1/needs/{need_id}/cancel", json={"reason": "已搬迁"}, headers=village
        ),
        409, "need_funded",
    )  # fmt: skip
    done = await client.post(f"/api/v1/fundings/{funding['id']}/confirm", headers=village)
    assert done.json()["status"] == "completed"
    # The need is fulfilled by what its money bought, and counts in the county's rate.
    need = (await client.get(f"/api/v1/needs/{need_id}", headers=village)).json()
    assert (need["status"], need["funding_source"]) == ("fulfilled", "crowdfunding")
    events = (await client.get(f"/api/v1/needs/{need_id}/events", headers=village)).json()
    settled = [e for e in events["items"] if e["action"] == "settle"]
    assert [(e["from_status"], e["to_status"]) for e in settled] == [("published", "fulfilled")]
    again = await client.post(f"/api/v1/fundings/{funding['id']}/confirm", headers=village)
    assert_problem(again, 409, "invalid_transition")
    balances = await check_ledger(engine)
    assert (balances[f"need:{need_id}"], balances["disbursed:430525"]) == (0, 100_000)
    public = await client.get(
        "/api/v1/disclosure/430525", params={"period": str(dt.date.today().year)}
    )
    assert public.status_code == 200, public.text
    body = public.json()
    assert [d["need_id"] for d in body["disbursements"]] == [need_id]
    assert body["disbursements"][0]["village_code"] == DONGKOU_VILLAGE
    assert sum(row["amount_fen"] for row in body["income"]) == 120_000
    assert "刘德华" not in public.text


async def test_an_expired_crowdfunding_becomes_credits_then_the_pool(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine, pay: Simulator, donor: dict[str, str]
) -> None:
    funding, _ = await crowdfunded(app, client)
    paid = await order(client, donor, 30_000, need_id=funding["need_id"])
    await notify(client, pay, paid["out_trade_no"])
    database = app.state.database
    after_deadline = dt.date.today() + dt.timedelta(days=11)
    async with database.write_sessionmaker.begin() as session:
        assert await crowdfunding.expire_fundings(session, after_deadline, 30) == 1
    read = (await client.get(f"/api/v1/fundings/{funding['id']}", headers=donor)).json()
    assert read["status"] == "expired"
    held = {k: v for k, v in (await check_ledger(engine)).items() if k.startswith("credits:")}
    assert list(held.values()) == [30_000]
    gift = {"amount_fen": 10_000, "target": {"pool": "430525"}, "channel": "credits"}
    given = await client.post("/api/v1/donations", json=gift, headers=donor)
    assert given.status_code == 201, given.text
    assert given.json()["status"] == "paid"
    too_much = {**gift, "amount_fen": 20_001}
    assert_problem(await client.post("/api/v1/donations", json=too_much, headers=donor), 409,
                   "insufficient_credits")  # fmt: skip
    async with database.write_sessionmaker.begin() as session:
        assert await crowdfunding.lapse_credits(session, utcnow() + dt.timedelta(days=31)) == 1
    balances = await check_ledger(engine)
    assert balances["pool:430525"] == 30_000
    assert balances[f"need:{funding['need_id']}"] == 0
    stats = (await client.get("/api/v1/stats/funds", params={"county": "430525"})).json()
    assert stats["online_fen"] == 30_000  # credits given again are not income twice


async def test_a_crowdfunded_need_is_neither_claimed_nor_matched_until_its_crowdfunding_expires(
    app: FastAPI, client: AsyncClient, pay: Simulator, donor: dict[str, str]
) -> None:
    funding, _ = await crowdfunded(app, client)
    need_id = funding["need_id"]
    goods = await donor_headers(client)
    refused = assert_problem(
        await client.post(f"/api/v1/needs/{need_id}/claim", headers=goods), 409, "need_funded"
    )
    assert refused["funding_source"] == "crowdfunding"
    seen = (await client.get(f"/api/v1/needs/{need_id}", headers=goods)).json()
    assert (seen["status"], seen["funding_source"]) == ("published", "crowdfunding")
    county = await admin_headers(app, client, "county", "430525")
    offer = {
        "category": "health", "title": "药品", "description": "常用药品", "capacity": 1,
        "region_preference": "430525",
    }  # fmt: skip
    assert (await client.post("/api/v1/offers", json=offer, headers=goods)).status_code == 201
    dry_run = {"scope": "430525", "dry_run": True}
    matched = await client.post("/api/v1/matching/runs", json=dry_run, headers=county)
    assert matched.status_code == 201, matched.text
    assert matched.json()["pairs"] == []
    events = (await client.get(f"/api/v1/needs/{need_id}/events", headers=county)).json()
    assert all(event["action"] != "claim" for event in events["items"])

    # The need's own deadline waits for its crowdfunding.
    long_after = dt.date.today() + dt.timedelta(days=400)
    async with app.state.database.write_sessionmaker.begin() as session:
        assert await need_lifecycle.expire_needs(session, long_after) == 0
    async with app.state.database.write_sessionmaker.begin() as session:
        after_deadline = dt.date.today() + dt.timedelta(days=11)
        assert await crowdfunding.expire_fundings(session, after_deadline, 30) == 1
    rematched = await client.post("/api/v1/matching/runs", json=dry_run, headers=county)
    assert [pair["need_id"] for pair in rematched.json()["pairs"]] == [need_id]
    seen = (await client.get(f"/api/v1/needs/{need_id}", headers=goods)).json()
    assert seen["funding_source"] is None
    claimed = await client.post(f"/api/v1/needs/{need_id}/claim", headers=goods)
    assert claimed.status_code == 201, claimed.text


async def test_a_need_claimed_first_is_not_crowdfunded(app: FastAPI, client: AsyncClient) -> None:
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    household = await make_household(client, village)
    need = await post_need(client, village, household["id"], category="health", value_fen=100_000)
    goods = await donor_headers(client)
    assert (
        await client.post(f"/api/v1/needs/{need['id']}/claim", headers=goods)
    ).status_code == 201
    deadline = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    opened = await client.post(
        "/api/v1/fundings", json={"need_id": need["id"], "deadline": deadline}, headers=village
    )
    assert_problem(opened, 409, "need_not_published")
