"""Races on PostgreSQL through a real uvicorn with several worker processes.

Every request goes over loopback to one of the workers, so the contenders really run at once,
in separate processes with separate connection pools, and meet only in the database: claims on
the same needs, retries of one Idempotency-Key, matching runs on overlapping scopes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.core.idempotency_models import IdempotencyKey
from app.events.models import Event
from app.needs.models import Need
from app.offers.models import Offer
from app.pairings.models import Pairing
from tests.factories import (
    admin_headers,
    assert_problem,
    make_household,
    post_need,
    register_donor,
    sign_in,
    unique,
)
from tests.matchmaking.test_runs import VILLAGE_A, VILLAGE_B, need_in, offer
from tests.needs.test_concurrent_claims import assert_claimed_once_each

pytestmark = pytest.mark.postgresql_only

NEEDS, DONORS, CLAIMS_PER_DONOR = 50, 200, 5
# Setting up goes through the API too, a few requests at a time.
SETUP_CONCURRENCY = 16
T = TypeVar("T")
# What a loser of a race is told: the state no longer allows the step, or it moved meanwhile.
CONFLICT_CODES = {"invalid_transition", "need_changed", "pairing_changed", "concurrent_update"}


async def bounded(calls: Iterable[Awaitable[T]], limit: int = SETUP_CONCURRENCY) -> list[T]:
    """Await ``calls`` with at most ``limit`` running at once, results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return await asyncio.gather(*(one(call) for call in calls))


async def signed_in_donor(http: httpx.AsyncClient) -> dict[str, str]:
    return await sign_in(http, str((await register_donor(http))["username"]))


async def published_need(http: httpx.AsyncClient, admin: dict[str, str]) -> int:
    household = await make_household(http, admin)
    return int((await post_need(http, admin, household["id"]))["id"])


def no_server_errors(responses: Iterable[httpx.Response]) -> None:
    failures = [r for r in responses if r.status_code >= 500]
    assert not failures, [(r.status_code, r.text[:200]) for r in failures[:5]]


async def test_1000_claims_on_50_needs_from_200_donors_have_exactly_50_winners(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    admin = await admin_headers(app, http, "county", "430525")
    need_ids = await bounded(published_need(http, admin) for _ in range(NEEDS))
    donors = await bounded(signed_in_donor(http) for _ in range(DONORS))
    # Donor d tries needs d, d+1, ... d+4 (mod 50): every need is wanted by 20 donors, and no
    # donor goes past the limit of open claims, so the only reason to lose is the race.
    attempts = [
        (donors[d], need_ids[(d + k) % NEEDS])
        for k in range(CLAIMS_PER_DONOR)
        for d in range(DONORS)
    ]

    responses = await asyncio.gather(
        *(http.post(f"/api/v1/needs/{need}/claim", headers=h) for h, need in attempts)
    )

    no_server_errors(responses)
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: NEEDS, 409: len(attempts) - NEEDS}, statuses
    winners = [r.json()["need"]["id"] for r in responses if r.status_code == 201]
    assert sorted(winners) == sorted(need_ids)
    losses = Counter(r.json()["code"] for r in responses if r.status_code == 409)
    assert set(losses) <= {"already_claimed", "invalid_transition"}, losses
    await assert_claimed_once_each(app, need_ids)
    async with app.state.database.sessionmaker() as session:
        statuses_now = await session.scalars(select(Need.status).where(Need.id.in_(need_ids)))
        assert set(statuses_now) == {"claimed"}


async def test_ten_simultaneous_requests_with_one_idempotency_key_write_one_need(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    admin = await admin_headers(app, http, "county", "430525")
    household = await make_household(http, admin)
    title = unique("同一请求")
    body = {
        "household_id": household["id"],
        "category": "goods",
        "title": title,
        "description": "手机网络不好，同一请求发了十次",
        "value_fen": 20_000,
        "deadline": "2099-01-01",
    }
    headers = admin | {"Idempotency-Key": str(uuid.uuid4())}

    responses = await asyncio.gather(
        *(http.post("/api/v1/needs", json=body, headers=headers) for _ in range(10))
    )

    no_server_errors(responses)
    created = [r for r in responses if r.status_code == 201]
    originals = [r for r in created if "idempotent-replayed" not in r.headers]
    assert len(originals) == 1, [r.status_code for r in responses]
    first = originals[0]
    assert all(r.content == first.content for r in created)
    for response in responses:
        if response.status_code != 201:
            assert_problem(response, 409, "idempotency_in_progress")
            assert response.headers["retry-after"]
    later = await http.post("/api/v1/needs", json=body, headers=headers)
    assert (later.status_code, later.content) == (201, first.content)
    assert later.headers["idempotent-replayed"] == "true"
    async with app.state.database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).where(Need.title == title)) == 1
        states = await session.scalars(select(IdempotencyKey.state))
        assert list(states) == ["completed"]


