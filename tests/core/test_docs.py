"""/docs and /redoc work with no internet: every asset comes from the service itself.

The pages are read over the ASGI app, then opened in headless Chromium against a real uvicorn with
every other host unreachable: names resolve to nothing and any other address goes to a loopback
proxy that answers nothing and records what it was asked. No database is needed.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from app.core.settings import Settings
from app.main import create_app
from tests.conftest import settings_for, unavailable
from tests.live import live_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_SECONDS = 240
# Chromium itself asks Google's services (its clock, updates, sign-in, autofill) whatever page
# it shows; a page's own requests to Google would be for fonts.
CHROMIUM_SERVICES = re.compile(r"(^|\.)(google\.com|googleapis\.com)$")
PAGE_FONTS = {"fonts.googleapis.com", "fonts.gstatic.com"}
PAGES = ("/docs", "/redoc")
CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
    ".json": ("application/json",),
    "": ("text/html",),
}
# Every path the pages name is quoted: attributes (href, src, spec-url) and Swagger UI's options.
QUOTED_PATH = re.compile(r"""["'](/[^"'\s]*)["']""")


@pytest.fixture(scope="module")
def docs_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("docs")
    return settings_for(f"sqlite+aiosqlite:///{data / 'unused.db'}", data)


@pytest.fixture(scope="module")
async def docs_app(docs_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(docs_settings)
    yield application
    await application.state.database.dispose()


@pytest.fixture
async def http(docs_app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(
        transport=ASGITransport(app=docs_app), base_url="http://aixin.test"
    ) as c:
        yield c


def referenced_paths(page: str) -> set[str]:
    return set(QUOTED_PATH.findall(page))


@pytest.mark.parametrize("page", PAGES)
async def test_page_names_no_other_origin(http: AsyncClient, page: str) -> None:
    response = await http.get(page)

    assert response.status_code == 200
    assert "//" not in response.text, "an absolute or scheme-relative URL"
    assert "googleapis" not in response.text
    assert referenced_paths(response.text) >= {"/openapi.json", "/docs/assets/favicon.png"}


@pytest.mark.parametrize("page", PAGES)
async def test_every_asset_a_page_names_is_served(http: AsyncClient, page: str) -> None:
    paths = referenced_paths((await http.get(page)).text)

    for path in sorted(paths):
        response = await http.get(path)
        assert response.status_code == 200, path
        expected = CONTENT_TYPES[Path(path).suffix]
        assert response.headers["content-type"].startswith(expected), path
        assert response.content, path


@pytest.mark.parametrize("page", PAGES)
async def test_browser_may_load_from_this_origin_only(http: AsyncClient, page: str) -> None:
    policy = (await http.get(page)).headers["content-security-policy"]

    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    for directive in ("script-src", "style-src", "img-src", "font-src", "connect-src"):
        assert "http" not in directives[directive]
        assert "*" not in directives[directive]


async def test_files_beside_the_assets_are_not_served(http: AsyncClient) -> None:
    assert (await http.get("/docs/assets/%2e%2e/core.py")).status_code == 404
    assert (await http.get("/docs/assets/")).status_code == 404


# -- in a browser, offline ---------------------------------------------------------------------


class Nowhere:
    """A proxy on loopback that answers nothing; it records the first line of each request."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def hosts(self) -> set[str]:
        """The hosts asked for, but Chromium's own services."""
        targets = (line.split(" ")[1] for line in self.requests if line.count(" ") >= 2)
        hosts = {urlsplit(t if "//" in t else f"//{t}").hostname or t for t in targets}
        return {h for h in hosts if h in PAGE_FONTS or not CHROMIUM_SERVICES.search(h)}

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                try:
                    first = connection.recv(4096).split(b"\r\n", 1)[0]
                except OSError:
                    first = b"(nothing sent)"
                self.requests.append(first.decode("latin-1"))

    def __enter__(self) -> Nowhere:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def offline_docs(
    docs_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Nowhere, Path]]:
    """A real server's base URL, the proxy every other address goes to, and a work folder."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing (Debian's chromium package)", "chromium")
    work = tmp_path_factory.mktemp("chromium")
    with live_server(docs_settings, work / "server.log") as base_url, Nowhere() as proxy:
        yield base_url, proxy, work


def chromium(url: str, action: str, proxy: Nowhere, work: Path) -> str:
    """Run headless Chromium on ``url`` with ``action`` (a --dump-dom or --screenshot flag)."""
    profile = work / f"profile-{len(list(work.glob('profile-*')))}"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{proxy.port}",
        "--window-size=1280,2000",
        "--virtual-time-budget=8000",
        action,
        url,
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as browser:
        try:
            out, err = browser.communicate(timeout=CHROMIUM_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(browser.pid, signal.SIGKILL)  # its renderers and helpers too
            browser.communicate()
            raise
    assert browser.returncode == 0, err[-2000:]
    shutil.rmtree(profile, ignore_errors=True)
    return out


def summaries(app: FastAPI) -> set[str]:
    document = app.openapi()
    return {
        operation["summary"]
        for operations in document["paths"].values()
        for operation in operations.values()
        if isinstance(operation, dict) and "summary" in operation
    }


def test_swagger_ui_renders_every_operation_offline(
    offline_docs: tuple[str, Nowhere, Path], docs_app: FastAPI
) -> None:
    base_url, proxy, work = offline_docs

    dom = chromium(f"{base_url}/docs", "--dump-dom", proxy, work)

    paths = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    assert paths == set(docs_app.openapi()["paths"])
    shown = re.findall(r'opblock-summary-description">([^<]*)<', dom)
    assert summaries(docs_app) <= {html.unescape(summary) for summary in shown}
    assert proxy.hosts() == set()


def test_redoc_renders_every_operation_offline(
    offline_docs: tuple[str, Nowhere, Path], docs_app: FastAPI
) -> None:
    base_url, proxy, work = offline_docs

    dom = html.unescape(chromium(f"{base_url}/redoc", "--dump-dom", proxy, work))

    missing = {summary for summary in summaries(docs_app) if summary not in dom}
    assert not missing
    assert proxy.hosts() == set()


def test_swagger_ui_screenshot_offline(offline_docs: tuple[str, Nowhere, Path]) -> None:
    base_url, proxy, work = offline_docs
    screenshot = work / "docs.png"

    chromium(f"{base_url}/docs", f"--screenshot={screenshot}", proxy, work)

    assert screenshot.read_bytes().startswith(b"\x89PNG")
    assert screenshot.stat().st_size > 50_000, "a blank page"
    assert proxy.hosts() == set()
