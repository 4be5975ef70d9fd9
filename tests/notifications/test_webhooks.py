"""Webhooks per the Standard Webhooks specification, to a real receiver on loopback."""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import random

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.core.settings import Settings
from app.notifications import ssrf
from app.notifications.delivery import MAX_ATTEMPTS, deliver_due
from tests.factories import assert_problem
from tests.notifications.conftest import a_need, assert_bodies_clean, people, webhook
from tests.notifications.receiver import Receiver, receiving


async def _deliveries(client: AsyncClient, hook: dict) -> list[dict]:  # type: ignore[type-arg]
    url = f"/api/v1/webhooks/{hook['id']}/deliveries"
    response = await client.get(url, headers=hook["headers"])
    assert response.status_code == 200, response.text
    items: list[dict] = response.json()["items"]  # type: ignore[type-arg]
    return items


def moments_end(moments: list[dt.datetime], clock: dt.datetime) -> dt.datetime:
    """Step the test clock for at most ten simulated minutes after the first attempt."""
    return (moments[0] if moments else clock) + dt.timedelta(minutes=10)


async def test_500_twice_then_200_is_one_delivery_after_3_attempts_with_growing_delays(
    app: FastAPI, client: AsyncClient, settings: Settings
) -> None:
    with receiving(Receiver(script=[500, 500])) as receiver:
        hook = await webhook(app, client, receiver.url, ["need.claimed"])
        receiver.secret = hook["secret"]
        assert hook["secret"].startswith("whsec_")
        who = await people(app, client)
        need_id = await a_need(client, who)
        await client.post(f"/api/v1/needs/{need_id}/claim", headers=who.donor)
        database, clock, rng = app.state.database, dt.datetime.now(dt.UTC), random.Random(3)
        moments = []
        while len(moments) < 3 and clock < moments_end(moments, clock):
            if await deliver_due(database, settings, now=clock, rng=rng):
                moments.append(clock)
            clock += dt.timedelta(seconds=5)
        [delivery] = await _deliveries(client, hook)
        assert delivery["status"] == "delivered"
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
        assert len(receiver.seen) == 1
        assert list(receiver.seen.values()) == [3]
        assert delivery["webhook_id"] in receiver.processed
        assert receiver.processed[delivery["webhook_id"]]["type"] == "need.claimed"
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(moments)]
        assert len(moments) == 3
        assert 0 < gaps[0] < gaps[1]
        assert_bodies_clean(receiver)


async def test_410_disables_the_endpoint(
    app: FastAPI, client: AsyncClient, settings: Settings
) -> None:
    with receiving(Receiver(default=410)) as receiver:
        hook = await webhook(app, client, receiver.url, ["need.claimed", "need.released"])
        receiver.secret = hook["secret"]
        who = await people(app, client)
        need_id = await a_need(client, who)
        await client.post(f"/api/v1/needs/{need_id}/claim", headers=who.donor)
        await deliver_due(app.state.database, settings)
        await client.post(f"/api/v1/needs/{need_id}/release", headers=who.donor)
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        assert await deliver_due(app.state.database, settings, now=later) == 0
        [listed] = (await client.get("/api/v1/webhooks", headers=hook["headers"])).json()["items"]
        assert listed["disabled_at"] is not None
        assert "410" in listed["disabled_reason"]
        statuses = sorted(d["status"] for d in await _deliveries(client, hook))
        assert statuses == ["dead"]
        assert len(receiver.arrivals) == 1


async def test_a_dead_letter_is_retried_by_hand_under_the_same_id(
    app: FastAPI, client: AsyncClient, settings: Settings
) -> None:
    with receiving(Receiver(default=503)) as receiver:
        hook = await webhook(app, client, receiver.url, ["need.claimed"])
        receiver.secret = hook["secret"]
        who = await people(app, client)
        need_id = await a_need(client, who)
        await client.post(f"/api/v1/needs/{need_id}/claim", headers=who.donor)
        clock = dt.datetime.now(dt.UTC)
        for _ in range(MAX_ATTEMPTS):
            assert await deliver_due(app.state.database, settings, now=clock) == 1
            clock += dt.timedelta(hours=10)
        [dead] = await _deliveries(client, hook)
        assert dead["status"] == "dead"
        assert len(dead["attempts"]) == MAX_ATTEMPTS
        receiver.default = 200
        url = f"/api/v1/webhooks/{hook['id']}/deliveries/{dead['id']}/retry"
        retried = await client.post(url, headers=hook["headers"])
        assert retried.status_code == 200
        assert retried.json()["status"] == "pending"
        assert_problem(await client.post(url, headers=hook["headers"]), 409, "invalid_transition")
        await deliver_due(app.state.database, settings)
        [done] = await _deliveries(client, hook)
        assert done["status"] == "delivered"
        assert set(receiver.seen) == {dead["webhook_id"]}
        assert receiver.seen[dead["webhook_id"]] == MAX_ATTEMPTS + 1
        assert_bodies_clean(receiver)


