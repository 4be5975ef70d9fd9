"""Allocating the pool: proposed by the knapsack, approved (the money moves at once) or not."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import (
    DONGKOU_VILLAGE,
    admin_headers,
    assert_problem,
    make_household,
    post_need,
)
from tests.funds.ledger_checks import check_ledger


async def test_an_approved_allocation_funds_the_chosen_needs_in_one_transaction(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine, county: dict[str, str]
) -> None:
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    values = {"goods": 40_000, "health": 70_000, "schooling": 50_000}
    needs = {}
    for category, value in values.items():
        household = await make_household(client, village, key_household=category == "health")
        urgency = 3 if category == "goods" else 2
        need = await post_need(
            client, village, household["id"], category=category, value_fen=value, urgency=urgency
        )
        needs[category] = need["id"]
    income = {"county": "430525", "voucher_no": "XJ-9", "amount_fen": 100_000,
              "received_on": dt.date.today().isoformat()}  # fmt: skip
    assert (
        await client.post("/api/v1/offline-donations", json=income, headers=county)
    ).status_code == 201
    proposed = await client.post("/api/v1/allocations", json={"county": "430525"}, headers=county)
    assert proposed.status_code == 201, proposed.text
    allocation = proposed.json()
    # 40k + 50k fit the 100k and serve more priority-weighted value than 70k alone would.
    chosen = {item["need_id"] for item in allocation["items"]}
    assert chosen in ({needs["goods"], needs["schooling"]}, {needs["health"]})
    assert allocation["total_fen"] <= 100_000
    assert allocation["status"] == "proposed"
    assert (await check_ledger(engine))["pool:430525"] == 100_000  # nothing moved yet
    approved = await client.post(
        f"/api/v1/allocations/{allocation['id']}/approve", json={}, headers=county
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "executed"
    again = await client.post(
        f"/api/v1/allocations/{allocation['id']}/reject", json={}, headers=county
    )
    assert_problem(again, 409, "invalid_transition")
    balances = await check_ledger(engine)
    assert balances["pool:430525"] == 100_000 - allocation["total_fen"]
    assert sum(balances[f"need:{n}"] for n in chosen) == allocation["total_fen"]
    public = (await client.get("/api/v1/disclosure/430525")).json()
    assert sum(row["allocated_fen"] for row in public["spending"]) == allocation["total_fen"]
    second = await client.post("/api/v1/allocations", json={"county": "430525"}, headers=county)
    assert {i["need_id"] for i in second.json()["items"]} & chosen == set()


async def test_only_the_county_allocates(app: FastAPI, client: AsyncClient) -> None:
    township = await admin_headers(app, client, "township", "430525101")
    refused = await client.post("/api/v1/allocations", json={"county": "430525"}, headers=township)
    assert_problem(refused, 404, "county_not_found")
