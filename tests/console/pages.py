"""Driving the console as a browser does, over httpx: a cookie jar per person, forms with tokens."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from httpx import AsyncClient, Response
from openpyxl import Workbook  # type: ignore[import-untyped]

from tests.factories import PASSWORD

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
HEADINGS = ["村代码", "户主姓名", "身份证号", "联系电话", "家庭人口", "帮扶类别", "重点帮扶对象"]


def token_of(page: Response) -> str:
    """The CSRF token of the first form of a page."""
    found = TOKEN.search(page.text)
    assert found, page.text[:500]
    return html.unescape(found.group(1))


async def sign_in(browser: AsyncClient, username: str, password: str = PASSWORD) -> Response:
    """Sign in through the console's form; the answer (303 to the role's home on success)."""
    form = await browser.get("/console/login")
    return await browser.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token_of(form)},
    )


async def submit(
    browser: AsyncClient,
    page: str,
    action: str,
    data: dict[str, Any] | None = None,
    files: dict[str, Any] | None = None,
) -> Response:
    """Post a form of ``page`` to ``action`` with the page's token, as a browser would."""
    token = token_of(await browser.get(page))
    return await browser.post(action, data={**(data or {}), "csrf_token": token}, files=files)


def sheet(rows: Iterable[list[Any]], headings: list[str] = HEADINGS) -> bytes:
    """An .xlsx with the import's headings and ``rows``."""
    book = Workbook()
    worksheet = book.active
    worksheet.append(headings)
    for row in rows:
        worksheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload(content: bytes) -> dict[str, Any]:
    return {"file": ("households.xlsx", content, XLSX)}


async def signed_in(make: Callable[[], Awaitable[AsyncClient]], username: str) -> AsyncClient:
    """A new browser, signed in to the console as ``username``."""
    browser = await make()
    assert (await sign_in(browser, username)).status_code == 303
    return browser