REFUSED = (
    "https://10.0.0.7/hook",
    "https://192.168.1.1/hook",
    "https://172.16.5.4/hook",
    "https://100.64.0.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://[fd00::1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://0.0.0.0/hook",
    "http://example.com/hook",
    "ftp://127.0.0.1/hook",
    "https://user:pw@127.0.0.1/hook",
)


async def test_the_ssrf_rule_refuses_private_and_plain_addresses(
    app: FastAPI, client: AsyncClient
) -> None:
    hook = await webhook(app, client, "http://127.0.0.1:9/ok", ["need.claimed"])
    for url in REFUSED:
        response = await client.post(
            "/api/v1/webhooks",
            json={"url": url, "events": ["need.claimed"]},
            headers=hook["headers"],
        )
        assert_problem(response, 422, "unprocessable")
    listed = (await client.get("/api/v1/webhooks", headers=hook["headers"])).json()["items"]
    assert [item["url"] for item in listed] == ["http://127.0.0.1:9/ok"]


def test_the_ssrf_rule_in_production_and_with_private_networks_allowed(settings: Settings) -> None:
    production = settings.model_copy(update={"env": "production"})
    with pytest.raises(ssrf.Refused):
        ssrf.check_form("http://127.0.0.1/hook", production)
    with pytest.raises(ssrf.Refused):
        ssrf.check_address(ipaddress.ip_address("127.0.0.1"), production)
    ssrf.check_address(ipaddress.ip_address("8.8.8.8"), production)
    allowed = production.model_copy(update={"webhook_allow_private_networks": True})
    ssrf.check_address(ipaddress.ip_address("10.1.2.3"), allowed)
    with pytest.raises(ssrf.Refused):
        ssrf.check_address(ipaddress.ip_address("169.254.169.254"), allowed)


async def test_a_name_resolving_to_a_private_address_is_refused(settings: Settings) -> None:
    # "localhost" resolves to loopback: allowed outside production, refused in it.
    await ssrf.check("http://localhost:9/hook", settings)
    production = settings.model_copy(update={"env": "production"})
    with pytest.raises(ssrf.Refused):
        await ssrf.check("https://localhost/hook", production)


def test_an_attempt_is_pinned_to_the_checked_address_under_its_own_name() -> None:
    v4 = ssrf.pinned("https://hooks.example.cn:8443/in?x=1", ipaddress.ip_address("203.0.113.7"))
    assert v4 == ssrf.Pinned(
        "https://203.0.113.7:8443/in?x=1", "hooks.example.cn:8443", "hooks.example.cn"
    )
    v6 = ssrf.pinned("https://hooks.example.cn/in", ipaddress.ip_address("2001:db8::7"))
    assert (v6.url, v6.host) == ("https://[2001:db8::7]/in", "hooks.example.cn")


async def test_a_delivery_to_a_name_goes_to_its_checked_address_with_the_name_as_host(
    app: FastAPI, client: AsyncClient, settings: Settings
) -> None:
    with receiving(Receiver()) as receiver:
        by_name = receiver.url.replace("127.0.0.1", "localhost")
        hook = await webhook(app, client, by_name, ["need.claimed"])
        receiver.secret = hook["secret"]
        who = await people(app, client)
        await client.post(f"/api/v1/needs/{await a_need(client, who)}/claim", headers=who.donor)
        assert await deliver_due(app.state.database, settings) == 1
        [arrival] = receiver.arrivals
        assert arrival["headers"]["host"] == by_name.split("/")[2]
        assert not receiver.unverified
        [delivery] = await _deliveries(client, hook)
        assert delivery["status"] == "delivered"


async def test_only_a_platform_admin_manages_webhooks(app: FastAPI, client: AsyncClient) -> None:
    who = await people(app, client)
    body = {"url": "http://127.0.0.1:9/hook", "events": ["need.claimed"]}
    for headers, code in ((who.village, "not_allowed"), (who.donor, "admin_only")):
        response = await client.post("/api/v1/webhooks", json=body, headers=headers)
        assert_problem(response, 403, code)
