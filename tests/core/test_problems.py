"""The catalogue of problem codes is complete, and problems speak Chinese unless asked otherwise.

The catalogue is checked against the code: every problem code ``app/`` can raise (a ``code=``
or ``lost=`` literal, an exception class's own code, a code handed to ``problem_response``, the
codes of the HTTP layer) is in it, and nothing else. Then one error of each status the API gives
is asked for in zh-CN (by default and on request) and in English, with the same code.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response

from app.core import errors
from app.core.migrations import PROJECT_ROOT
from app.core.problems import CATALOGUE, TITLES_ZH, negotiate
from app.main import create_app
from app.needs.states import TABLE
from tests.conftest import settings_for
from tests.core.test_database_down import UNREACHABLE_URL
from tests.factories import (
    admin_headers,
    assert_problem,
    donor_headers,
    make_household,
    post_need,
    register_donor,
    unique,
)

CODE = r'"([a-z][a-z0-9_]*)"'
RAISED = [
    re.compile(rf"\b(?:code|lost)\s*(?::\s*str\s*)?=\s*{CODE}"),  # code="x", code: str = "x"
    re.compile(rf"\bstatus, code, title = \d+, {CODE}"),  # an exception class's own code
    re.compile(rf"\bcode, title = {CODE}"),
    re.compile(rf"\bproblem_response\(\s*\d+,\s*{CODE}"),  # answers made outside a handler
    re.compile(rf"_HTTP_CODES\.get\([^,]+,\s*{CODE}\)"),  # the HTTP layer's fallback
]


def raised_codes() -> dict[str, str]:
    """Every problem code written in app/, with a file that raises it."""
    found: dict[str, str] = {}
    for path in sorted((PROJECT_ROOT / "app").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern in RAISED:
            for match in pattern.finditer(text):
                found.setdefault(match.group(1), str(path.relative_to(PROJECT_ROOT)))
    for code in errors._HTTP_CODES.values():
        found.setdefault(code, "app/core/errors.py")
    return found


def test_the_catalogue_holds_exactly_the_codes_the_code_raises() -> None:
    raised = raised_codes()
    missing = {code: path for code, path in raised.items() if code not in CATALOGUE}
    assert not missing, f"add these codes to app/core/problems.py: {missing}"
    assert set(CATALOGUE) - set(raised) == set(), "codes no code raises any more"


def test_every_code_has_a_status_with_a_chinese_title_and_both_meanings() -> None:
    for code, problem in CATALOGUE.items():
        assert problem.status in TITLES_ZH, code
        assert problem.en, code
        assert problem.zh, code
        assert re.search(r"[\u4e00-\u9fff]", problem.zh), code
        assert "\n" not in problem.en + problem.zh, code


def test_the_readme_table_lists_every_code_with_its_status() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z0-9_]+)` \| (\d{3}) \|", readme, re.MULTILINE))
    assert rows == {code: str(problem.status) for code, problem in CATALOGUE.items()}


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "zh-CN"),
        ("", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-CN", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en-GB;q=0.8, zh;q=0.7", "en"),
        ("zh;q=0.5, en;q=0.6", "en"),
        ("en;q=0, zh", "zh-CN"),
        ("en;q=0", "zh-CN"),
        ("fr-FR, de;q=0.9", "zh-CN"),
        ("fr, en;q=0.1", "en"),
        ("*", "zh-CN"),
        ("EN", "en"),
        ("en;q=bad, zh;q=0.2", "zh-CN"),
        ("en;q=2", "zh-CN"),
        ("en, zh", "en"),
    ],
)
def test_accept_language_picks_the_acceptable_language_of_highest_weight(
    header: str | None, language: str
) -> None:
    assert negotiate(header) == language


# -- one error of each status, in both languages ----------------------------------------------

ENGLISH = {"Accept-Language": "en-US,en;q=0.9"}
CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
HAN = re.compile(r"[\u4e00-\u9fff]")


def assert_spoken(response: Response, status: int, code: str, language: str) -> dict[str, Any]:
    body = assert_problem(response, status, code)
    assert response.headers["content-language"] == language
    assert "Accept-Language" in response.headers["vary"]
    words = body["title"] + body["detail"]
    if language == "en":
        assert not HAN.search(words), words
        assert body["detail"] != CATALOGUE[code].zh
    else:
        assert body["title"] == TITLES_ZH.get(status) or code == "invalid_transition"
        assert HAN.search(body["detail"]), body["detail"]
    return body


async def in_each_language(
    send: Any, status: int, code: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The problem asked for with no Accept-Language, in Chinese and in English."""
    default = assert_spoken(await send({}), status, code, "zh-CN")
    chinese = assert_spoken(await send(CHINESE), status, code, "zh-CN")
    english = assert_spoken(await send(ENGLISH), status, code, "en")
    assert default["detail"] == chinese["detail"]
    return chinese, english


