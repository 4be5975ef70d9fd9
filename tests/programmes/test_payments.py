"""一助一 payments through the fund pool: received from the sponsor, paid out to the household."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.funds.models import FundTransaction
from tests.factories import DONGKOU_VILLAGE, admin_headers, assert_problem, donor_headers
from tests.funds.ledger_checks import check_ledger
from tests.programmes.conftest import SPONSORSHIP, TODAY, create, enrol, run, volunteer

Headers = dict[str, str]
RECEIVED = {"voucher_no": "YZY-0001", "received_on": TODAY.isoformat()}
PAID = {"voucher_no": "YZF-0001", "disbursed_on": TODAY.isoformat()}


async def sponsored(app: FastAPI, client: AsyncClient, county: Headers) -> tuple[str, Headers]:
    """A sponsorship pairing of a Dongkou student: its path, and its sponsor's headers."""
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    programme = await create(client, county, SPONSORSHIP)
    await enrol(client, village, programme)
    sponsor = await donor_headers(client)
    await volunteer(client, sponsor, programme, {"amount_fen": 100_000})
    (pairing,) = (await run(client, county, programme))["pairings"]
    return f"/api/v1/programme-pairings/{pairing['id']}", sponsor


async def payments(client: AsyncClient, path: str, headers: Headers) -> list[dict[str, Any]]:
    response = await client.get(f"{path}/payments", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_a_payment_received_then_paid_out_passes_through_the_pairings_account(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    path, sponsor = await sponsored(app, client, county)
    (due,) = await payments(client, path, county)
    assert (due["term"], due["amount_fen"], due["status"]) == (1, 100_000, "scheduled")
    pairing_id = due["pairing_id"]
    url = f"{path}/payments/{due['id']}"
    early = await client.post(f"{url}/disburse", json=PAID, headers=county)
    assert_problem(early, 409, "invalid_transition")
    received = await client.post(f"{url}/receive", json=RECEIVED, headers=county)
    assert received.status_code == 200, received.text
    assert (received.json()["status"], received.json()["receipt_voucher_no"]) == (
        "received", "YZY-0001",
    )  # fmt: skip
    balances = await check_ledger(engine)
    assert balances[f"sponsorship:{pairing_id}"] == 100_000
    assert balances["sponsor-income:430525"] == -100_000
    again = await client.post(f"{url}/receive", json=RECEIVED, headers=county)
    assert_problem(again, 409, "invalid_transition")
    paid = await client.post(f"{url}/disburse", json=PAID, headers=county)
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "disbursed"
    assert_problem(await client.post(f"{url}/disburse", json=PAID, headers=county), 409,
                   "invalid_transition")  # fmt: skip
    balances = await check_ledger(engine)
    assert balances[f"sponsorship:{pairing_id}"] == 0
    assert balances["sponsor-paid:430525"] == 100_000
    assert balances["sponsor-income:430525"] == -100_000
    async with engine.connect() as connection:
        keys = (
            await connection.execute(
                select(FundTransaction.business_key, func.count())
                .where(FundTransaction.business_key.like("sponsorship-%"))
                .group_by(FundTransaction.business_key)
            )
        ).all()
    assert sorted(keys) == [
        (f"sponsorship-disbursement:{due['id']}", 1), (f"sponsorship-receipt:{due['id']}", 1),
    ]  # fmt: skip
    # The sponsor follows its pairing's payments; the money is not donations in the disclosure.
    (seen,) = await payments(client, path, sponsor)
    assert seen["status"] == "disbursed"
    totals = (await client.get("/api/v1/stats/funds", params={"county": "430525"})).json()
    assert (totals["online_fen"], totals["offline_fen"]) == (0, 0)


async def test_only_the_county_office_in_scope_records_a_payment(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    path, sponsor = await sponsored(app, client, county)
    (due,) = await payments(client, path, county)
    url = f"{path}/payments/{due['id']}/receive"
    other_county = await admin_headers(app, client, "county", "430522")
    assert_problem(await client.post(url, json=RECEIVED, headers=other_county), 404,
                   "programme_pairing_not_found")  # fmt: skip
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    assert_problem(await client.post(url, json=RECEIVED, headers=village), 403, "county_only")
    assert_problem(await client.post(url, json=RECEIVED, headers=sponsor), 403, "admin_only")
    stranger = await donor_headers(client)
    assert_problem(await client.get(f"{path}/payments", headers=stranger), 404,
                   "programme_pairing_not_found")  # fmt: skip
    missing = f"{path}/payments/{due['id'] + 1000}/receive"
    assert_problem(await client.post(missing, json=RECEIVED, headers=county), 404,
                   "sponsorship_payment_not_found")  # fmt: skip
    assert not any(key.startswith("sponsor") for key in await check_ledger(engine))
    (still,) = await payments(client, path, county)
    assert still["status"] == "scheduled"


async def test_terminating_a_pairing_cancels_its_scheduled_payments(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    path, _ = await sponsored(app, client, county)
    renewed = await client.post(f"{path}/renew", headers=county)
    assert renewed.status_code == 200, renewed.text
    first, second = await payments(client, path, county)
    received = await client.post(f"{path}/payments/{first['id']}/receive", json=RECEIVED,
                                 headers=county)  # fmt: skip
    assert received.status_code == 200, received.text
    assert (await client.post(f"{path}/terminate", headers=county)).status_code == 200
    after = {p["term"]: p["status"] for p in await payments(client, path, county)}
    # The term received stays received (and may still be paid out); the next one is cancelled.
    assert after == {1: "received", 2: "cancelled"}
    late = await client.post(f"{path}/payments/{second['id']}/receive", json=RECEIVED,
                             headers=county)  # fmt: skip
    assert_problem(late, 409, "invalid_transition")
    paid = await client.post(f"{path}/payments/{first['id']}/disburse", json=PAID, headers=county)
    assert paid.status_code == 200, paid.text
    assert (await check_ledger(engine))["sponsor-paid:430525"] == 100_000


async def test_a_receipt_body_names_only_its_voucher_and_day(
    app: FastAPI, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    path, _ = await sponsored(app, client, county)
    (due,) = await payments(client, path, county)
    url = f"{path}/payments/{due['id']}/receive"
    for body in ({**RECEIVED, "amount_fen": 1}, {**RECEIVED, "voucher_no": "凭证 1"}, {}):
        assert (await client.post(url, json=body, headers=county)).status_code == 422
