"""Rows in every table of the fund pool, made through the API (the migration tests)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient, Response

from tests.factories import make_household, post_need
from tests.funds.simulator import Simulator

Headers = dict[str, str]


def _ok(response: Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def fill(app: FastAPI, client: AsyncClient, county: Headers, village: Headers) -> None:
    """Offline income with its receipt, a crowdfunded need, an approved allocation, and a
    forged payment notification refused and logged."""
    today = dt.date.today()
    income = {"county": "430525", "voucher_no": "FILL-1", "amount_fen": 200_000,
              "donor_name": "爱心企业", "received_on": today.isoformat()}  # fmt: skip
    _ok(await client.post("/api/v1/offline-donations", json=income, headers=county))
    for category, value in (("health", 100_000), ("goods", 50_000)):
        household = await make_household(client, village)
        need = await post_need(client, village, household["id"], category=category, value_fen=value)
        if category == "health":
            deadline = (today + dt.timedelta(days=10)).isoformat()
            funding = {"need_id": need["id"], "deadline": deadline}
            _ok(await client.post("/api/v1/fundings", json=funding, headers=village))
    proposed = _ok(
        await client.post("/api/v1/allocations", json={"county": "430525"}, headers=county)
    )
    assert proposed["items"], proposed
    _ok(await client.post(f"/api/v1/allocations/{proposed['id']}/approve", json={}, headers=county))
    simulator = Simulator()
    app.state.wechat_pay = simulator.provider()
    forged = simulator.signed_headers("{}", key=simulator.merchant_key)
    refused = await client.post("/api/v1/payments/notify/wechat_pay", content=b"{}", headers=forged)
    assert refused.status_code == 400, refused.text
    app.state.wechat_pay = None
