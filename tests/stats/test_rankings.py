"""The quarterly ranking of a county's townships, against a ranking computed here from the rows."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from tests.factories import admin_headers, assert_problem, donor_headers
from tests.stats.rows import get_json, rows, utc

CST = dt.timedelta(hours=8)
QUARTER_MONTHS = ["2026-01", "2026-02", "2026-03"]
URL = "/api/v1/stats/rankings?scope=430525&quarter=2026Q1"

# (village, published at UTC, fulfilled?) of every need written.
NEEDS: list[tuple[str, dt.datetime | None, bool]] = [
    # 101: 2 of 3, the best rate. Its need of 31 March 20:00 UTC is April in CST: Q2.
    ("430525101201", utc(2026, 1, 3), True),
    ("430525101202", utc(2026, 2, 14), True),
    ("430525101201", utc(2026, 3, 30), False),
    ("430525101201", utc(2026, 3, 31, 20), True),
    # 103: 2 of 4, rate 1/2 with the most needs. Its need of 31 December 15:00 UTC is still 2025.
    ("430525103001", utc(2026, 1, 10), True),
    ("430525103001", utc(2026, 1, 11), False),
    ("430525103002", utc(2026, 2, 1), True),
    ("430525103002", utc(2026, 3, 2), False),
    ("430525103001", utc(2025, 12, 31, 15), True),
    # 102, 104 and 106: 1 of 2 each, a tie on rate and needs: by code. 102's first need, of
    # 31 December 16:00 UTC, is 1 January in CST.
    ("430525102201", utc(2025, 12, 31, 16), True),
    ("430525102202", utc(2026, 3, 3), False),
    ("430525104203", utc(2026, 2, 2), False),
    ("430525104204", utc(2026, 2, 20), True),
    ("430525106201", utc(2026, 1, 20), True),
    ("430525106202", utc(2026, 3, 31, 15, 59), False),
    # 105: one need, none fulfilled: rate 0, after every rated township. 107: never published.
    ("430525105201", utc(2026, 1, 8), False),
    ("430525107001", None, False),
]


def needs_of(month: dict[str, Any]) -> dict[str, Any]:
    """A month's figures of the needs (its 户帮户亲帮亲 is tested in test_assessment_coverage)."""
    return {k: month[k] for k in ("period", "published", "fulfilled", "success_rate")}


def cst_month(published: dt.datetime) -> str:
    return f"{published + CST:%Y-%m}"


def expected_ranking(townships: list[str]) -> list[dict[str, Any]]:
    """The ranking by the stated tie rule, computed from NEEDS alone."""
    figures = {code: {m: [0, 0] for m in QUARTER_MONTHS} for code in townships}
    for village, published, fulfilled in NEEDS:
        if published is not None and cst_month(published) in QUARTER_MONTHS:
            counts = figures[village[:9]][cst_month(published)]
            counts[0] += 1
            counts[1] += fulfilled
    rows_ = []
    for code in townships:
        published = sum(n for n, _ in figures[code].values())
        fulfilled = sum(f for _, f in figures[code].values())
        rate = Fraction(fulfilled, published) if published else None
        months = [(m, *figures[code][m]) for m in QUARTER_MONTHS]
        rows_.append((code, published, fulfilled, rate, months))
    rows_.sort(key=lambda r: (r[3] is None, -(r[3] or 0), -r[1], r[0]))
    return [
        {
            "rank": rank, "code": code, "published": published, "fulfilled": fulfilled,
            "success_rate": None if rate is None else float(rate),
            "months": [
                {"period": m, "published": n, "fulfilled": f,
                 "success_rate": f / n if n else None}
                for m, n, f in months
            ],
        }
        for rank, (code, published, fulfilled, rate, months) in enumerate(rows_, start=1)
    ]  # fmt: skip


@pytest.fixture
async def needs(app: FastAPI, client: AsyncClient) -> None:
    async with rows(app) as r:
        for village, published, fulfilled in NEEDS:
            status = "fulfilled" if fulfilled else ("published" if published else "pending_review")
            done = published + dt.timedelta(days=3) if fulfilled and published else None
            await r.need(village, published, status=status, fulfilled=done)