async def test_simultaneous_runs_on_overlapping_scopes_never_propose_twice_or_overbook(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    county = await admin_headers(app, http, "county", "430525")
    township_a = await admin_headers(app, http, "township", VILLAGE_A[:9])
    township_b = await admin_headers(app, http, "township", VILLAGE_B[:9])
    await bounded(need_in(http, county, village) for village in [VILLAGE_A, VILLAGE_B] * 15)
    donors = await bounded(signed_in_donor(http) for _ in range(6))
    # 22 units for 30 needs: county-wide offers can serve either township, the others only A.
    offers = await bounded(
        [offer(http, donor, capacity=4, region_preference="430525") for donor in donors[:4]]
        + [offer(http, donor, capacity=3, region_preference=VILLAGE_A[:9]) for donor in donors[4:]]
    )
    runs = [(county, "430525"), (township_a, VILLAGE_A[:9]), (township_b, VILLAGE_B[:9])] * 2

    responses = await asyncio.gather(
        *(
            http.post("/api/v1/matching/runs", json={"scope": scope}, headers=admin)
            for admin, scope in runs
        )
    )

    no_server_errors(responses)
    assert [r.status_code for r in responses] == [201] * len(runs), [r.text for r in responses]
    proposed = await proposals(app)
    assert len(proposed) == sum(r.json()["pairs_proposed"] for r in responses) > 0
    per_need = Counter(need_id for need_id, _, _ in proposed)
    assert max(per_need.values()) == 1
    per_offer = Counter(offer_id for _, offer_id, _ in proposed)
    for created in offers:
        assert per_offer[created["id"]] <= created["capacity"], (created, per_offer)
        village_prefix = created["region_preference"]
        assert all(v.startswith(village_prefix) for _, o, v in proposed if o == created["id"])


async def proposals(app: FastAPI) -> list[Any]:
    """(need, offer, village) of every open proposal, with the offers' capacity checked."""
    async with app.state.database.sessionmaker() as session:
        rows = await session.execute(
            select(Pairing.need_id, Pairing.offer_id, Need.village_code)
            .join(Need, Need.id == Pairing.need_id)
            .where(Pairing.status == "proposed")
        )
        overbooked = await session.scalar(
            select(func.count()).where(Offer.capacity_used > Offer.capacity)
        )
    assert overbooked == 0
    return list(rows.all())


async def test_accept_and_decline_of_one_proposal_at_once_have_one_winner(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    """Reproduction: both answered 200, leaving a need claimed by nobody and a unit used up."""
    county = await admin_headers(app, http, "county", "430525")
    rounds = 10
    await bounded(need_in(http, county, VILLAGE_A) for _ in range(rounds))
    donors = await bounded(signed_in_donor(http) for _ in range(rounds))
    await bounded(offer(http, donor, capacity=1, region_preference="430525") for donor in donors)
    made = await http.post("/api/v1/matching/runs", json={"scope": "430525"}, headers=county)
    assert made.json()["pairs_proposed"] == rounds, made.text
    proposals = []
    for donor in donors:
        listed = await http.get("/api/v1/pairings?status=proposed", headers=donor)
        [proposal] = listed.json()["items"]
        proposals.append((donor, proposal["id"]))

    answers = await asyncio.gather(
        *(
            http.post(f"/api/v1/pairings/{pairing_id}/{answer}", headers=donor)
            for donor, pairing_id in proposals
            for answer in ("accept", "decline")
        )
    )

    no_server_errors(answers)
    for accept, decline in zip(answers[::2], answers[1::2], strict=True):
        assert sorted([accept.status_code, decline.status_code]) == [200, 409], (
            accept.text,
            decline.text,
        )
    async with app.state.database.sessionmaker() as session:
        rows = (
            await session.execute(
                select(Pairing.status, Need.status, Offer.capacity_used)
                .join(Need, Need.id == Pairing.need_id)
                .join(Offer, Offer.id == Pairing.offer_id)
                .where(Pairing.source == "match")
            )
        ).all()
    assert len(rows) == rounds
    for pairing_status, need_status, used in rows:
        assert (pairing_status, need_status, used) in {
            ("active", "claimed", 1),
            ("declined", "published", 0),
        }


async def test_six_admins_confirming_one_delivered_need_have_one_winner(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    """Reproduction: one 200, the rest 409, and about one need in five also a 500."""
    # Each of 10 needs gets 6 confirms and 6 disputes at once.
    admins = await bounded(admin_headers(app, http, "county", "430525") for _ in range(6))
    donors = await bounded(signed_in_donor(http) for _ in range(10))
    need_ids = await bounded(published_need(http, admins[0]) for _ in range(10))
    for need_id, donor in zip(need_ids, donors, strict=True):
        assert (await http.post(f"/api/v1/needs/{need_id}/claim", headers=donor)).is_success
        assert (await http.post(f"/api/v1/needs/{need_id}/deliver", headers=donor)).is_success

    responses = await asyncio.gather(
        *(
            http.post(f"/api/v1/needs/{need_id}/{step}", json=body, headers=admin)
            for need_id in need_ids
            for admin in admins
            for step, body in (("confirm", {"thanks": "谢谢"}), ("dispute", {"reason": "未收到"}))
        )
    )

    no_server_errors(responses)
    per_need = len(admins) * 2
    for index, need_id in enumerate(need_ids):
        mine = responses[index * per_need : (index + 1) * per_need]
        assert Counter(r.status_code for r in mine) == {200: 1, 409: per_need - 1}, need_id
        assert all(r.json()["code"] in CONFLICT_CODES for r in mine if r.status_code == 409)
    async with app.state.database.sessionmaker() as session:
        moves = await session.execute(
            select(Event.need_id, func.count())
            .where(Event.entity == "need", Event.action.in_(("confirm", "dispute")))
            .group_by(Event.need_id)
        )
        assert dict(moves.all()) == dict.fromkeys(need_ids, 1)
