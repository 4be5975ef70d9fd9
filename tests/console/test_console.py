"""The console over the ASGI app, on both engines: sessions, CSRF, the import, scope, donors."""

from __future__ import annotations

import io
import re
from pathlib import Path

from fastapi import FastAPI, Response
from httpx import AsyncClient
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import func, select

from app.accounts.models import User
from app.console.session import end_session, start_session
from app.households.models import HouseholdAccess
from tests.conftest import settings_for
from tests.console.conftest import Browsers
from tests.console.pages import sheet, sign_in, submit, upload
from tests.factories import (
    DONGKOU_VILLAGE,
    OTHER_VILLAGE,
    id_number,
    make_admin,
    mobile_number,
    phone_number,
    png_bytes,
    register_by_phone,
    register_donor,
)
from tests.security.body_scan import personal_data_in


def counts(page: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', page)}


def household_form(**overrides: object) -> dict[str, object]:
    return {
        "village_code": DONGKOU_VILLAGE,
        "head_name": "欧阳春花",
        "id_number": id_number(),
        "phone": phone_number(),
        "size": "3",
        "support_category": "dibao",
        **overrides,
    }


async def village_admin(app: FastAPI, browsers: Browsers, village: str = DONGKOU_VILLAGE):  # type: ignore[no-untyped-def]
    admin = await make_admin(app, "village", village)
    browser = await browsers()
    assert (await sign_in(browser, admin.username)).status_code == 303
    return browser


async def test_sign_in_by_mobile_number_and_sign_out_ends_the_session(
    app: FastAPI, browsers: Browsers
) -> None:
    browser = await browsers()
    phone = mobile_number()
    await register_by_phone(app, browser, phone)

    signed_in = await sign_in(browser, phone)

    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/console/browse"
    cookie = signed_in.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/console" in cookie
    assert (await browser.get("/console/browse")).status_code == 200
    kept = browser.cookies.get("aixin_console")
    signed_out = await submit(browser, "/console/browse", "/console/logout")
    assert signed_out.status_code == 303
    browser.cookies.set("aixin_console", kept, domain="aixin.test", path="/console")
    again = await browser.get("/console/browse")
    assert again.status_code == 303
    assert again.headers["location"] == "/console/login"


async def test_a_wrong_password_is_a_readable_message(app: FastAPI, browsers: Browsers) -> None:
    admin = await make_admin(app, "village", DONGKOU_VILLAGE)
    browser = await browsers()

    answer = await sign_in(browser, admin.username, "not the password")

    assert answer.status_code == 401
    assert "用户名或密码错误" in answer.text or "密码" in answer.text
    assert "aixin_console=" not in answer.headers.get("set-cookie", "")
    assert (await sign_in(browser, "li\x00hua")).status_code == 422


async def test_a_form_posted_without_its_token_is_refused(app: FastAPI, browsers: Browsers) -> None:
    browser = await village_admin(app, browsers)
    form = household_form()

    missing = await browser.post("/console/households/new", data=form)
    forged = await browser.post("/console/households/new", data={**form, "csrf_token": "x" * 43})

    assert missing.status_code == forged.status_code == 403
    assert "表单已失效" in missing.text
    assert "没有找到受助户" in (await browser.get("/console/households")).text
    posted = await submit(browser, "/console/households/new", "/console/households/new", form)
    assert posted.status_code == 303


async def test_import_reports_bad_rows_commits_good_ones_and_is_idempotent(
    app: FastAPI, browsers: Browsers, engine: object
) -> None:
    browser = await village_admin(app, browsers)
    good = [["", f"张{n}", id_number(), phone_number(), 3, "低保", "否"] for n in range(3)]
    valid = id_number()
    broken = valid[:17] + ("0" if valid[17] != "0" else "1")  # a wrong check digit
    rows = [
        *good,
        ["", "李四", broken, phone_number(), 2, "低保", "是"],  # row 5: check digit
        ["", "王五", good[1][2], phone_number(), 2, "特困", "否"],  # row 6: twice in the file
        ["", "赵六", id_number(), "12345", 40, "富裕", "否"],  # row 7: phone, size, category
    ]
    content = sheet(rows)

    dry = await submit(
        browser, "/console/households/import", "/console/households/import",
        {"mode": "dry"}, upload(content),
    )  # fmt: skip

    assert dry.status_code == 200, dry.text
    assert counts(dry.text) == {"rows": 6, "new": 3, "existing": 0, "problems": 3}
    assert "第 5 行" in dry.text
    assert "身份证号校验位不正确" in dry.text
    assert "与第 3 行的身份证号重复" in dry.text
    assert "联系电话" in dry.text
    assert "家庭人口" in dry.text
    assert "帮扶类别" in dry.text
    assert personal_data_in(dry.text, {"李四", "王五", "赵六", "张0"}) == []
    assert "没有找到受助户" in (await browser.get("/console/households")).text

    committed = await submit(
        browser, "/console/households/import", "/console/households/import",
        {"mode": "commit"}, upload(content),
    )  # fmt: skip
    again = await submit(
        browser, "/console/households/import", "/console/households/import",
        {"mode": "commit"}, upload(content),
    )  # fmt: skip

    assert counts(committed.text) == {"rows": 6, "created": 3, "existing": 0, "problems": 3}
    assert counts(again.text) == {"rows": 6, "created": 0, "existing": 3, "problems": 3}
    listed = (await browser.get("/console/households")).text
    assert listed.count("/console/needs/new?household_id=") == 3


async def test_the_template_is_an_xlsx_with_the_headings(app: FastAPI, browsers: Browsers) -> None:
    browser = await village_admin(app, browsers)

    template = await browser.get("/console/households/import/template.xlsx")

    assert template.status_code == 200
    book = load_workbook(io.BytesIO(template.content), read_only=True)
    headings = next(book.worksheets[0].iter_rows(max_row=1, values_only=True))
    assert headings[:5] == ("村代码", "户主姓名", "身份证号", "联系电话", "家庭人口")


async def test_another_villages_household_is_not_found(app: FastAPI, browsers: Browsers) -> None:
    ours = await village_admin(app, browsers, DONGKOU_VILLAGE)
    theirs = await village_admin(app, browsers, OTHER_VILLAGE)
    posted = await submit(
        ours, "/console/households/new", "/console/households/new", household_form()
    )
    household_path = posted.headers["location"].split("?")[0]

    assert (await ours.get(household_path)).status_code == 200
    assert (await theirs.get(household_path)).status_code == 404
    edit = await submit(theirs, "/console/households/new", household_path, {"size": "5"})
    assert edit.status_code == 404


async def test_a_donor_finds_claims_and_delivers_and_sees_no_personal_data(
    app: FastAPI, browsers: Browsers
) -> None:
    office = await village_admin(app, browsers)
    household = household_form(head_name="司马光明")
    posted = await submit(office, "/console/households/new", "/console/households/new", household)
    household_id = posted.headers["location"].split("?")[0].rsplit("/", 1)[1]
    need = await submit(
        office, "/console/needs/new", "/console/needs/new",
        {"household_id": household_id, "category": "goods", "title": "过冬棉被两床",
         "description": "家中老人怕冷", "value_yuan": "300", "urgency": "3",
         "deadline": "2099-01-01", "origin": "admin"},
    )  # fmt: skip
    need_path = need.headers["location"].split("?")[0]
    picture = {"photo": ("quilt.png", png_bytes(), "image/png")}
    added = await submit(office, need_path, f"{need_path}/photos", files=picture)
    donor = await browsers()
    registered = await register_donor(donor)
    await sign_in(donor, str(registered["username"]))

    found = await donor.get("/console/browse", params={"q": "棉被", "urgency": "3"})
    shown = await donor.get(need_path)
    thumbnail = re.search(r'src="(/console/photos/\d+/thumbnail)"', shown.text)
    claimed = await submit(donor, need_path, f"{need_path}/claim")
    claims = await donor.get("/console/claims")
    delivered = await submit(donor, "/console/claims", f"{need_path}/deliver?back=/console/claims")
    confirmed = await submit(office, need_path, f"{need_path}/confirm", {"thanks": "谢谢您"})
    thanked = await donor.get(need_path)

    assert need_path in found.text
    assert added.status_code == 303
    assert thumbnail is not None
    assert (await donor.get(thumbnail.group(1))).headers["content-type"].startswith("image/")
    assert claimed.status_code == delivered.status_code == confirmed.status_code == 303
    assert "请在" in claims.text
    assert "已完成" in thanked.text
    assert "谢谢您" in thanked.text
    secrets = {household["head_name"], household["id_number"], household["phone"]}
    for page in (found, claims, thanked):
        assert personal_data_in(page.text, {str(household["head_name"])}) == []
        assert not any(str(secret) in page.text for secret in secrets)
    again = await submit(donor, need_path, f"{need_path}/claim")
    assert again.status_code == 409
    assert "不允许" in again.text or "状态" in again.text


async def test_the_roster_export_is_scoped_and_logged(
    app: FastAPI, browsers: Browsers, client: AsyncClient, engine: object
) -> None:
    office = await village_admin(app, browsers)
    for name in ("周一", "吴二"):
        await submit(
            office, "/console/households/new", "/console/households/new",
            household_form(head_name=name),
        )  # fmt: skip
    other = await village_admin(app, browsers, OTHER_VILLAGE)
    await submit(
        other, "/console/households/new", "/console/households/new",
        household_form(village_code=OTHER_VILLAGE, head_name="郑三"),
    )  # fmt: skip

    roster = await office.get("/console/exports/roster.xlsx")

    rows = list(load_workbook(io.BytesIO(roster.content)).active.iter_rows(values_only=True))
    assert sorted(row[3] for row in rows[1:]) == ["吴二", "周一"]
    async with app.state.database.sessionmaker() as session:
        exported = await session.scalar(
            select(func.count())
            .select_from(HouseholdAccess)
            .where(HouseholdAccess.action == "export")
        )
    assert exported == 2


def test_the_session_cookie_is_secure_only_in_production(tmp_path: Path) -> None:
    # Over plain http in development a Secure cookie would never come back; in production the
    # session must never travel unencrypted.
    donor = User(id=7, role="donor", scope_code=None, token_generation=0)
    for env, secure in (("development", False), ("production", True)):
        base = settings_for("sqlite+aiosqlite://", tmp_path)
        settings = base.model_copy(update={"env": env})
        started, ended = Response(), Response()
        start_session(started, settings, donor, "family")
        end_session(ended, settings)
        for response in (started, ended):
            cookie = response.headers["set-cookie"].lower()
            assert cookie.startswith("aixin_console=")
            assert ("; secure" in cookie) is secure, (env, cookie)
