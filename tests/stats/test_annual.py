"""The year's summary and the coverage of 户帮户亲帮亲, through the API."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app import simulation
from app.accounts.models import User
from app.helpers.models import HelperAssignment
from app.simulation import annual
from tests.conftest import empty_tables
from tests.factories import (
    DONGKOU_VILLAGE,
    admin_headers,
    assert_problem,
    donor_headers,
    make_household,
    phone_number,
    post_need,
)

CST = dt.timezone(dt.timedelta(hours=8))
TODAY = dt.datetime.now(CST).date()
TOWNSHIP = DONGKOU_VILLAGE[:9]
TINY = dataclasses.replace(
    simulation.PROFILES["small"], households=100, needs_per_year=500, settle_days=20
)
START = dt.date(2026, 1, 1)


async def test_coverage_counts_key_households_with_both_and_with_a_recent_act(
    app: FastAPI, client: AsyncClient
) -> None:
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    key = [await make_household(client, village, key_household=True) for _ in range(3)]
    await make_household(client, village)  # not a key household: not counted
    for household in key[:2]:
        for role in ("helper", "liaison"):
            body = {"role": role, "name": "张互助", "phone": phone_number()}
            path = f"/api/v1/households/{household['id']}/helpers"
            assert (await client.post(path, json=body, headers=village)).status_code == 200
    act = {"acted_on": TODAY.isoformat(), "kind": "care", "note": "帮助打扫卫生"}
    old = {**act, "acted_on": (TODAY - dt.timedelta(days=40)).isoformat()}
    for body in (act, old):
        path = f"/api/v1/households/{key[2]['id']}/help-acts"
        assert (await client.post(path, json=body, headers=village)).status_code == 201
    report = await client.get("/api/v1/stats/helpers", params={"scope": TOWNSHIP}, headers=village)
    assert_problem(report, 404, "region_not_found")  # a village admin's scope is its village
    county = await admin_headers(app, client, "county", "430525")
    report = await client.get("/api/v1/stats/helpers", params={"scope": TOWNSHIP}, headers=county)
    totals = report.json()["totals"]
    assert (totals["key_households"], totals["with_helper_and_liaison"]) == (3, 2)
    assert totals["with_recent_act"] == 1
    assert totals["helper_and_liaison_share"] == 2 / 3
    assert sum(row["acts"] for row in report.json()["acts"]) == 2


async def test_the_year_sums_its_months_and_carries_the_new_categories(
    app: FastAPI, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    household = await make_household(client, village, key_household=True)
    # A housing repair (危房改造) goes its whole life: posted, claimed, delivered, confirmed.
    housing = await post_need(
        client, village, household["id"], category="housing", title="危房加固", value_fen=4_000_000
    )
    await post_need(client, village, household["id"], category="industry", value_fen=200_000)
    over = {"category": "industry", "value_fen": 2_000_001}
    refused = await client.post(
        "/api/v1/needs",
        json={**over, "household_id": household["id"], "title": "种苗", "description": "脐橙苗",
              "urgency": 1, "deadline": (TODAY + dt.timedelta(days=30)).isoformat()},
        headers=village,
    )  # fmt: skip
    assert_problem(refused, 409, "value_over_cap")
    donor = await donor_headers(client)
    need = f"/api/v1/needs/{housing['id']}"
    for path, who in ((f"{need}/claim", donor), (f"{need}/deliver", donor),
                      (f"{need}/confirm", village)):  # fmt: skip
        assert (await client.post(path, headers=who)).status_code in (200, 201)
    params = {"scope": "430525", "year": TODAY.year}
    response = await client.get("/api/v1/stats/annual", params=params, headers=county)
    assert response.status_code == 200, response.text
    summary = response.json()
    for group in summary["needs_by_township"] + summary["needs_by_category"]:
        for figure in ("published", "matched", "fulfilled"):
            assert group["totals"][figure] == sum(m[figure] for m in group["periods"]), group
    categories = {g["key"]: g["totals"] for g in summary["needs_by_category"]}
    assert (categories["housing"]["fulfilled"], categories["industry"]["published"]) == (1, 1)
    township = next(g for g in summary["needs_by_township"] if g["key"] == TOWNSHIP)
    assert (township["totals"]["published"], township["totals"]["success_rate"]) == (2, 0.5)
    assert {rank["quarter"] for rank in summary["ranks"]} == {
        f"{TODAY.year}Q{n}" for n in range(1, 5)
    }
    sheet = await client.get("/api/v1/stats/annual.xlsx", params=params, headers=county)
    book = load_workbook(io.BytesIO(sheet.content))
    assert "需求对接（类别）" in book.sheetnames
    rows = list(book["需求对接（类别）"].iter_rows(values_only=True))
    assert ("housing", "housing", "全年", 1, 1, 1, 1.0) in rows
    assert_problem(
        await client.get("/api/v1/stats/annual", params=params, headers=village), 404,
        "region_not_found",
    )  # fmt: skip
    township_admin = await admin_headers(app, client, "township", TOWNSHIP)
    own = await client.get("/api/v1/stats/annual", params={"year": TODAY.year},
                           headers=township_admin)  # fmt: skip
    assert own.status_code == 200, own.text
    assert {rank["township"] for rank in own.json()["ranks"]} == {TOWNSHIP}


async def test_a_simulated_months_year_is_its_months_summed_with_helpers_at_the_seeds_ratios(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine
) -> None:
    # The simulation is the same on both engines and the year's SQL is tested on both above;
    # one engine keeps the suite short.
    if not app.state.settings.is_sqlite:
        pytest.skip("the simulated month runs on SQLite only")
    try:
        summary = await simulation.simulate(
            app.state.settings, TINY, policy="claims", seed=5, months=1, start=START
        )
        # The run holds its own year against its months, its quarters and its record...
        assert summary["annual"]["years"] == [START.year]
        assert summary["annual"]["figures_checked"] > 3 * len(summary["months"])
        assert summary["annual"]["disagreements"] == []
        assert summary["annual"]["help_acts"] > 0
        # ...and the API reads the same year.
        county = await admin_headers(app, client, "county", TINY.county)
        params = {"scope": TINY.county, "year": START.year}
        year = (await client.get("/api/v1/stats/annual", params=params, headers=county)).json()
        for group in year["needs_by_township"] + year["needs_by_category"]:
            for figure in ("published", "matched", "fulfilled"):
                assert group["totals"][figure] == sum(m[figure] for m in group["periods"])
        published = sum(g["totals"]["published"] for g in year["needs_by_township"])
        assert published == summary["published"]
        months = {row["month"] for row in year["coverage"]}
        assert "2026-01" in months
        for row in year["coverage"]:
            assert row["with_helper_and_liaison"] == row["key_households"] > 0
        acts = sum(row["acts"] for row in year["help_acts"])
        key = sum(r["key_households"] for r in year["coverage"] if r["month"] == "2026-01")
        # About 44,503 / 1,274 acts a key household a year: a month's worth, within reason.
        assert 0.5 < acts / (key * 31 / 365 * 44_503 / 1_274) < 1.5
        async with app.state.database.sessionmaker() as session:
            liaisons = await session.scalar(
                select(func.count(func.distinct(HelperAssignment.helper_id))).where(
                    HelperAssignment.role == "liaison"
                )
            )
        assert liaisons is not None
        assert key * 345 / 1_274 <= liaisons <= key * 345 / 1_274 + len(year["ranks"]) / 4
        # The check sees a month or an act the summaries do not hold.
        off = [{**month, "published": month["published"] + 1} for month in summary["months"][:1]]
        async with app.state.database.sessionmaker() as session:
            admin = await session.scalar(
                select(User).where(User.role == "county", User.scope_code == TINY.county)
            )
            assert admin is not None
            wrong = await annual.check(
                session, admin, TINY.county, {"months": off + summary["months"][1:]},
                summary["annual"]["help_acts"] + 1, START, START + dt.timedelta(days=31),
            )  # fmt: skip
        assert [line.split(":")[0] for line in wrong["disagreements"]] == [
            f"{off[0]['month']} published",
            "help acts",
        ]
    finally:
        await empty_tables(engine)
