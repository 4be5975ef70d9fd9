"""Calibration of the predicted success against outcomes, on pairings made by hand."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from tests.factories import admin_headers, assert_problem, donor_headers
from tests.stats.rows import get_json, rows, utc

A, B = "430525101201", "430525102201"
FEBRUARY = "from=2026-02-01&to=2026-03-01"

# (village, predicted, status): ended in February 2026 unless they hold or wait.
PAIRINGS = [
    (A, 0.05, "confirmed"),
    (A, 0.05, "released"),
    (A, 0.1, "confirmed"),  # on a bin's lower edge: bin [0.1, 0.2)
    (A, 0.25, "expired"),
    (A, 0.75, "confirmed"),
    (A, 0.75, "confirmed"),
    (A, 0.75, "declined"),
    (A, 0.95, "confirmed"),
    (A, 1.0, "confirmed"),  # the last bin includes 1.0
    # Left out: no outcome that speaks of the donor, or no outcome yet.
    (A, 0.9, "cancelled"),
    (A, 0.5, "superseded"),
    (A, 0.5, "active"),
    (A, 0.5, "delivered"),
    (A, 0.5, "proposed"),
    # Another township.
    (B, 0.2, "confirmed"),
]
ENDED = ("confirmed", "released", "expired", "declined", "cancelled", "superseded")
UNHELD = ("proposed", "declined", "superseded")  # proposals never accepted


@pytest.fixture
async def pairings(app: FastAPI, client: AsyncClient) -> None:
    async with rows(app) as r:
        donor = await r.donor()
        for village, predicted, status in [*PAIRINGS, (A, 0.5, "released")]:
            late = (village, predicted, status) == (A, 0.5, "released")
            need = await r.need(village, utc(2026, 1, 5))
            ended = utc(2026, 5, 10) if late else utc(2026, 2, 10)
            await r.pairing(
                need, donor, village=village, status=status, predicted=predicted,
                created=utc(2026, 1, 6), active=None if status in UNHELD else utc(2026, 1, 6),
                ended=ended if status in ENDED else None,
            )  # fmt: skip


def bins(body: dict[str, Any]) -> dict[int, tuple[int, float | None, float | None]]:
    return {
        index: (b["count"], b["mean_predicted"], b["observed_rate"])
        for index, b in enumerate(body["bins"])
    }


@pytest.mark.usefixtures("pairings")
async def test_brier_score_and_bins_of_a_township(app: FastAPI, client: AsyncClient) -> None:
    township = await admin_headers(app, client, "township", "430525101")
    body = await get_json(client, f"/api/v1/stats/calibration?{FEBRUARY}", township)
    assert (body["scope"], body["from"], body["to"]) == ("430525101", "2026-02-01", "2026-03-01")
    assert body["count"] == 9
    squared = [0.95**2, 0.05**2, 0.9**2, 0.25**2, 0.25**2, 0.25**2, 0.75**2, 0.05**2, 0.0]
    assert body["brier"] == pytest.approx(sum(squared) / 9)  # 2.4675 / 9
    assert body["observed_rate"] == pytest.approx(6 / 9)
    assert body["mean_predicted"] == pytest.approx(4.65 / 9)
    assert body["reference_brier"] == pytest.approx((6 / 9) * (3 / 9))
    assert bins(body) == {
        0: (2, pytest.approx(0.05), 0.5),
        1: (1, pytest.approx(0.1), 1.0),
        2: (1, pytest.approx(0.25), 0.0),
        3: (0, None, None),
        4: (0, None, None),
        5: (0, None, None),
        6: (0, None, None),
        7: (3, pytest.approx(0.75), pytest.approx(2 / 3)),
        8: (0, None, None),
        9: (2, pytest.approx(0.975), 1.0),
    }
    assert [(b["lower"], b["upper"]) for b in body["bins"]] == [
        (i / 10, (i + 1) / 10) for i in range(10)
    ]


@pytest.mark.usefixtures("pairings")
async def test_a_county_counts_every_township_and_all_time(
    app: FastAPI, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    february = await get_json(client, f"/api/v1/stats/calibration?{FEBRUARY}", county)
    assert february["count"] == 10
    assert bins(february)[2] == (2, pytest.approx(0.225), 0.5)
    ever = await get_json(client, "/api/v1/stats/calibration", county)
    assert (ever["count"], ever["from"], ever["to"]) == (11, None, None)  # the May release too
    assert bins(ever)[5] == (1, 0.5, 0.0)


async def test_no_ended_pairings_give_nulls(app: FastAPI, client: AsyncClient) -> None:
    county = await admin_headers(app, client, "county", "430525")
    body = await get_json(client, "/api/v1/stats/calibration", county)
    assert body["count"] == 0
    assert body["brier"] is body["observed_rate"] is body["reference_brier"] is None
    assert all(b["count"] == 0 and b["mean_predicted"] is None for b in body["bins"])


async def test_scopes_and_roles(app: FastAPI, client: AsyncClient) -> None:
    township = await admin_headers(app, client, "township", "430525101")
    url = "/api/v1/stats/calibration"
    assert_problem(
        await client.get(f"{url}?scope=430525102", headers=township), 404, "region_not_found"
    )
    assert_problem(
        await client.get(f"{url}?scope=430525", headers=township), 404, "region_not_found"
    )
    assert (await client.get(f"{url}?scope={A}", headers=township)).status_code == 200
    assert_problem(await client.get(url, headers=await donor_headers(client)), 403, "admin_only")
    assert_problem(await client.get(url), 401, "not_authenticated")
    county = await admin_headers(app, client, "county", "430525")
    bad = await client.get(f"{url}?from=2026-03-01&to=2026-02-01", headers=county)
    assert_problem(bad, 422, "invalid_range")