@pytest.mark.usefixtures("needs")
async def test_the_ranking_equals_one_computed_from_the_rows(
    app: FastAPI, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    body = await get_json(client, URL, county)
    townships = (await client.get("/api/v1/regions?parent=430525")).json()["items"]
    expected = expected_ranking(sorted(t["code"] for t in townships))
    found = [{**t, "months": [needs_of(m) for m in t["months"]]} for t in body["townships"]]
    for township in found:
        del township["name"]
    assert found == expected
    names = {t["code"]: t["name"] for t in townships}
    assert all(t["name"] == names[t["code"]] for t in body["townships"])
    assert (body["scope"], body["name"], body["quarter"]) == ("430525", "洞口县", "2026Q1")


@pytest.mark.usefixtures("needs")
async def test_ties_follow_the_stated_rule(app: FastAPI, client: AsyncClient) -> None:
    platform = await admin_headers(app, client, "platform", "")
    body = await get_json(client, URL, platform)
    top = [(t["rank"], t["code"], t["published"], t["fulfilled"]) for t in body["townships"][:6]]
    assert top == [
        (1, "430525101", 3, 2),
        (2, "430525103", 4, 2),  # rate 1/2 with more needs before the others at 1/2
        (3, "430525102", 2, 1),  # equal rate and needs: township code ascending
        (4, "430525104", 2, 1),
        (5, "430525106", 2, 1),
        (6, "430525105", 1, 0),
    ]
    unranked = body["townships"][6:]
    assert all(t["success_rate"] is None for t in unranked)
    assert [t["code"] for t in unranked] == sorted(t["code"] for t in unranked)
    assert "code ascending" in body["tie_rule"]
    assert "come last" in body["tie_rule"]


@pytest.mark.usefixtures("needs")
async def test_each_township_carries_its_three_months(app: FastAPI, client: AsyncClient) -> None:
    county = await admin_headers(app, client, "county", "430525")
    body = await get_json(client, URL, county)
    first = body["townships"][0]
    assert [needs_of(m) for m in first["months"]] == [
        {"period": "2026-01", "published": 1, "fulfilled": 1, "success_rate": 1.0},
        {"period": "2026-02", "published": 1, "fulfilled": 1, "success_rate": 1.0},
        {"period": "2026-03", "published": 1, "fulfilled": 0, "success_rate": 0.0},
    ]
    later = await get_json(client, URL.replace("Q1", "Q2"), county)
    assert later["townships"][0]["code"] == "430525101"  # only its April need: 1 of 1
    assert needs_of(later["townships"][0]["months"][0]) == {
        "period": "2026-04", "published": 1, "fulfilled": 1, "success_rate": 1.0,
    }  # fmt: skip


async def test_only_admins_above_the_townships_rank_them(app: FastAPI, client: AsyncClient) -> None:
    township = await admin_headers(app, client, "township", "430525101")
    village = await admin_headers(app, client, "village", "430525101201")
    assert_problem(await client.get(URL, headers=township), 403, "not_allowed")
    assert_problem(await client.get(URL, headers=village), 403, "not_allowed")
    assert_problem(await client.get(URL, headers=await donor_headers(client)), 403, "admin_only")
    assert_problem(await client.get(URL), 401, "not_authenticated")


async def test_another_county_or_an_unknown_one_is_not_found(
    app: FastAPI, client: AsyncClient
) -> None:
    neighbour = await admin_headers(app, client, "county", "430524")
    assert_problem(await client.get(URL, headers=neighbour), 404, "region_not_found")
    platform = await admin_headers(app, client, "platform", "")
    unknown = URL.replace("430525", "439999")
    assert_problem(await client.get(unknown, headers=platform), 404, "region_not_found")


@pytest.mark.parametrize(
    "query",
    [
        "scope=430525&quarter=2026Q5",
        "scope=430525&quarter=2026Q0",
        "scope=430525&quarter=2026-Q1",
        "scope=430525",
        "scope=4305251&quarter=2026Q1",
        "scope=430525101&quarter=2026Q1",
        "quarter=2026Q1",
    ],
)
async def test_bad_parameters_are_422(app: FastAPI, client: AsyncClient, query: str) -> None:
    county = await admin_headers(app, client, "county", "430525")
    response = await client.get(f"/api/v1/stats/rankings?{query}", headers=county)
    assert_problem(response, 422, "validation_failed")
