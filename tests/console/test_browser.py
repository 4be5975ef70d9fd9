"""The whole story in Debian's Chromium, driven by Playwright, against a real uvicorn on loopback.

A village admin imports 20 households from an .xlsx with one bad row and sees that row reported,
then posts a need; a donor at a phone's width finds it, claims it and delivers it; the village
admin confirms receipt; a county admin sees that month's rate on the dashboard's chart and exports
the ranking, whose figures equal the API's. Along the way: a form without its token is refused,
the donor's pages hold no household's name, ID number or phone, another village's admin gets 404
on a household's page, every field has a label, a focused field shows the focus ring, and no
request leaves this origin. Every page the story visits (the sign-in, the 404, the review queue and
the matching runs among them) is screenshotted into the test's temporary folder.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from openpyxl import load_workbook  # type: ignore[import-untyped]
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from app.console.offices import current_quarter
from app.console.render import percent
from app.core.settings import Settings
from app.stats.periods import label, period_start, today
from tests.conftest import unavailable
from tests.console.pages import HEADINGS, XLSX, sheet
from tests.factories import (
    DONGKOU_VILLAGE,
    OTHER_VILLAGE,
    PASSWORD,
    id_number,
    make_admin,
    phone_number,
    register_donor,
)
from tests.live import live_server
from tests.security.body_scan import personal_data_in

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
COUNTY = DONGKOU_VILLAGE[:6]
TOWNSHIP = DONGKOU_VILLAGE[:9]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
BAD_ROW = 13  # the sheet's row 13: the twelfth household, with a phone that is not one
UNLABELLED = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea')].filter(e => !e.labels || !e.labels.length)
    .map(e => e.name)"""
FOCUS_RING = """() => { const s = getComputedStyle(document.activeElement);
    return [s.outlineStyle, s.outlineColor, s.boxShadow]; }"""


def households() -> list[list[Any]]:
    rows: list[list[Any]] = [
        ["", f"{surname}秀英", id_number(), phone_number(), 3, "低保", "否"] for surname in SURNAMES
    ]
    rows.insert(BAD_ROW - 2, ["", "钱多多", id_number(), "1234", 2, "低保", "否"])
    return rows


class Story:
    """The browser, the server's address, and what the story has seen."""

    def __init__(self, browser: Browser, base_url: str, shots: Path) -> None:
        self.browser = browser
        self.base_url = base_url
        self.shots = shots
        self.requested: list[str] = []
        self.taken = 0

    async def context(self, **options: Any) -> BrowserContext:
        context = await self.browser.new_context(locale="zh-CN", **options)
        context.on("request", lambda request: self.requested.append(request.url))
        return context

    async def shot(self, page: Page, name: str) -> None:
        """A screenshot of the whole page, and its fields checked for labels."""
        self.taken += 1
        await page.screenshot(path=self.shots / f"{self.taken:02d}-{name}.png", full_page=True)
        assert await page.evaluate(UNLABELLED) == [], f"fields without a label on {page.url}"

    async def sign_in(self, page: Page, username: str, home: str) -> None:
        """Sign in through the form, both pages screenshotted: the sign-in and the role's home."""
        await page.goto(f"{self.base_url}/console/login")
        await self.shot(page, "sign-in")
        await page.fill("#username", username)
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"**/console/{home}")
        await self.shot(page, home)


@pytest.fixture
async def story(
    settings: Settings, client: AsyncClient, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Story]:
    """Chromium and a live server on this run's PostgreSQL (``client`` empties the tables)."""
    if not CHROMIUM.exists():  # noqa: ASYNC240  (one stat before anything starts)
        unavailable(f"{CHROMIUM} is missing (Debian's chromium package)", "chromium")
    work = tmp_path_factory.mktemp("console-story")
    with live_server(settings, work / "server.log") as base_url:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=ARGS
            )
            try:
                yield Story(browser, base_url, work)
            finally:
                await browser.close()


