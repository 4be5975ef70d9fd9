"""Online donations through the WeChat Pay simulator, offline ones, receipts and reversals."""

from __future__ import annotations

import datetime as dt
import time

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.funds.models import PaymentNotification
from app.funds.reconcile import reconcile
from tests.factories import assert_problem
from tests.funds.ledger_checks import check_ledger
from tests.funds.simulator import Simulator, new_key

NOTIFY = "/api/v1/payments/notify/wechat_pay"


async def order(client: AsyncClient, donor: dict[str, str], amount: int, **target: object) -> dict:
    body = {"amount_fen": amount, "target": target or {"pool": "430525"}, "channel": "wechat_pay"}
    response = await client.post("/api/v1/donations", json=body, headers=donor)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "pending"
    assert created["code_url"].startswith("weixin://")
    return dict(created)


async def notify(client: AsyncClient, pay: Simulator, out_trade_no: str, **options: object):  # type: ignore[no-untyped-def]
    headers, body = pay.notification(out_trade_no, **options)  # type: ignore[arg-type]
    return await client.post(NOTIFY, content=body, headers=headers)


async def outcomes(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(PaymentNotification.outcome).order_by(PaymentNotification.id)
        )
        return [row[0] for row in rows]


async def test_an_online_donation_is_paid_once_with_a_receipt(
    client: AsyncClient, engine: AsyncEngine, pay: Simulator, donor: dict[str, str]
) -> None:
    created = await order(client, donor, 5_000)
    assert pay.orders[created["out_trade_no"]].amount_fen == 5_000  # the merchant's signature held
    first = await notify(client, pay, created["out_trade_no"])
    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == "accepted"
    again = await notify(client, pay, created["out_trade_no"])
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    read = (await client.get(f"/api/v1/donations/{created['id']}", headers=donor)).json()
    year = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).year
    assert read["status"] == "paid"
    assert read["receipt_no"] == f"430525-{year}-000001"
    receipt = await client.get(f"/api/v1/donations/{created['id']}/receipt", headers=donor)
    assert receipt.status_code == 200
    assert receipt.json()["amount_fen"] == 5_000
    balances = await check_ledger(engine)
    assert balances["pool:430525"] == 5_000
    assert balances["clearing:wechat_pay"] == -5_000
    stats = (await client.get("/api/v1/stats/funds", params={"county": "430525"})).json()
    assert (stats["online_fen"], stats["offline_fen"], stats["pool_fen"]) == (5_000, 0, 5_000)
    assert await outcomes(engine) == ["accepted", "duplicate"]


async def test_forged_stale_and_wrong_amount_notifications_are_refused_and_logged(
    client: AsyncClient, engine: AsyncEngine, pay: Simulator, donor: dict[str, str]
) -> None:
    created = await order(client, donor, 8_800)
    no = created["out_trade_no"]
    forged = await notify(client, pay, no, key=new_key())
    assert_problem(forged, 400, "payment_notification_forged")
    stale = await notify(client, pay, no, timestamp=int(time.time()) - 3600)
    assert_problem(stale, 400, "payment_notification_stale")
    wrong = await notify(client, pay, no, total=1)
    assert_problem(wrong, 422, "payment_amount_mismatch")
    headers, body = pay.notification(no)
    tampered = body.replace(b'"summary"', b'"Summary"')
    assert_problem(await client.post(NOTIFY, content=tampered, headers=headers), 400,
                   "payment_notification_forged")  # fmt: skip
    read = (await client.get(f"/api/v1/donations/{created['id']}", headers=donor)).json()
    assert read["status"] == "pending"
    assert await outcomes(engine) == ["forged", "stale", "wrong_amount", "forged"]
    assert await check_ledger(engine) == {}
    # The real one still settles it.
    assert (await notify(client, pay, no)).json()["outcome"] == "accepted"


async def test_a_closed_order_paid_late_is_acknowledged_not_booked_and_reconciled(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine, pay: Simulator, donor: dict[str, str]
) -> None:
    booked = await order(client, donor, 2_500)
    assert (await notify(client, pay, booked["out_trade_no"])).json()["outcome"] == "accepted"
    created = await order(client, donor, 1_000)
    closed = await client.post(f"/api/v1/donations/{created['id']}/close", headers=donor)
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert pay.orders[created["out_trade_no"]].state == "CLOSED"
    late = await notify(client, pay, created["out_trade_no"])
    assert (late.status_code, late.json()["outcome"]) == (200, "late")
    assert (await check_ledger(engine))["pool:430525"] == 2_500
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    async with app.state.database.sessionmaker() as session:
        mismatches = await reconcile(session, pay.provider(), today)
    # The late payment was settled by the provider but never booked: the one mismatch.
    assert [(m.out_trade_no, m.provider_fen, m.ledger_fen) for m in mismatches] == [
        (created["out_trade_no"], 1_000, None)
    ]


async def test_offline_donations_are_booked_once_per_voucher_and_reversed_by_a_transaction(
    client: AsyncClient, engine: AsyncEngine, county: dict[str, str]
) -> None:
    body = {"county": "430525", "voucher_no": "XJ-0001", "amount_fen": 1_320_000,
            "donor_name": "某爱心企业", "received_on": dt.date.today().isoformat()}  # fmt: skip
    first = await client.post("/api/v1/offline-donations", json=body, headers=county)
    again = await client.post("/api/v1/offline-donations", json=body, headers=county)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    other = await client.post(
        "/api/v1/offline-donations", json={**body, "amount_fen": 1}, headers=county
    )
    assert_problem(other, 409, "voucher_recorded")
    stats = (await client.get("/api/v1/stats/funds", params={"county": "430525"})).json()
    assert stats["offline_fen"] == 1_320_000
    donation_id = first.json()["id"]
    reverse = {"reason": "凭证号录错"}
    undone = await client.post(
        f"/api/v1/donations/{donation_id}/reverse", json=reverse, headers=county
    )
    assert undone.status_code == 200
    assert undone.json()["status"] == "reversed"
    twice = await client.post(
        f"/api/v1/donations/{donation_id}/reverse", json=reverse, headers=county
    )
    assert_problem(twice, 409, "invalid_transition")
    balances = await check_ledger(engine)
    assert balances["pool:430525"] == 0
    assert balances["offline:430525"] == 0
