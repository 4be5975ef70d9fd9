"""Limits: page sizes, body sizes, failed sign-ins and bursts of claims, through the HTTP API.

The rate limits are counted by the ``limits`` library, in memory and in the real Redis at
``AIXIN_TEST_REDIS_URL`` (default 127.0.0.1:6379, a key prefix of its own per test). Without
Redis the Redis half is skipped with the reason, except under CI=true, where it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from limits import RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter
from pydantic import ValidationError
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.ratelimit import ProcessMemoryStorage
from app.core.settings import Settings
from app.main import create_app
from app.photos.router import upload_limit
from tests.conftest import TEST_SECRET, settings_for, unavailable
from tests.factories import (
    DONGKOU_VILLAGE,
    PASSWORD,
    admin_headers,
    assert_problem,
    make_household,
    post_need,
    register_donor,
    sign_in,
    unique,
)
from tests.security.body_scan import scanner

REDIS_URL = os.environ.get("AIXIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN = "/api/v1/auth/token"
HOME = "198.51.100.7"
ELSEWHERE = "203.0.113.9"
SIGN_IN_LIMITS = {
    "sign_in_failures_per_account": 3,
    "sign_in_failures_per_address": 5,
    "sign_in_window_seconds": 600,
}
Limited = Callable[..., Awaitable[tuple[FastAPI, AsyncClient]]]


async def redis_or_skip() -> str:
    """The test Redis URL, when a Redis answers there."""
    client = redis.asyncio.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        unavailable(f"Redis at {REDIS_URL} is unreachable: {exc}", "Redis")
    finally:
        await client.aclose()
    return REDIS_URL


def client_of(app: FastAPI, engine: AsyncEngine, address: str = HOME) -> AsyncClient:
    """A client over ``app`` that calls from ``address`` (its bodies scanned like any other)."""
    transport = ASGITransport(app=app, client=(address, 40000))
    hooks = scanner(TEST_SECRET, engine)
    return AsyncClient(transport=transport, base_url="http://aixin.test", event_hooks=hooks)


@pytest.fixture(params=["memory", "redis"])
async def limited(
    request: pytest.FixtureRequest,
    settings: Settings,
    engine: AsyncEngine,
    tmp_path: Path,
    client: AsyncClient,  # empties the tables afterwards
) -> AsyncIterator[Limited]:
    """Apps on the test database with the overrides given, counting in memory or in Redis,
    each with a client calling from ``HOME``.

    Apps made in one test share one Redis key prefix, as replicas of one deployment do.
    """
    storage = "memory://" if request.param == "memory" else await redis_or_skip()
    prefix = f"aixin-test-{uuid.uuid4().hex[:12]}"
    made: list[FastAPI] = []
    async with contextlib.AsyncExitStack() as clients:

        async def make(**overrides: object) -> tuple[FastAPI, AsyncClient]:
            values = {"rate_limit_storage_url": storage, "rate_limit_key_prefix": prefix}
            app = create_app(settings_for(settings.database_url, tmp_path, **values, **overrides))
            made.append(app)
            return app, await clients.enter_async_context(client_of(app, engine))

        yield make
    for app in made:
        await app.state.rate_limits.reset()
        await app.state.rate_limits.close()
        await app.state.database.dispose()


async def new_donor(http: AsyncClient) -> str:
    """The username of a donor registered through the API."""
    return str((await register_donor(http))["username"])


async def attempt(http: AsyncClient, username: str, password: str = PASSWORD) -> Response:
    return await http.post(TOKEN, data={"username": username, "password": password})


def assert_rate_limited(response: Response, *, window: int) -> int:
    """The 429 problem, checked; its Retry-After in seconds."""
    assert_problem(response, 429, "rate_limited")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window
    return retry_after


# -- page and body sizes -----------------------------------------------------------------------


def paged_operations(app: FastAPI) -> list[tuple[str, int]]:
    """Every GET that takes a ``limit``, with the largest page it allows."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            if parameter["name"] == "limit" and parameter["in"] == "query":
                found.append((path, int(parameter["schema"]["maximum"])))
    return found


