"""一月一考核 carries 户帮户亲帮亲: each township's coverage at the month's end and its help acts in
the month, in the quarterly ranking and in the year's summary alike."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from openpyxl import load_workbook

from app.core.db import clock_at
from tests.factories import DONGKOU_VILLAGE, OTHER_VILLAGE, admin_headers, make_household
from tests.helpers.assigning import YEAR, act, assign, at, covered
from tests.stats.rows import get_json

TOWNSHIP, OTHER_TOWNSHIP = DONGKOU_VILLAGE[:9], "430525102"
OTHER_TOWNSHIPS_VILLAGE = "430525102201"
QUARTER = f"{YEAR}Q3"
MONTHS = [f"{YEAR}-07", f"{YEAR}-08", f"{YEAR}-09"]
FIGURES = ("key_households", "with_helper_and_liaison", "with_recent_act")

# (key households, with a helper and a liaison, with an act in the 30 days, acts in the month)
# at the end of July, August and September, from the scene below.
EXPECTED = {
    TOWNSHIP: [(2, 1, 1, 1), (3, 2, 2, 2), (3, 3, 1, 1)],
    OTHER_TOWNSHIP: [(1, 1, 1, 1), (1, 1, 0, 1), (1, 1, 1, 1)],
}


@pytest.fixture
async def county(app: FastAPI, client: AsyncClient) -> dict[str, str]:
    """Key households of two townships helped through the third quarter; the county's office."""
    first = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    second = await admin_headers(app, client, "village", OTHER_VILLAGE)
    other = await admin_headers(app, client, "village", OTHER_TOWNSHIPS_VILLAGE)
    # Covered from 1 July; its helper replaced on 20 August: July still counts it covered.
    replaced, _ = await covered(client, first, at(7, 1), at(7, 1))
    await act(client, first, replaced, 7, 25)
    with clock_at(at(8, 20)):
        await assign(client, first, replaced, "helper", "孙互助")
    # A helper from 10 July, a liaison only from 5 September; acts on either side of 1 September.
    with clock_at(at(7, 10)):
        late = await make_household(client, first, key_household=True)
        await assign(client, first, late, "helper", "赵互助")
    with clock_at(at(9, 5)):
        await assign(client, first, late, "liaison", "周联络")
    await act(client, first, late, 8, 31)
    await act(client, first, late, 9, 1)
    # Registered on 15 August (not in July's count), in the township's other village.
    august, _ = await covered(client, second, at(8, 15), at(8, 15), OTHER_VILLAGE)
    await act(client, second, august, 8, 16)
    # Registered after the quarter: in none of its months.
    after, _ = await covered(client, first, at(10, 10), at(10, 10))
    await act(client, first, after, 10, 11)
    # Another township's acts stay its own; its act of 1 August is 31 days before the month's
    # end, one day too early for August's recent acts.
    neighbour, _ = await covered(client, other, at(7, 1), at(7, 1), OTHER_TOWNSHIPS_VILLAGE)
    for month, day in ((7, 31), (8, 1), (9, 30)):
        await act(client, other, neighbour, month, day)
    return await admin_headers(app, client, "county", "430525")


def month_end(month: str) -> str:
    first = dt.date(int(month[:4]), int(month[5:]), 1)
    return ((first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)).isoformat()


def assessed(months: list[dict[str, Any]]) -> list[tuple[int, ...]]:
    """(key, with both, with a recent act, acts) of each month of a township's ranking."""
    return [
        (*(month["coverage"][figure] for figure in FIGURES), month["help_acts"]) for month in months
    ]


async def ranking(client: AsyncClient, county: dict[str, str]) -> dict[str, Any]:
    url = f"/api/v1/stats/rankings?scope=430525&quarter={QUARTER}"
    return await get_json(client, url, county)