async def test_400_unparsable_body(app: FastAPI, client: AsyncClient) -> None:
    admin = await admin_headers(app, client, "village", "430525101201")
    headers = {**admin, "Content-Type": "application/json"}
    await in_each_language(
        lambda h: client.post("/api/v1/needs", content=b'{"a": "\xff"}', headers=headers | h),
        400,
        "bad_request",
    )


async def test_401_no_token(client: AsyncClient) -> None:
    _, english = await in_each_language(
        lambda h: client.get("/api/v1/me", headers=h), 401, "not_authenticated"
    )
    assert english["detail"] == "Sign in: this needs a bearer token"


async def test_403_a_donor_lists_admins(client: AsyncClient) -> None:
    donor = await donor_headers(client)
    await in_each_language(
        lambda h: client.get("/api/v1/admins", headers=donor | h), 403, "admin_only"
    )


async def test_404_an_unknown_region_and_an_unknown_route(client: AsyncClient) -> None:
    chinese, english = await in_each_language(
        lambda h: client.get("/api/v1/regions/430599", headers=h), 404, "region_not_found"
    )
    assert (chinese["title"], english["title"]) == ("未找到", "Not found")
    assert "430599" in english["detail"]
    await in_each_language(lambda h: client.get("/api/v1/nowhere", headers=h), 404, "not_found")


async def test_405_a_method_the_path_does_not_answer(client: AsyncClient) -> None:
    await in_each_language(
        lambda h: client.delete("/api/v1/regions", headers=h), 405, "method_not_allowed"
    )


async def test_409_a_step_the_state_does_not_allow_names_the_allowed_ones(
    app: FastAPI, client: AsyncClient
) -> None:
    admin = await admin_headers(app, client, "village", "430525101201")
    household = await make_household(client, admin)
    need = await post_need(client, admin, household["id"])
    url = f"/api/v1/needs/{need['id']}/deliver"
    donor = await donor_headers(client)
    chinese, english = await in_each_language(
        lambda h: client.post(url, headers=donor | h), 409, "invalid_transition"
    )
    assert chinese["title"] == "不允许的状态变更"
    allowed = TABLE.allowed("published")
    assert chinese["allowed"] == english["allowed"] == allowed
    assert (
        chinese["detail"] == f"当前状态（published）不允许此操作；允许的操作：{'、'.join(allowed)}"
    )
    assert f"allowed: {', '.join(allowed)}" in english["detail"]


async def test_409_with_the_extra_fields_in_the_chinese_detail(
    app: FastAPI, client: AsyncClient
) -> None:
    admin = await admin_headers(app, client, "village", "430525101201")
    household = await make_household(client, admin)
    body = {
        "household_id": household["id"], "category": "service", "title": "护理",
        "description": "护理一次", "value_fen": 10**9, "deadline": "2099-01-01",
    }  # fmt: skip
    chinese, _ = await in_each_language(
        lambda h: client.post("/api/v1/needs", json=body, headers=admin | h), 409, "value_over_cap"
    )
    assert chinese["detail"] == f"需求金额超过该类别的上限（{chinese['cap_fen']} 分）"