async def test_every_paged_endpoint_refuses_a_page_over_its_maximum(
    app: FastAPI, client: AsyncClient
) -> None:
    headers = await admin_headers(app, client, "platform", "")
    operations = paged_operations(app)
    assert len(operations) >= 5, operations
    for path, maximum in operations:
        url = re.sub(r"\{[a-z_]+\}", "1", path)
        over = await client.get(url, params={"limit": maximum + 1}, headers=headers)
        problem = assert_problem(over, 422, "validation_failed")
        assert ["query", "limit"] in [error["loc"] for error in problem["errors"]], url
        at_most = await client.get(url, params={"limit": maximum}, headers=headers)
        assert at_most.status_code != 422, (url, at_most.text)


async def test_every_post_refuses_a_body_over_one_megabyte(
    app: FastAPI, client: AsyncClient
) -> None:
    """One megabyte, or for a photo's upload the photo's limit and room for its form."""
    headers = await admin_headers(app, client, "platform", "")
    uploads, upload_bytes = upload_limit(app.state.settings)
    paths = [path for path, ops in app.openapi()["paths"].items() if "post" in ops]
    assert len(paths) >= 10, paths
    for path in paths:
        url = re.sub(r"\{[a-z_]+\}", "1", path)
        size = upload_bytes if uploads.match(url) else 1024 * 1024
        body = b'{"x": "' + b"a" * size + b'"}'
        response = await client.post(
            url, content=body, headers=headers | {"Content-Type": "application/json"}
        )
        assert_problem(response, 413, "payload_too_large")


# -- failed sign-ins ---------------------------------------------------------------------------


async def test_repeated_failures_for_one_account_get_429_even_with_the_right_password(
    limited: Limited,
) -> None:
    _, http = await limited(**SIGN_IN_LIMITS)
    donor = await new_donor(http)
    for _ in range(3):
        assert_problem(await attempt(http, donor, "wrong password"), 401, "invalid_credentials")
    assert_rate_limited(await attempt(http, donor), window=600)
    assert_rate_limited(await attempt(http, donor.upper(), "wrong password"), window=600)