async def test_each_month_of_the_ranking_carries_the_townships_coverage_and_acts(
    client: AsyncClient, county: dict[str, str]
) -> None:
    body = await ranking(client, county)
    townships = {t["code"]: t["months"] for t in body["townships"]}
    assert {code: assessed(townships[code]) for code in EXPECTED} == EXPECTED
    first = townships[TOWNSHIP]
    assert [m["coverage"]["on"] for m in first] == [month_end(m) for m in MONTHS]
    shares = [(m["coverage"]["helper_and_liaison_share"], m["coverage"]["recent_act_share"])
              for m in first]  # fmt: skip
    assert shares == [(1 / 2, 1 / 2), (2 / 3, 2 / 3), (1.0, 1 / 3)]
    quiet = [months for code, months in townships.items() if code not in EXPECTED]
    assert quiet
    assert all(assessed(months) == [(0, 0, 0, 0)] * 3 for months in quiet)
    assert all(m["coverage"]["recent_act_share"] is None for months in quiet for m in months)
    assert {"coverage", "help_acts", "with_recent_act"} <= set(body["definitions"])


async def test_the_years_summary_has_the_months_of_the_ranking_and_exports_them(
    client: AsyncClient, county: dict[str, str]
) -> None:
    townships = {t["code"]: t["months"] for t in (await ranking(client, county))["townships"]}
    params = {"scope": "430525", "year": YEAR}
    summary = await get_json(client, f"/api/v1/stats/annual?scope=430525&year={YEAR}", county)
    rows = {(r["township"], r["month"]): r for r in summary["coverage"] if r["month"] in MONTHS}
    assert set(rows) == {(code, month) for code in EXPECTED for month in MONTHS}
    for (code, month), row in rows.items():
        figures = townships[code][MONTHS.index(month)]
        assert {k: v for k, v in row.items() if k not in ("township", "month")} == {
            **figures["coverage"], "help_acts": figures["help_acts"],
        }  # fmt: skip
    acts = {(a["township"], a["month"]): a["acts"] for a in summary["help_acts"]}
    for code, months in townships.items():
        assert [acts.get((code, m), 0) for m in MONTHS] == [m["help_acts"] for m in months]

    export = await client.get("/api/v1/stats/annual.xlsx", params=params, headers=county)
    book = load_workbook(io.BytesIO(export.content))
    sheet = list(book["户帮户亲帮亲"].iter_rows(values_only=True))
    assert sheet[0] == (
        "月份", "统计日", "乡镇代码", "重点户", "有帮扶人和联络员", "帮扶人和联络员覆盖率",
        "近30天有帮扶记录", "近30天帮扶覆盖率", "当月帮扶次数",
    )  # fmt: skip
    august = next(r for r in sheet if r[0] == f"{YEAR}-08" and r[2] == TOWNSHIP)
    assert august == (f"{YEAR}-08", dt.datetime(YEAR, 8, 31), TOWNSHIP, 3, 2, 2 / 3, 2, 2 / 3, 2)


async def test_the_month_under_way_is_counted_today_and_a_month_not_begun_not_at_all(
    app: FastAPI, client: AsyncClient
) -> None:
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    county = await admin_headers(app, client, "county", "430525")
    household, _ = await covered(client, village, at(8, 1), at(8, 1))
    await act(client, village, household, 8, 5)
    with clock_at(at(8, 20)):
        body = await ranking(client, county)
        url = f"/api/v1/stats/annual?scope={TOWNSHIP}&year={YEAR}"
        summary = await get_json(client, url, county)
    [months] = [t["months"] for t in body["townships"] if t["code"] == TOWNSHIP]
    assert [m["coverage"] and m["coverage"]["on"] for m in months] == [
        f"{YEAR}-07-31", f"{YEAR}-08-20", None,
    ]  # fmt: skip
    assert assessed(months[:2]) == [(0, 0, 0, 0), (1, 1, 1, 1)]
    assert months[2]["help_acts"] == 0
    assert [(r["month"], r["on"]) for r in summary["coverage"]] == [(f"{YEAR}-08", f"{YEAR}-08-20")]