async def api_figures(base_url: str, username: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The API's success report by township and month, and the quarter's ranking."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as api:
        signed = await api.post(
            "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
        )
        headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        success = await api.get(
            "/api/v1/stats/success", params={"scope": COUNTY, "group_by": "township"},
            headers=headers,
        )  # fmt: skip
        ranking = await api.get(
            "/api/v1/stats/rankings", params={"scope": COUNTY, "quarter": current_quarter()},
            headers=headers,
        )  # fmt: skip
    assert success.status_code == ranking.status_code == 200
    return success.json(), ranking.json()


@pytest.mark.postgresql_only
async def test_the_whole_story_in_chromium(app: FastAPI, client: AsyncClient, story: Story) -> None:
    base = story.base_url
    village = await make_admin(app, "village", DONGKOU_VILLAGE)
    neighbour = await make_admin(app, "village", OTHER_VILLAGE)
    county = await make_admin(app, "county", COUNTY)
    donor = await register_donor(client)
    rows = households()
    secrets = {str(value) for row in rows for value in row[1:4]}
    names = {str(row[1]) for row in rows}

    # 1. The village admin imports 20 households from a sheet with one bad row.
    office = await (await story.context(viewport={"width": 1280, "height": 900})).new_page()
    await story.sign_in(office, village.username, "households")
    await office.goto(f"{base}/console/households/import")
    await story.shot(office, "import")
    upload = {"name": "households.xlsx", "mimeType": XLSX, "buffer": sheet(rows, HEADINGS)}
    await office.set_input_files("#file", upload)
    await office.click("button[value=dry]")
    report = await office.inner_text("#bad-rows")
    assert f"第 {BAD_ROW} 行" in report
    assert "联系电话" in report
    assert "钱多多" not in await office.content()
    await story.shot(office, "import-dry-run")
    await office.set_input_files("#file", upload)
    await office.click("button[value=commit]")
    assert await office.inner_text("[data-count=created]") == "20"
    await story.shot(office, "import-committed")

    refused = await office.context.request.post(
        f"{base}/console/households/new",
        form={"village_code": DONGKOU_VILLAGE, "head_name": "伪造", "id_number": id_number(),
              "phone": phone_number(), "size": "2", "support_category": "poor"},
        max_redirects=0,
    )  # fmt: skip
    assert refused.status == 403
    assert "表单已失效" in await refused.text()

    # 2. ... and posts a need for the first household.
    await office.goto(f"{base}/console/households")
    await story.shot(office, "households")
    household_url = base + (
        await office.locator("a", has_text="查看").first.get_attribute("href") or ""
    )
    await office.locator("a", has_text="发布需求").first.click()
    await office.select_option("#category", "goods")
    await office.fill("#title", "过冬棉被两床")
    await office.fill("#description", "家中两位老人怕冷，需要两床厚棉被")
    await office.fill("#value_yuan", "300")
    await office.select_option("#urgency", "3")
    await office.fill("#deadline", "2099-12-31")
    await story.shot(office, "need-form")
    await office.click("button[type=submit]:has-text('发布')")
    need_url = office.url.split("?")[0]
    assert await office.inner_text("#need-status") == "已发布"
    await story.shot(office, "need-posted")

    # Another village's admin does not find the household.
    other = await (await story.context()).new_page()
    await story.sign_in(other, neighbour.username, "households")
    answer = await other.goto(household_url)
    assert answer is not None
    assert answer.status == 404
    await story.shot(other, "not-found")

    # 3. A donor, at a phone's width and by keyboard, finds the need, claims and delivers it.
    phone = await (
        await story.context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    ).new_page()
    await phone.goto(f"{base}/console/login")
    await story.shot(phone, "donor-sign-in")
    await phone.focus("#username")
    ring = await phone.evaluate(FOCUS_RING)
    assert ring == ["solid", "rgb(26, 26, 26)", "rgb(255, 255, 255) 0px 0px 0px 2px"]
    await phone.keyboard.type(str(donor["username"]))
    await phone.keyboard.press("Tab")
    await phone.keyboard.type(PASSWORD)
    await phone.keyboard.press("Enter")
    await phone.wait_for_url("**/console/browse")
    await story.shot(phone, "donor-home")
    await phone.fill("#q", "棉被")
    await phone.select_option("#urgency", "3")
    await phone.click("button:has-text('查找')")
    donor_pages = [await phone.content()]
    await story.shot(phone, "donor-browse")
    await phone.click("a:has-text('过冬棉被两床')")
    donor_pages.append(await phone.content())
    await story.shot(phone, "donor-need")
    await phone.click("button:has-text('我来认领')")
    await story.shot(phone, "donor-claimed")
    await phone.goto(f"{base}/console/claims")
    donor_pages.append(await phone.content())
    await story.shot(phone, "donor-claims")
    await phone.fill("input[name=note]", "已送到村委会")
    await phone.click("button:has-text('已送达')")
    donor_pages.append(await phone.content())
    await story.shot(phone, "donor-delivered")
    await phone.goto(need_url)
    assert await phone.inner_text("#need-status") == "已送达"
    donor_pages.append(await phone.content())
    await story.shot(phone, "donor-need-delivered")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 375
    for page_html in donor_pages:
        text = html.unescape(page_html)
        assert personal_data_in(text, names) == []
        assert not any(secret in text for secret in secrets)

    # 4. The village admin confirms receipt and thanks the donor.
    await office.goto(need_url)
    await story.shot(office, "need-to-confirm")
    await office.fill("#thanks", "谢谢您的棉被！")
    await office.click("button:has-text('确认收到')")
    assert await office.inner_text("#need-status") == "已完成"
    await story.shot(office, "need-confirmed")

    # 5. The county admin sees this month's rate on the chart and exports the ranking.
    desk = await (await story.context(viewport={"width": 1280, "height": 900})).new_page()
    await story.sign_in(desk, county.username, "dashboard")
    success, ranking = await api_figures(base, county.username)
    month = label(period_start(today(), "month"), "month")
    township = next(g for g in success["groups"] if g["key"] == TOWNSHIP)
    rate = next(p for p in township["periods"] if p["period"] == month)["success_rate"]
    assert rate == 1.0
    cells = await desk.locator("#success-chart g.cell title").all_text_contents()
    assert f"{township['name']} {month}：对接成功率 {percent(rate)}（发布 1，完成 1）" in cells
    async with desk.expect_download() as info:
        await desk.click("#export-ranking")
    exported = story.shots / "ranking.xlsx"
    await (await info.value).save_as(exported)
    book = load_workbook(exported)
    lines = [list(line) for line in book.active.iter_rows(min_row=2, values_only=True)]
    expected = [
        [t["rank"], t["code"], t["name"], t["published"], t["fulfilled"], t["success_rate"]]
        + [v for m in t["months"] for v in (m["published"], m["fulfilled"], m["success_rate"])]
        for t in ranking["townships"]
    ]
    assert lines == expected
    assert [lines[0][1], lines[0][5]] == [TOWNSHIP, 1.0]
    for office_page in ("review", "matching"):
        await desk.goto(f"{base}/console/{office_page}")
        await story.shot(desk, office_page)

    assert {url.split("/console", 1)[0] for url in story.requested} == {base}
    shots = sorted(path.stem.split("-", 1)[1] for path in story.shots.glob("*.png"))
    assert len(shots) == story.taken
    assert {"sign-in", "not-found", "review", "matching", "dashboard"} <= set(shots)