async def test_a_locked_account_leaves_other_accounts_and_sessions_alone(limited: Limited) -> None:
    _, http = await limited(**SIGN_IN_LIMITS)
    locked = await new_donor(http)
    other = await new_donor(http)
    session = (await attempt(http, locked)).json()
    for _ in range(4):
        await attempt(http, locked, "wrong password")
    assert (await attempt(http, other)).status_code == 200
    refreshed = await http.post(
        "/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text


async def test_successful_sign_ins_are_never_counted(limited: Limited) -> None:
    _, http = await limited(**SIGN_IN_LIMITS)
    donor = await new_donor(http)
    for _ in range(8):
        response = await attempt(http, donor)
        assert response.status_code == 200, response.text


async def test_a_right_password_clears_the_accounts_failures(limited: Limited) -> None:
    _, http = await limited(**(SIGN_IN_LIMITS | {"sign_in_failures_per_address": 100}))
    donor = await new_donor(http)
    for _ in range(3):
        for _ in range(2):
            assert (await attempt(http, donor, "wrong password")).status_code == 401
        assert (await attempt(http, donor)).status_code == 200


async def test_an_unknown_username_is_limited_exactly_like_a_known_one(limited: Limited) -> None:
    """The 429 tells no one whether the account exists."""
    _, http = await limited(**(SIGN_IN_LIMITS | {"sign_in_failures_per_address": 100}))
    known = await new_donor(http)
    answers = []
    for username in (known, unique("nobody")):
        statuses = [(await attempt(http, username, "wrong")).status_code for _ in range(4)]
        last = await attempt(http, username, "wrong")
        answers.append((statuses, last.status_code, last.json()["detail"].split(";")[0]))
    assert answers[0] == answers[1]
    assert answers[0][:2] == ([401, 401, 401, 429], 429)


async def test_failures_from_one_address_across_accounts_get_429_there_only(
    limited: Limited, engine: AsyncEngine
) -> None:
    app, http = await limited(**SIGN_IN_LIMITS)
    async with client_of(app, engine, ELSEWHERE) as other:
        donor = await new_donor(http)
        for _ in range(5):
            assert (await attempt(http, unique("sprayed"), "wrong")).status_code == 401
        assert_rate_limited(await attempt(http, donor), window=600)
        assert (await attempt(other, donor)).status_code == 200


async def test_many_people_signing_in_from_one_address_never_lock_it(limited: Limited) -> None:
    """A village office or a mobile network: only failures count against the address."""
    _, http = await limited(**SIGN_IN_LIMITS)
    donors = [await new_donor(http) for _ in range(8)]
    assert (await attempt(http, donors[0], "one typo")).status_code == 401
    for donor in donors:
        response = await attempt(http, donor)
        assert response.status_code == 200, response.text


async def test_concurrent_guesses_cannot_overrun_the_account_limit(limited: Limited) -> None:
    """The account's slot is taken before the password is checked."""
    _, http = await limited(**(SIGN_IN_LIMITS | {"sign_in_failures_per_address": 100}))
    donor = await new_donor(http)
    responses = await asyncio.gather(*(attempt(http, donor, f"guess {i}") for i in range(12)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [401] * 3 + [429] * 9


# -- bursts of claims --------------------------------------------------------------------------


async def published_needs(app: FastAPI, http: AsyncClient, count: int) -> list[int]:
    admin = await admin_headers(app, http, "village", DONGKOU_VILLAGE)
    households = [(await make_household(http, admin))["id"] for _ in range(count)]
    return [int((await post_need(http, admin, household))["id"]) for household in households]


async def donor(http: AsyncClient) -> dict[str, str]:
    """The headers of a new donor, signed in."""
    return await sign_in(http, await new_donor(http))


async def test_a_burst_of_claims_from_one_donor_gets_429_and_writes_nothing(
    limited: Limited,
) -> None:
    app, http = await limited(claims_per_donor=3, claim_window_seconds=600, max_open_claims=10)
    needs = await published_needs(app, http, 5)
    fast, other = await donor(http), await donor(http)
    for need in needs[:3]:
        response = await http.post(f"/api/v1/needs/{need}/claim", headers=fast)
        assert response.status_code == 201, response.text
    refused = await http.post(f"/api/v1/needs/{needs[3]}/claim", headers=fast)
    assert_rate_limited(refused, window=600)
    still = await http.get(f"/api/v1/needs/{needs[3]}", headers=fast)
    assert still.json()["status"] == "published"
    pairings = await http.get("/api/v1/pairings", headers=fast)
    assert len(pairings.json()["items"]) == 3
    response = await http.post(f"/api/v1/needs/{needs[3]}/claim", headers=other)
    assert response.status_code == 201, response.text


async def test_a_lost_claim_counts_toward_the_burst(limited: Limited) -> None:
    app, http = await limited(claims_per_donor=2, claim_window_seconds=600)
    (need,) = await published_needs(app, http, 1)
    winner, sniper = await donor(http), await donor(http)
    assert (await http.post(f"/api/v1/needs/{need}/claim", headers=winner)).status_code == 201
    for _ in range(2):
        lost = await http.post(f"/api/v1/needs/{need}/claim", headers=sniper)
        assert lost.status_code == 409, lost.text
    assert_rate_limited(await http.post(f"/api/v1/needs/{need}/claim", headers=sniper), window=600)


async def test_the_open_claims_limit_is_its_own_answer(limited: Limited) -> None:
    """Holding too many claims is not claiming too fast: 409/422 with its own code, not 429."""
    app, http = await limited(claims_per_donor=10, max_open_claims=2)
    needs = await published_needs(app, http, 3)
    headers = await donor(http)
    for need in needs[:2]:
        assert (await http.post(f"/api/v1/needs/{need}/claim", headers=headers)).is_success
    held = await http.post(f"/api/v1/needs/{needs[2]}/claim", headers=headers)
    assert held.status_code in {409, 422}, held.text
    assert held.json()["code"] == "too_many_open_claims"
    assert "retry-after" not in held.headers


async def test_a_claim_after_retry_after_seconds_goes_through(limited: Limited) -> None:
    app, http = await limited(claims_per_donor=1, claim_window_seconds=1)
    needs = await published_needs(app, http, 2)
    headers = await donor(http)
    assert (await http.post(f"/api/v1/needs/{needs[0]}/claim", headers=headers)).is_success
    refused = await http.post(f"/api/v1/needs/{needs[1]}/claim", headers=headers)
    await asyncio.sleep(assert_rate_limited(refused, window=1))
    response = await http.post(f"/api/v1/needs/{needs[1]}/claim", headers=headers)
    assert response.status_code == 201, response.text


# -- replicas and outages ----------------------------------------------------------------------


async def test_replicas_share_counters_through_redis_only(
    request: pytest.FixtureRequest, limited: Limited
) -> None:
    """Two apps of one deployment: with Redis a failure on one counts on the other."""
    shared = request.node.callspec.params["limited"] == "redis"
    (_, one), (_, two) = await limited(**SIGN_IN_LIMITS), await limited(**SIGN_IN_LIMITS)
    donor = await new_donor(one)
    for _ in range(3):
        await attempt(one, donor, "wrong")
    response = await attempt(two, donor)
    assert response.status_code == (429 if shared else 200), response.text


async def test_an_unreachable_redis_fails_open_and_says_so(
    settings: Settings,
    engine: AsyncEngine,
    tmp_path: Path,
    client: AsyncClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    overrides: dict[str, Any] = {**SIGN_IN_LIMITS, "claims_per_donor": 1}
    app = create_app(
        settings_for(
            settings.database_url,
            tmp_path,
            rate_limit_storage_url="redis://127.0.0.1:1/0",
            **overrides,
        )
    )
    try:
        async with client_of(app, engine) as http:
            username = await new_donor(http)
            statuses = [(await attempt(http, username, "wrong")).status_code for _ in range(6)]
            needs = await published_needs(app, http, 2)
            headers = await donor(http)
            claims = [
                (await http.post(f"/api/v1/needs/{need}/claim", headers=headers)).status_code
                for need in needs
            ]
    finally:
        await app.state.rate_limits.close()
        await app.state.database.dispose()
    assert statuses == [401] * 6
    assert claims == [201, 201]
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    warnings = [line for line in lines if line.get("logger") == "aixin.ratelimit"]
    assert warnings, lines
    assert (warnings[0]["event"], warnings[0]["level"]) == (
        "rate_limit_storage_unavailable",
        "warning",
    )


# -- settings ----------------------------------------------------------------------------------


def make_settings(**values: object) -> Settings:
    return Settings(_env_file=None, secret_key="k" * 40, **values)  # type: ignore[call-arg,arg-type]


@pytest.mark.parametrize(
    "url", ["memory://", "redis://127.0.0.1:6379/0", "rediss://cache:6380", "async+redis://h"]
)
def test_memory_and_redis_storages_are_accepted(url: str, tmp_path: Path) -> None:
    assert make_settings(data_dir=tmp_path, rate_limit_storage_url=url).rate_limit_storage_url


@pytest.mark.parametrize(
    "values",
    [
        {"rate_limit_storage_url": "memcached://127.0.0.1:11211"},
        {"rate_limit_storage_url": "127.0.0.1:6379"},
        {"sign_in_failures_per_account": 0},
        {"claims_per_donor": 0},
        {"claim_window_seconds": 0},
        {"rate_limit_key_prefix": "has space"},
    ],
    ids=["memcached", "no-scheme", "no-failures", "no-claims", "no-window", "bad-prefix"],
)
def test_a_storage_or_limit_that_cannot_work_is_refused(
    values: dict[str, object], tmp_path: Path
) -> None:
    with pytest.raises(ValidationError):
        make_settings(data_dir=tmp_path, **values)


def test_the_production_defaults_count_in_memory_with_sensible_limits(tmp_path: Path) -> None:
    settings = make_settings(data_dir=tmp_path)
    assert settings.rate_limit_storage_url == "memory://"
    assert 3 <= settings.sign_in_failures_per_account <= 20
    assert settings.sign_in_failures_per_address >= settings.sign_in_failures_per_account
    assert settings.sign_in_window_seconds >= 300
    assert settings.claims_per_donor > settings.max_open_claims


async def test_clearing_a_key_during_the_memory_expiry_pass_leaves_the_pass_whole() -> None:
    # Every hit schedules the library's expiry pass (one at a time, in ``storage.timer``); the
    # pass reads each listed key's events after an await. A right password clears the account's
    # key, which must not kill a pass that is under way.
    storage = ProcessMemoryStorage()
    limiter = MovingWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(5, 60)
    for key in ("first", "second", "third"):
        assert await limiter.hit(item, key)
    await storage.timer  # the pass those hits scheduled, run to its end
    assert await limiter.hit(item, "fourth")  # schedules the next pass
    await asyncio.sleep(0)  # which lists the keys and waits on a thread for the first
    await limiter.clear(item, "second")
    await storage.timer
    assert storage.timer.exception() is None
    assert (await limiter.get_window_stats(item, "second")).remaining == 5
    assert (await limiter.get_window_stats(item, "third")).remaining == 4
