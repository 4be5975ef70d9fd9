"""Matching runs through the API: proposals, their answers, and the scope rules."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select

from app.core.db import utcnow
from app.jobs import run_expiry
from app.offers.models import Offer
from app.pairings.models import Pairing
from tests.factories import admin_headers, assert_problem, donor_headers, make_household, post_need

Headers = dict[str, str]
VILLAGE_A, VILLAGE_B = "430525101201", "430525102201"


@pytest.fixture
async def county(app: FastAPI, client: AsyncClient) -> Headers:
    return await admin_headers(app, client, "county", "430525")


async def need_in(client: AsyncClient, admin: Headers, village: str, **fields: object) -> dict:
    household = await make_household(client, admin, village_code=village)
    return await post_need(client, admin, household["id"], **fields)


async def offer(client: AsyncClient, donor: Headers, **fields: object) -> dict:
    body = {
        "category": "goods",
        "title": "棉被",
        "description": "冬季棉被",
        "capacity": 1,
        "region_preference": "430525",
        **fields,
    }
    response = await client.post("/api/v1/offers", json=body, headers=donor)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def run(client: AsyncClient, admin: Headers, scope: str = "430525", **fields: object) -> dict:
    response = await client.post(
        "/api/v1/matching/runs", json={"scope": scope, **fields}, headers=admin
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_matching_beats_first_come_on_the_two_need_scenario(
    client: AsyncClient, county: Headers
) -> None:
    # Offer A can serve either need; offer B only the first (it prefers village A).
    first = await need_in(client, county, VILLAGE_A)
    second = await need_in(client, county, VILLAGE_B)
    donor_a, donor_b = await donor_headers(client), await donor_headers(client)
    offer_a = await offer(client, donor_a, region_preference="430525")
    offer_b = await offer(client, donor_b, region_preference=VILLAGE_A)

    result = await run(client, county)
    assert result["pairs_proposed"] == 2
    assert result["needs_considered"] == 2
    assert result["offer_units"] == 2
    pairs = (
        await client.get(f"/api/v1/matching/runs/{result['id']}/pairings", headers=county)
    ).json()["items"]
    assert {(p["need_id"], p["offer_id"]) for p in pairs} == {
        (first["id"], offer_b["id"]),
        (second["id"], offer_a["id"]),
    }
    assert all(0 < p["predicted_success"] < 1 and p["status"] == "proposed" for p in pairs)


async def test_a_dry_run_reports_pairs_without_proposing(
    client: AsyncClient, county: Headers
) -> None:
    need = await need_in(client, county, VILLAGE_A)
    donor = await donor_headers(client)
    await offer(client, donor)
    result = await run(client, county, dry_run=True)
    assert result["dry_run"] is True
    assert [p["need_id"] for p in result["pairs"]] == [need["id"]]
    assert result["pairs_proposed"] == 0
    assert (await client.get("/api/v1/pairings?status=proposed", headers=donor)).json()[
        "items"
    ] == []


@pytest.mark.parametrize("dry_run", [0, "no", "false", None])
async def test_a_dry_run_flag_that_is_not_a_boolean_is_refused_and_runs_nothing(
    client: AsyncClient, county: Headers, dry_run: object
) -> None:
    # A lax parse read 0 as false and ran for real (found by fuzzing).
    await need_in(client, county, VILLAGE_A)
    await offer(client, await donor_headers(client))
    body = {"scope": "430525", "dry_run": dry_run}
    response = await client.post("/api/v1/matching/runs", json=body, headers=county)
    assert_problem(response, 422, "validation_failed")
    runs = await client.get("/api/v1/matching/runs", headers=county)
    assert runs.json()["items"] == []


async def test_a_run_never_proposes_a_need_twice(client: AsyncClient, county: Headers) -> None:
    await need_in(client, county, VILLAGE_A)
    donor = await donor_headers(client)
    await offer(client, donor, capacity=3)
    assert (await run(client, county))["pairs_proposed"] == 1
    assert (await run(client, county))["pairs_proposed"] == 0


async def test_the_donor_accepts_a_proposal(client: AsyncClient, county: Headers) -> None:
    need = await need_in(client, county, VILLAGE_A)
    donor = await donor_headers(client)
    pool = await offer(client, donor, capacity=1)
    await run(client, county)
    proposals = (await client.get("/api/v1/pairings?status=proposed", headers=donor)).json()
    [proposal] = proposals["items"]
    response = await client.post(f"/api/v1/pairings/{proposal['id']}/accept", headers=donor)
    assert response.status_code == 200, response.text
    assert response.json()["need"]["status"] == "claimed"
    assert response.json()["pairing"]["status"] == "active"
    current = (await client.get(f"/api/v1/offers/{pool['id']}", headers=donor)).json()
    assert (current["capacity_used"], current["status"]) == (1, "exhausted")
    events = (await client.get(f"/api/v1/needs/{need['id']}/events", headers=county)).json()
    steps = [(e["entity"], e["action"], e["to_status"]) for e in events["items"]][-3:]
    assert steps == [
        ("pairing", "propose", "proposed"),
        ("need", "accept", "claimed"),
        ("pairing", "accept", "active"),
    ]


async def test_a_proposal_carries_what_the_donor_needs_to_decide(
    client: AsyncClient, county: Headers
) -> None:
    deadline = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    need = await need_in(
        client, county, VILLAGE_A, title="书包两个", value_fen=12_000, urgency=3, deadline=deadline
    )
    donor = await donor_headers(client)
    await offer(client, donor, capacity=1)
    await run(client, county)
    [proposal] = (await client.get("/api/v1/pairings?status=proposed", headers=donor)).json()[
        "items"
    ]
    village = (await client.get(f"/api/v1/regions/{VILLAGE_A}")).json()["name"]
    summary = {
        "title": "书包两个", "category": "goods", "village_name": village, "value_fen": 12_000,
        "urgency": 3, "deadline": deadline,
    }  # fmt: skip
    assert (proposal["need_id"], proposal["need"]) == (need["id"], summary)
    assert 0 < proposal["predicted_success"] < 1
    declined = await client.post(f"/api/v1/pairings/{proposal['id']}/decline", headers=donor)
    assert declined.json()["pairing"]["need"] == summary


async def test_a_declined_proposal_frees_the_need_and_the_capacity(
    client: AsyncClient, county: Headers
) -> None:
    await need_in(client, county, VILLAGE_A)
    donor = await donor_headers(client)
    await offer(client, donor, capacity=1)
    await run(client, county)
    [proposal] = (await client.get("/api/v1/pairings?status=proposed", headers=donor)).json()[
        "items"
    ]
    declined = await client.post(f"/api/v1/pairings/{proposal['id']}/decline", headers=donor)
    assert declined.json()["pairing"]["status"] == "declined"
    assert declined.json()["need"]["status"] == "published"
    again = await run(client, county)
    assert (again["needs_considered"], again["offer_units"]) == (1, 1)


async def test_only_its_donor_answers_a_proposal_and_only_once(
    client: AsyncClient, county: Headers
) -> None:
    await need_in(client, county, VILLAGE_A)
    donor = await donor_headers(client)
    await offer(client, donor)
    await run(client, county)
    [proposal] = (await client.get("/api/v1/pairings?status=proposed", headers=donor)).json()[
        "items"
    ]
    other = await donor_headers(client)
    url = f"/api/v1/pairings/{proposal['id']}"
    assert (await client.post(f"{url}/accept", headers=other)).status_code == 404
    assert (await client.post(f"{url}/decline", headers=donor)).status_code == 200
    assert (await client.post(f"{url}/accept", headers=donor)).status_code == 409


async def test_a_direct_claim_supersedes_the_proposal(client: AsyncClient, county: Headers) -> None:
    need = await need_in(client, county, VILLAGE_A)
    donor = await donor_headers(client)
    await offer(client, donor)
    await run(client, county)
    claimer = await donor_headers(client)
    assert (
        await client.post(f"/api/v1/needs/{need['id']}/claim", headers=claimer)
    ).status_code == 201
    [proposal] = (await client.get("/api/v1/pairings", headers=donor)).json()["items"]
    assert proposal["status"] == "superseded"
    response = await client.post(f"/api/v1/pairings/{proposal['id']}/accept", headers=donor)
    assert response.status_code == 409


async def test_an_unanswered_proposal_lapses(
    app: FastAPI, client: AsyncClient, county: Headers
) -> None:
    await need_in(client, county, VILLAGE_A)
    donor = await donor_headers(client)
    await offer(client, donor)
    await run(client, county)
    result = await run_expiry(app.state.database, now=utcnow() + dt.timedelta(hours=73))
    assert result.lapsed_proposals == 1
    [proposal] = (await client.get("/api/v1/pairings", headers=donor)).json()["items"]
    assert proposal["status"] == "expired"
    assert (await run(client, county))["needs_considered"] == 1


async def test_runs_are_for_county_and_township_admins_in_scope(
    app: FastAPI, client: AsyncClient
) -> None:
    village = await admin_headers(app, client, "village", VILLAGE_A)
    township = await admin_headers(app, client, "township", "430525101")
    donor = await donor_headers(client)
    assert (
        await client.post("/api/v1/matching/runs", json={"scope": "430525101"}, headers=village)
    ).status_code == 403
    assert (
        await client.post("/api/v1/matching/runs", json={"scope": "430525"}, headers=donor)
    ).status_code == 403
    outside = await client.post(
        "/api/v1/matching/runs", json={"scope": "430525102"}, headers=township
    )
    assert outside.status_code == 404
    mine = await run(client, township, scope="430525101")
    county = await admin_headers(app, client, "county", "430525")
    assert (
        await client.get(f"/api/v1/matching/runs/{mine['id']}", headers=county)
    ).status_code == 200
    other = await admin_headers(app, client, "township", "430525102")
    assert (
        await client.get(f"/api/v1/matching/runs/{mine['id']}", headers=other)
    ).status_code == 404
    assert (await client.get("/api/v1/matching/runs", headers=other)).json()["items"] == []


async def test_concurrent_runs_on_overlapping_scopes_propose_each_need_once(
    app: FastAPI, client: AsyncClient, county: Headers
) -> None:
    if app.state.settings.is_sqlite:
        pytest.skip("SQLite has one writer: runs cannot overlap there")
    township = await admin_headers(app, client, "township", "430525101")
    for _ in range(6):
        await need_in(client, county, VILLAGE_A)
    donor = await donor_headers(client)
    await offer(client, donor, capacity=4)
    responses = await asyncio.gather(
        client.post("/api/v1/matching/runs", json={"scope": "430525"}, headers=county),
        client.post("/api/v1/matching/runs", json={"scope": "430525101"}, headers=township),
    )
    assert [r.status_code for r in responses] == [201, 201]
    assert sum(r.json()["pairs_proposed"] for r in responses) == 4
    async with app.state.database.sessionmaker() as session:
        per_need = (
            await session.execute(
                select(Pairing.need_id, func.count())
                .where(Pairing.status == "proposed")
                .group_by(Pairing.need_id)
            )
        ).all()
        assert all(count == 1 for _, count in per_need)
        capacity = await session.scalar(select(Offer.capacity))
        assert len(per_need) <= capacity


async def test_infeasible_pairs_are_never_proposed(
    app: FastAPI, client: AsyncClient, county: Headers
) -> None:
    need = await need_in(client, county, VILLAGE_A, value_fen=50_000)
    donor = await donor_headers(client)
    await offer(client, donor, category="schooling")  # another category
    await offer(client, donor, region_preference=VILLAGE_B)  # another village
    await offer(client, donor, value_cap_fen=10_000)  # the need is worth more
    withdrawn = await offer(client, donor)
    await client.post(f"/api/v1/offers/{withdrawn['id']}/withdraw", headers=donor)
    await offer(client, donor, region_preference="430522")  # another county

    result = await run(client, county)
    assert (result["needs_considered"], result["pairs_proposed"]) == (1, 0)
    assert result["offers_considered"] == 3  # withdrawn and out-of-county offers not loaded
    assert all(block["matched"] == 0 for block in result["blocks"])

    fitting = await offer(client, donor, value_cap_fen=50_000)
    result = await run(client, county)
    pairs = (
        await client.get(f"/api/v1/matching/runs/{result['id']}/pairings", headers=county)
    ).json()["items"]
    assert [(p["need_id"], p["offer_id"]) for p in pairs] == [(need["id"], fitting["id"])]


async def test_an_empty_scope_runs_cleanly(client: AsyncClient, county: Headers) -> None:
    result = await run(client, county)
    assert (result["needs_considered"], result["offer_units"], result["pairs_proposed"]) == (
        0,
        0,
        0,
    )
    assert result["blocks"] == []
    assert result["objective"] == 0
    one_sided = await need_in(client, county, VILLAGE_A)
    result = await run(client, county, dry_run=True)
    assert result["needs_considered"] == 1
    assert result["pairs"] == []
    assert one_sided["status"] == "published"


async def test_the_run_records_blocks_parameters_and_timings(
    client: AsyncClient, county: Headers
) -> None:
    for village in (VILLAGE_A, VILLAGE_A, VILLAGE_B):
        await need_in(client, county, village)
    await need_in(client, county, VILLAGE_A, category="schooling", title="学费", value_fen=1000)
    donor = await donor_headers(client)
    await offer(client, donor, capacity=2)
    await offer(client, donor, category="schooling", region_preference="")
    result = await run(client, county)
    assert result["pairs_proposed"] == 3
    assert sorted(b["category"] for b in result["blocks"]) == ["goods", "schooling"]
    assert sum(b["matched"] for b in result["blocks"]) == 3
    assert {b["path"] for b in result["blocks"]} <= {"dense", "sparse"}
    assert result["parameters"]["prior"] == 0.685
    assert result["load_seconds"] >= 0
    assert result["solve_seconds"] >= 0
    assert result["expected_successes"] == pytest.approx(3 * 0.685)
    fetched = (await client.get(f"/api/v1/matching/runs/{result['id']}", headers=county)).json()
    assert fetched["blocks"] == result["blocks"]
    listed = (await client.get("/api/v1/matching/runs", headers=county)).json()["items"]
    assert [r["id"] for r in listed] == [result["id"]]


async def test_a_donor_record_raises_its_predicted_success(
    client: AsyncClient, county: Headers
) -> None:
    # The seasoned donor has one claim fulfilled; a new donor starts at the prior.
    seasoned, newcomer = await donor_headers(client), await donor_headers(client)
    done = await need_in(client, county, VILLAGE_B, category="health", title="药品")
    for step, headers in (("claim", seasoned), ("deliver", seasoned), ("confirm", county)):
        response = await client.post(f"/api/v1/needs/{done['id']}/{step}", headers=headers)
        assert response.status_code in (200, 201), response.text
    first = await need_in(client, county, VILLAGE_A)
    second = await need_in(client, county, VILLAGE_B)
    mine = await offer(client, seasoned)
    theirs = await offer(client, newcomer)
    result = await run(client, county, dry_run=True)
    probability = {p["offer_id"]: p["predicted_success"] for p in result["pairs"]}
    assert {p["need_id"] for p in result["pairs"]} == {first["id"], second["id"]}
    assert probability[theirs["id"]] == pytest.approx(0.685)
    assert probability[mine["id"]] == pytest.approx((1 + 10 * 0.685) / 11)


async def test_a_large_run_is_solved_in_the_worker_process_with_the_same_pairs(
    app: FastAPI, client: AsyncClient, county: Headers
) -> None:
    for village in (VILLAGE_A, VILLAGE_B, VILLAGE_A):
        await need_in(client, county, village)
    donor = await donor_headers(client)
    await offer(client, donor, capacity=2)
    await offer(client, donor, region_preference=VILLAGE_B)
    in_thread = await run(client, county, dry_run=True)
    settings = app.state.settings
    limit, settings.matching_inline_max_needs = settings.matching_inline_max_needs, 0
    try:  # every run goes to the worker process
        in_process = await run(client, county, dry_run=True)
    finally:
        settings.matching_inline_max_needs = limit
    assert in_process["pairs"] == in_thread["pairs"]
    assert len(in_process["pairs"]) == 3
    assert in_process["objective"] == in_thread["objective"]


@pytest.mark.parametrize("category", ["housing", "industry"])
async def test_a_housing_or_an_industry_offer_is_matched_to_a_need_of_its_category_and_cap(
    client: AsyncClient, county: Headers, category: str
) -> None:
    # Both needs are worth more than a goods need may be; the dearer one is over the offer's cap.
    need = await need_in(client, county, VILLAGE_A, category=category, value_fen=1_500_000)
    await need_in(client, county, VILLAGE_A, category=category, value_fen=1_600_001)
    await need_in(client, county, VILLAGE_A, category="goods")
    donor = await donor_headers(client)
    await offer(client, donor, category=category, capacity=3, value_cap_fen=1_600_000)
    result = await run(client, county)
    url = f"/api/v1/matching/runs/{result['id']}/pairings"
    [proposal] = (await client.get(url, headers=county)).json()["items"]
    assert proposal["need_id"] == need["id"]
    path = f"/api/v1/needs/{need['id']}"
    accepted = await client.post(f"/api/v1/pairings/{proposal['id']}/accept", headers=donor)
    assert accepted.json()["need"]["status"] == "claimed", accepted.text
    delivered = await client.post(f"{path}/deliver", headers=donor)
    assert delivered.json()["need"]["status"] == "delivered", delivered.text
    confirmed = await client.post(f"{path}/confirm", headers=county)
    assert confirmed.json()["need"]["status"] == "fulfilled", confirmed.text
    pairings = (await client.get("/api/v1/pairings", headers=donor)).json()["items"]
    assert [(p["id"], p["status"]) for p in pairings] == [(proposal["id"], "confirmed")]
