"""一助一 payments through the fund pool: received from the sponsor, paid out to the household."""

from __future__ import annotations

import datetime as dt
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


# -- the days of a payment's steps ------------------------------------------------------------

YESTERDAY = (TODAY - dt.timedelta(days=1)).isoformat()
TOMORROW = (TODAY + dt.timedelta(days=1)).isoformat()
REFUNDED = {"voucher_no": "YZT-0001", "refunded_on": TODAY.isoformat()}


async def one_payment(app: FastAPI, client: AsyncClient) -> tuple[Headers, str, str]:
    """The county office, a new sponsorship pairing's path, and its one payment's path."""
    county = await admin_headers(app, client, "county", "430525")
    path, _ = await sponsored(app, client, county)
    (due,) = await payments(client, path, county)
    return county, path, f"{path}/payments/{due['id']}"


async def take(
    client: AsyncClient, url: str, headers: Headers, body: object = None
) -> dict[str, Any]:
    """A step that must succeed; its answer."""
    response = await client.post(url, json=body, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def sponsorship_money(client: AsyncClient) -> tuple[list[dict[str, Any]], int]:
    """The county's public disclosure of this year: its sponsorship rows, and what it holds."""
    public = await client.get("/api/v1/disclosure/430525", params={"period": str(TODAY.year)})
    assert public.status_code == 200, public.text
    return public.json()["sponsorship"], public.json()["balance"]["sponsorship_fen"]


async def test_a_payment_dated_in_the_future_is_refused_and_nothing_is_written(
    app: FastAPI, client: AsyncClient
) -> None:
    county, path, url = await one_payment(app, client)
    early = await client.post(f"{url}/receive", json={**RECEIVED, "received_on": TOMORROW},
                              headers=county)  # fmt: skip
    assert_problem(early, 422, "payment_in_future")
    assert "晚于今天" in early.json()["detail"]
    assert await sponsorship_money(client) == ([], 0)
    await take(client, f"{url}/receive", county, RECEIVED)
    paid = await client.post(f"{url}/disburse", json={**PAID, "disbursed_on": TOMORROW},
                             headers={**county, "Accept-Language": "en"})  # fmt: skip
    assert_problem(paid, 422, "payment_in_future")
    assert "in the future" in paid.json()["detail"]
    (still,) = await payments(client, path, county)
    assert (still["status"], still["disbursed_on"], still["disbursement_voucher_no"]) == (
        "received", None, None,
    )  # fmt: skip
    (month,) = (await sponsorship_money(client))[0]
    assert (month["received_fen"], month["disbursed_fen"]) == (100_000, 0)


async def test_a_payment_dated_before_the_step_it_follows_is_refused(
    app: FastAPI, client: AsyncClient
) -> None:
    # The pairing was made today: nothing was received for it before; what was received today
    # was not paid out or refunded yesterday.
    county, path, url = await one_payment(app, client)
    before = await client.post(f"{url}/receive", json={**RECEIVED, "received_on": YESTERDAY},
                               headers=county)  # fmt: skip
    problem = assert_problem(before, 422, "payment_too_early")
    assert problem["earliest"] == TODAY.isoformat()
    assert TODAY.isoformat() in problem["detail"]
    assert (await payments(client, path, county))[0]["status"] == "scheduled"
    await take(client, f"{url}/receive", county, RECEIVED)
    await take(client, f"{path}/terminate", county)
    for step, body in (("disburse", {**PAID, "disbursed_on": YESTERDAY}),
                       ("refund", {**REFUNDED, "refunded_on": YESTERDAY})):  # fmt: skip
        refused = await client.post(f"{url}/{step}", json=body, headers=county)
        assert assert_problem(refused, 422, "payment_too_early")["earliest"] == TODAY.isoformat()
    (still,) = await payments(client, path, county)
    assert still["status"] == "received"
    assert await sponsorship_money(client) == (
        [{"month": TODAY.strftime("%Y-%m"), "received_fen": 100_000, "disbursed_fen": 0,
          "refunded_fen": 0}],
        100_000,
    )  # fmt: skip


# -- refunds ------------------------------------------------------------------------------------


async def test_a_terminated_pairings_received_payment_is_refunded_to_its_sponsor(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    path, sponsor = await sponsored(app, client, county)
    (due,) = await payments(client, path, county)
    url = f"{path}/payments/{due['id']}"
    await take(client, f"{url}/receive", county, RECEIVED)
    ongoing = await client.post(f"{url}/refund", json=REFUNDED, headers=county)
    assert assert_problem(ongoing, 409, "pairing_not_terminated")["state"] == "active"
    await take(client, f"{path}/terminate", county)
    refunded = await take(client, f"{url}/refund", county, REFUNDED)
    assert (refunded["status"], refunded["refund_voucher_no"]) == ("refunded", "YZT-0001")
    for step, body in (("refund", REFUNDED), ("disburse", PAID)):
        late = await client.post(f"{url}/{step}", json=body, headers=county)
        assert assert_problem(late, 409, "invalid_transition")["state"] == "refunded"
    # The receipt is reversed: the pairing's account and the county's sponsorship income are
    # back where they were.
    balances = await check_ledger(engine)
    assert balances[f"sponsorship:{due['pairing_id']}"] == 0
    assert balances["sponsor-income:430525"] == 0
    (seen,) = await payments(client, path, sponsor)
    assert (seen["status"], seen["refunded_on"]) == ("refunded", TODAY.isoformat())
    (month,) = (await sponsorship_money(client))[0]
    assert (month["received_fen"], month["disbursed_fen"], month["refunded_fen"]) == (
        100_000, 0, 100_000,
    )  # fmt: skip


async def test_a_completed_pairings_payment_is_paid_out_not_refunded(
    app: FastAPI, client: AsyncClient
) -> None:
    county, path, url = await one_payment(app, client)
    await take(client, f"{url}/receive", county, RECEIVED)
    await take(client, f"{path}/complete", county)
    refused = await client.post(f"{url}/refund", json=REFUNDED, headers=county)
    assert assert_problem(refused, 409, "pairing_not_terminated")["state"] == "completed"
    await take(client, f"{url}/disburse", county, PAID)


async def test_a_scheduled_payment_is_not_refunded_and_the_village_office_refunds_nothing(
    app: FastAPI, client: AsyncClient
) -> None:
    county, path, url = await one_payment(app, client)
    assert_problem(await client.post(f"{url}/refund", json=REFUNDED, headers=county), 409,
                   "invalid_transition")  # fmt: skip
    await take(client, f"{url}/receive", county, RECEIVED)
    await take(client, f"{path}/terminate", county)
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    assert_problem(await client.post(f"{url}/refund", json=REFUNDED, headers=village), 403,
                   "county_only")  # fmt: skip
    for body in (
        {**REFUNDED, "amount_fen": 1},
        {"voucher_no": "YZT-1"},
        {**REFUNDED, "voucher_no": "退款 1"},
    ):
        assert (await client.post(f"{url}/refund", json=body, headers=county)).status_code == 422
    assert (await payments(client, path, county))[0]["status"] == "received"
    assert (await client.post(f"{url}/cancel", json=REFUNDED, headers=county)).status_code == 404


# -- sponsorship money in the public figures ----------------------------------------------------


async def test_the_disclosure_and_the_countys_totals_count_sponsorship_money_apart(
    app: FastAPI, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    path, _ = await sponsored(app, client, county)
    await take(client, f"{path}/renew", county)
    first, second = await payments(client, path, county)
    for payment in (first, second):
        await take(client, f"{path}/payments/{payment['id']}/receive", county, RECEIVED)
    await take(client, f"{path}/payments/{first['id']}/disburse", county, PAID)

    public = (
        await client.get("/api/v1/disclosure/430525", params={"period": TODAY.strftime("%Y-%m")})
    ).json()
    totals = (await client.get("/api/v1/stats/funds", params={"county": "430525"})).json()

    figures = {"received_fen": 200_000, "disbursed_fen": 100_000, "refunded_fen": 0}
    # By month, with no pairing, student or household named; donations' figures stay apart.
    assert public["sponsorship"] == [{"month": TODAY.strftime("%Y-%m"), **figures}]
    assert public["balance"]["sponsorship_fen"] == 100_000
    assert (public["income"], public["balance"]["restricted_fen"]) == ([], 0)
    assert (totals["sponsorship"], totals["sponsorship_year"]) == (figures, figures)
    assert (totals["online_fen"], totals["offline_fen"], totals["pool_fen"]) == (0, 0, 0)
    last_year = await client.get("/api/v1/disclosure/430525", params={"period": TODAY.year - 1})
    assert (last_year.json()["sponsorship"], last_year.json()["balance"]["sponsorship_fen"]) == (
        [], 100_000,
    )  # fmt: skip