async def test_412_and_428_preconditions(app: FastAPI, client: AsyncClient) -> None:
    admin = await admin_headers(app, client, "village", "430525101201")
    household = await make_household(client, admin)
    url = f"/api/v1/needs/{(await post_need(client, admin, household['id']))['id']}"
    edit = {"title": "新标题"}
    await in_each_language(
        lambda h: client.patch(url, json=edit, headers=admin | h), 428, "if_match_required"
    )
    stale = admin | {"If-Match": '"7"'}
    chinese, _ = await in_each_language(
        lambda h: client.patch(url, json=edit, headers=stale | h), 412, "version_mismatch"
    )
    assert (
        chinese["detail"]
        == f"记录已被修改（当前版本 {chinese['current_version']}），请重新读取后再试"
    )


async def test_413_a_body_over_the_limit(client: AsyncClient) -> None:
    body = b"{" + b" " * (1024 * 1024 + 1) + b"}"
    headers = {"Content-Type": "application/json"}
    await in_each_language(
        lambda h: client.post("/api/v1/auth/register", content=body, headers=headers | h),
        413,
        "payload_too_large",
    )


async def test_415_a_file_that_is_not_an_image(app: FastAPI, client: AsyncClient) -> None:
    admin = await admin_headers(app, client, "village", "430525101201")
    household = await make_household(client, admin)
    need = await post_need(client, admin, household["id"])
    html = {"file": ("photo.jpg", b"<html><body>hi</body></html>", "image/jpeg")}
    await in_each_language(
        lambda h: client.post(f"/api/v1/needs/{need['id']}/photos", files=html, headers=admin | h),
        415,
        "photo_type_unsupported",
    )


async def test_422_validation_keeps_its_field_errors(client: AsyncClient) -> None:
    chinese, english = await in_each_language(
        lambda h: client.post("/api/v1/auth/register", json={}, headers=h),
        422,
        "validation_failed",
    )
    assert chinese["title"] == "无法处理的请求"
    assert chinese["errors"] == english["errors"] != []
    await in_each_language(
        lambda h: client.post(
            "/api/v1/auth/register",
            content=b"{not json",
            headers={"Content-Type": "application/json"} | h,
        ),
        422,
        "malformed_json",
    )


async def test_429_too_many_failed_sign_ins(client: AsyncClient) -> None:
    username = unique("nobody")
    form = {"username": username, "password": "wrong"}
    for _ in range(10):
        response = await client.post("/api/v1/auth/token", data=form)
        assert response.status_code == 401
    chinese, english = await in_each_language(
        lambda h: client.post("/api/v1/auth/token", data=form, headers=h), 429, "rate_limited"
    )
    assert (chinese["title"], english["title"]) == ("请求过多", "Too many requests")


async def test_409_a_taken_username_in_english_keeps_its_particulars(
    client: AsyncClient,
) -> None:
    donor = await register_donor(client)
    body = {"username": donor["username"], "password": "a long secret", "display_name": "李华",
            "kind": "individual"}  # fmt: skip
    _, english = await in_each_language(
        lambda h: client.post("/api/v1/auth/register", json=body, headers=h),
        409,
        "username_taken",
    )
    assert str(donor["username"]) in english["detail"]


@pytest.fixture
async def unreachable(tmp_path: Path) -> AsyncIterator[AsyncClient]:
    app = create_app(settings_for(UNREACHABLE_URL, tmp_path, db_connect_timeout_seconds=2))
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://aixin.test", timeout=10) as c:
        yield c
    await app.state.database.dispose()


async def test_503_the_database_cannot_be_reached(unreachable: AsyncClient) -> None:
    chinese, _ = await in_each_language(
        lambda h: unreachable.get("/api/v1/regions", headers=h), 503, "database_unavailable"
    )
    assert chinese["title"] == "服务不可用"
