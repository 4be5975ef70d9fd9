"""Every page of the offices and the donors renders, on both engines: the review queue, matching
runs (a dry run and a real one), the dashboard of a township, exports, proposals, notifications."""

from __future__ import annotations

import io

from fastapi import FastAPI
from openpyxl import load_workbook  # type: ignore[import-untyped]

from tests.console.conftest import Browsers
from tests.console.pages import sign_in, submit
from tests.factories import (
    DONGKOU_VILLAGE,
    admin_headers,
    make_admin,
    make_household,
    post_need,
    register_donor,
)


async def test_the_offices_pages_render_and_act(app: FastAPI, browsers: Browsers) -> None:
    api = await browsers()
    village = await admin_headers(app, api, "village", DONGKOU_VILLAGE)
    household = await make_household(api, village)
    waiting = await post_need(api, village, household["id"], origin="household")
    county = await make_admin(app, "county", DONGKOU_VILLAGE[:6])
    township = await make_admin(app, "township", DONGKOU_VILLAGE[:9])
    office = await browsers()
    await sign_in(office, county.username)

    queue = await office.get("/console/review")
    approved = await submit(
        office, "/console/review", f"/console/needs/{waiting['id']}/approve?back=/console/review"
    )
    dry = await submit(
        office, "/console/matching", "/console/matching", {"scope": "430525", "dry_run": "on"}
    )
    run = await submit(office, "/console/matching", "/console/matching", {"scope": "430525"})
    run_page = await office.get(run.headers["location"])
    needs = await office.get("/console/needs", params={"status": "published"})
    exported = await office.get("/console/exports/needs.xlsx")
    pairings = await office.get("/console/exports/pairings.xlsx")
    dashboard = await office.get("/console/dashboard")
    notices = await office.get("/console/notifications")

    assert "冬季棉被两床" in queue.text
    assert approved.headers["location"] == "/console/review?notice=approve"
    assert dry.status_code == 200
    assert "试运行结果" in dry.text
    assert run_page.status_code == 200
    assert f"/console/needs/{waiting['id']}" in needs.text
    rows = list(load_workbook(io.BytesIO(exported.content)).active.iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == [waiting["id"]]
    assert rows[1][9] == "已发布"
    assert pairings.status_code == 200
    assert "success-chart" in dashboard.text
    assert "ranking-table" in dashboard.text
    assert notices.status_code == 200

    ranked = await browsers()
    await sign_in(ranked, township.username)
    own = await ranked.get("/console/dashboard")
    assert own.status_code == 200
    assert "ranking-table" not in own.text
    assert (await ranked.get("/console/exports/ranking.xlsx")).status_code == 404

    donor = await browsers()
    registered = await register_donor(donor)
    await sign_in(donor, str(registered["username"]))
    assert (await donor.get("/console/proposals")).status_code == 200
    assert (await donor.get("/console/notifications")).status_code == 200
    assert (await donor.get("/console/households")).status_code == 403
    assert (await donor.get("/console/dashboard")).status_code == 403
