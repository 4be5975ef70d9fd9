"""Every failure is an RFC 9457 problem carrying the request id; the id is echoed or generated.

None of these requests reaches a database: the application is built on a SQLite file that is
never opened.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from app.core.errors import PROBLEM_MEDIA_TYPE, install_error_handlers
from app.core.logging import configure_logging
from app.core.middleware import RequestMiddleware
from app.main import create_app
from tests.conftest import settings_for

ENGLISH = {"Accept-Language": "en"}
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
SECRET_MESSAGE = "connection string postgresql://admin:hunter2@db/aixin"


@pytest.fixture(scope="module")
async def http(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsyncClient]:
    """A client of the real application, with no database behind it."""
    data_dir = tmp_path_factory.mktemp("errors")
    app = create_app(settings_for(f"sqlite+aiosqlite:///{data_dir / 'unused.db'}", data_dir))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://aixin.test") as c:
        yield c
    await app.state.database.dispose()


@pytest.fixture(scope="module")
async def failing() -> AsyncIterator[AsyncClient]:
    """A tiny app, wired like the real one, whose only route fails unexpectedly."""
    configure_logging("INFO")
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestMiddleware)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(SECRET_MESSAGE)

    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://aixin.test") as c:
        yield c


async def test_an_unknown_route_is_a_404_problem(http: AsyncClient) -> None:
    response = await http.get("/api/v1/nowhere", headers=ENGLISH)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert (body["status"], body["code"], body["type"]) == (404, "not_found", "about:blank")
    assert body["detail"] == "No route for GET /api/v1/nowhere"


async def test_a_problem_carries_the_request_id_of_its_response(http: AsyncClient) -> None:
    response = await http.get("/api/v1/nowhere")
    assert GENERATED_ID.match(response.headers["x-request-id"])
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_each_request_gets_its_own_id(http: AsyncClient) -> None:
    first = await http.get("/healthz")
    second = await http.get("/healthz")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_wrong_method_is_a_405_problem(http: AsyncClient) -> None:
    response = await http.delete("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["allow"] == "GET"
    body = response.json()
    assert (body["status"], body["code"]) == (405, "method_not_allowed")
    assert body["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/me", "GET, PATCH"),
        ("/api/v1/needs/1", "GET, PATCH"),
        ("/api/v1/needs", "GET, POST"),
    ],
)
async def test_a_405_allows_every_method_of_the_path(
    http: AsyncClient, path: str, allowed: str
) -> None:
    response = await http.request("OPTIONS", path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed


@pytest.mark.parametrize(
    "offered", ["trace-1234", "a.b:c_d-E", "x" * 128], ids=["plain", "punctuation", "128-chars"]
)
async def test_a_sane_request_id_is_echoed(http: AsyncClient, offered: str) -> None:
    response = await http.get("/api/v1/nowhere", headers={"X-Request-ID": offered})
    assert response.headers["x-request-id"] == offered
    assert response.json()["request_id"] == offered


@pytest.mark.parametrize(
    "offered",
    ["has spaces", "x" * 129, "x" * 300, "semi;colon", "<script>", ""],
    ids=["spaces", "129-chars", "300-chars", "semicolon", "markup", "empty"],
)
async def test_an_insane_request_id_is_replaced(http: AsyncClient, offered: str) -> None:
    response = await http.get("/api/v1/nowhere", headers={"X-Request-ID": offered})
    replaced = response.headers["x-request-id"]
    assert replaced != offered
    assert GENERATED_ID.match(replaced)
    assert response.json()["request_id"] == replaced


async def test_an_unexpected_exception_is_a_bare_500_problem(failing: AsyncClient) -> None:
    response = await failing.get("/boom", headers=ENGLISH)
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert (body["status"], body["code"]) == (500, "internal_error")
    assert body["detail"] == "An unexpected error occurred"


async def test_a_500_reveals_nothing_of_the_exception(failing: AsyncClient) -> None:
    response = await failing.get("/boom")
    for leak in ("Traceback", "RuntimeError", "hunter2", SECRET_MESSAGE, ".py"):
        assert leak not in response.text


async def test_a_500_carries_the_request_id(failing: AsyncClient) -> None:
    response = await failing.get("/boom", headers={"X-Request-ID": "incident-42"})
    assert response.headers["x-request-id"] == "incident-42"
    assert response.json()["request_id"] == "incident-42"


async def test_a_500_logs_the_traceback_with_the_request_id(
    failing: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    await failing.get("/boom", headers={"X-Request-ID": "incident-43"})
    errors = [r for r in caplog.records if r.name == "aixin.errors"]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert errors[0].exc_info[0] is RuntimeError
    event = errors[0].msg
    assert isinstance(event, dict)
    assert event["request_id"] == "incident-43"


async def test_a_body_over_one_megabyte_gets_413_problem_details(client: AsyncClient) -> None:
    big = b'{"username": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    for headers in (
        {"content-type": "application/json"},
        {"content-type": "application/json", "Idempotency-Key": "big-1"},
    ):
        response = await client.post("/api/v1/auth/register", content=big, headers=headers)
        assert response.status_code == 413
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "payload_too_large"


async def test_a_streamed_body_over_the_limit_gets_413(client: AsyncClient) -> None:
    async def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(20):
            yield b"x" * 65536

    response = await client.post(
        "/api/v1/auth/register", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
