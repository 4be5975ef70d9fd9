"""A need's life through the API: post, claim, deliver, confirm, and the ways back."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response

from tests.factories import (
    admin_headers,
    assert_problem,
    donor_headers,
    make_household,
    post_need,
)

Headers = dict[str, str]


@pytest.fixture
async def admin(app: FastAPI, client: AsyncClient) -> Headers:
    return await admin_headers(app, client, "village", "430525101201")


@pytest.fixture
async def donor(client: AsyncClient) -> Headers:
    return await donor_headers(client)


async def published_need(client: AsyncClient, admin: Headers, **overrides: object) -> dict:
    household = await make_household(client, admin)
    return await post_need(client, admin, household["id"], **overrides)


async def test_posted_need_is_published_with_version_and_village(
    client: AsyncClient, admin: Headers
) -> None:
    need = await published_need(client, admin)
    assert need["status"] == "published"
    assert need["version"] == 1
    assert need["village_code"] == "430525101201"
    assert need["village_name"] == "江口村"
    assert need["household"]["masked_name"] == "刘**"


async def test_a_household_origin_need_waits_for_review(
    client: AsyncClient, admin: Headers
) -> None:
    need = await published_need(client, admin, origin="household")
    assert need["status"] == "pending_review"
    assert need["published_at"] is None


async def test_value_over_the_category_cap_is_refused(client: AsyncClient, admin: Headers) -> None:
    household = await make_household(client, admin)
    response = await client.post(
        "/api/v1/needs",
        headers=admin,
        json={
            "household_id": household["id"],
            "category": "service",
            "title": "护理",
            "description": "长期护理",
            "value_fen": 300_001,
            "urgency": 2,
            "deadline": (dt.date.today() + dt.timedelta(days=9)).isoformat(),
        },
    )
    assert response.status_code == 409
    assert response.json()["code"] == "value_over_cap"


async def test_one_open_need_per_category_per_household(
    client: AsyncClient, admin: Headers
) -> None:
    household = await make_household(client, admin)
    await post_need(client, admin, household["id"], category="goods")
    await post_need(client, admin, household["id"], category="schooling")
    response = await client.post(
        "/api/v1/needs",
        headers=admin,
        json={
            "household_id": household["id"],
            "category": "goods",
            "title": "米",
            "description": "大米一袋",
            "value_fen": 100,
            "urgency": 1,
            "deadline": (dt.date.today() + dt.timedelta(days=9)).isoformat(),
        },
    )
    assert response.status_code == 409
    assert response.json()["code"] == "open_need_exists"


async def post_with_deadline(client: AsyncClient, admin: Headers, deadline: object) -> Response:
    household = await make_household(client, admin)
    body = {
        "household_id": household["id"],
        "category": "goods",
        "title": "米",
        "description": "大米",
        "value_fen": 100,
        "urgency": 1,
        "deadline": deadline,
    }
    return await client.post("/api/v1/needs", headers=admin, json=body)


@pytest.mark.parametrize("deadline", [4_102_444_800, 4_102_444_800.0, 20270131])
async def test_a_deadline_given_as_a_number_is_refused(
    client: AsyncClient, admin: Headers, deadline: object
) -> None:
    response = await post_with_deadline(client, admin, deadline)
    problem = assert_problem(response, 422, "validation_failed")
    assert problem["errors"][0]["loc"][-1] == "deadline"
    listed = await client.get("/api/v1/needs", headers=admin)
    assert listed.json()["items"] == []


async def test_a_deadline_in_the_past_is_refused(client: AsyncClient, admin: Headers) -> None:
    response = await post_with_deadline(client, admin, dt.date.today().isoformat())
    assert response.status_code == 422


async def test_claim_records_a_claim_pairing_with_its_prediction(
    client: AsyncClient, admin: Headers, donor: Headers
) -> None:
    need = await published_need(client, admin)
    response = await client.post(f"/api/v1/needs/{need['id']}/claim", headers=donor)
    assert response.status_code == 201
    body = response.json()
    assert body["need"]["status"] == "claimed"
    pairing = body["pairing"]
    assert pairing["source"] == "claim"
    assert pairing["status"] == "active"
    assert 0 < pairing["predicted_success"] < 1
    assert pairing["expires_at"] is not None


async def test_a_second_claimer_gets_409_with_a_reason(
    client: AsyncClient, admin: Headers, donor: Headers
) -> None:
    need = await published_need(client, admin)
    await client.post(f"/api/v1/needs/{need['id']}/claim", headers=donor)
    other = await donor_headers(client)
    response = await client.post(
        f"/api/v1/needs/{need['id']}/claim", headers={**other, "Accept-Language": "en"}
    )
    assert response.status_code == 409
    assert "claimed" in response.json()["detail"]


async def test_release_returns_the_need_to_the_pool(
    client: AsyncClient, admin: Headers, donor: Headers
) -> None:
    need = await published_need(client, admin)
    await client.post(f"/api/v1/needs/{need['id']}/claim", headers=donor)
    response = await client.post(f"/api/v1/needs/{need['id']}/release", headers=donor)
    assert response.status_code == 200
    assert response.json()["need"]["status"] == "published"
    assert response.json()["pairing"]["status"] == "released"


async def test_only_the_claimer_may_deliver(
    client: AsyncClient, admin: Headers, donor: Headers
) -> None:
    need = await published_need(client, admin)
    await client.post(f"/api/v1/needs/{need['id']}/claim", headers=donor)
    other = await donor_headers(client)
    response = await client.post(f"/api/v1/needs/{need['id']}/deliver", headers=other)
    assert response.status_code == 403
    assert response.json()["code"] == "not_claimer"


async def test_a_donor_cannot_confirm_its_own_delivery(
    client: AsyncClient, admin: Headers, donor: Headers
) -> None:
    need = await published_need(client, admin)
    await client.post(f"/api/v1/needs/{need['id']}/claim", headers=donor)
    await client.post(f"/api/v1/needs/{need['id']}/deliver", headers=donor)
    response = await client.post(f"/api/v1/needs/{need['id']}/confirm", headers=donor)
    assert response.status_code == 403
    current = await client.get(f"/api/v1/needs/{need['id']}", headers=admin)
    assert current.json()["status"] == "delivered"


async def test_confirmation_fulfils_the_need_and_the_donor_sees_the_thanks(
    client: AsyncClient, admin: Headers, donor: Headers
) -> None:
    need = await published_need(client, admin)
    await client.post(f"/api/v1/needs/{need['id']}/claim", headers=donor)
    await client.post(f"/api/v1/needs/{need['id']}/deliver", json={"note": "已送达"}, headers=donor)
    response = await client.post(
        f"/api/v1/needs/{need['id']}/confirm", json={"thanks": "感谢好心人"}, headers=admin
    )
    assert response.status_code == 200
    assert response.json()["need"]["status"] == "fulfilled"
    pairings = (await client.get("/api/v1/pairings", headers=donor)).json()["items"]
    assert [(p["status"], p["thanks"]) for p in pairings] == [("confirmed", "感谢好心人")]


async def test_a_dispute_sends_the_need_back_to_the_claimer(
    client: AsyncClient, admin: Headers, donor: Headers
) -> None:
    need = await published_need(client, admin)
    await client.post(f"/api/v1/needs/{need['id']}/claim", headers=donor)
    await client.post(f"/api/v1/needs/{need['id']}/deliver", headers=donor)
    response = await client.post(
        f"/api/v1/needs/{need['id']}/dispute", json={"reason": "未收到"}, headers=admin
    )
    assert response.status_code == 200
    assert response.json()["need"]["status"] == "claimed"
    assert response.json()["pairing"]["status"] == "active"
    again = await client.post(f"/api/v1/needs/{need['id']}/deliver", headers=donor)
    assert again.json()["need"]["status"] == "delivered"


async def test_events_record_every_step_with_actor_and_reason(
    client: AsyncClient, admin: Headers, donor: Headers
) -> None:
    need = await published_need(client, admin)
    await client.post(f"/api/v1/needs/{need['id']}/claim", headers=donor)
    await client.post(f"/api/v1/needs/{need['id']}/release", json={"reason": "没空"}, headers=donor)
    events = (await client.get(f"/api/v1/needs/{need['id']}/events", headers=admin)).json()
    steps = [(e["entity"], e["action"], e["from_status"], e["to_status"]) for e in events["items"]]
    assert steps == [
        ("need", "post", None, "published"),
        ("need", "claim", "published", "claimed"),
        ("pairing", "claim", None, "active"),
        ("need", "release", "claimed", "published"),
        ("pairing", "release", "active", "released"),
    ]
    assert events["items"][3]["reason"] == "没空"
    assert all(e["actor_id"] for e in events["items"])


async def test_a_donor_may_hold_a_limited_number_of_open_claims(
    client: AsyncClient, admin: Headers, donor: Headers
) -> None:
    for _ in range(5):
        need = await published_need(client, admin)
        claimed = await client.post(f"/api/v1/needs/{need['id']}/claim", headers=donor)
        assert claimed.status_code == 201
    sixth = await published_need(client, admin)
    response = await client.post(f"/api/v1/needs/{sixth['id']}/claim", headers=donor)
    assert response.status_code == 409
    assert response.json()["code"] == "too_many_open_claims"


async def test_delivering_a_claim_frees_a_place_under_the_cap_as_the_refusal_says(
    client: AsyncClient, admin: Headers, donor: Headers
) -> None:
    held = []
    for _ in range(5):
        need = await published_need(client, admin)
        assert (await client.post(f"/api/v1/needs/{need['id']}/claim", headers=donor)).is_success
        held.append(need["id"])
    sixth = await published_need(client, admin)
    refused = await client.post(
        f"/api/v1/needs/{sixth['id']}/claim", headers={**donor, "Accept-Language": "en"}
    )
    assert refused.status_code == 409
    assert "deliver or release one first" in refused.json()["detail"]

    delivered = await client.post(f"/api/v1/needs/{held[0]}/deliver", headers=donor)
    assert delivered.status_code == 200
    claimed = await client.post(f"/api/v1/needs/{sixth['id']}/claim", headers=donor)
    assert claimed.status_code == 201, claimed.text

    # A disputed delivery is back in the donor's hands, and counts again.
    disputed = await client.post(
        f"/api/v1/needs/{held[0]}/dispute", json={"reason": "未收到"}, headers=admin
    )
    assert disputed.status_code == 200
    seventh = await published_need(client, admin)
    again = await client.post(f"/api/v1/needs/{seventh['id']}/claim", headers=donor)
    assert again.status_code == 409
    assert again.json()["code"] == "too_many_open_claims"


async def test_edit_needs_the_current_version(client: AsyncClient, admin: Headers) -> None:
    need = await published_need(client, admin)
    url = f"/api/v1/needs/{need['id']}"
    missing = await client.patch(url, json={"title": "新标题"}, headers=admin)
    assert missing.status_code == 428
    edited = await client.patch(url, json={"title": "新标题"}, headers={**admin, "If-Match": '"1"'})
    assert edited.status_code == 200
    assert edited.json()["version"] == 2
    assert edited.headers["ETag"] == '"2"'
    stale = await client.patch(url, json={"title": "旧"}, headers={**admin, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await client.get(url, headers=admin)).json()["title"] == "新标题"


# 危房改造 and 产业发展 are worth more than a goods need may be: each has a cap of its own.
OWN_CAPS = {"housing": 5_000_000, "industry": 2_000_000}


@pytest.mark.parametrize("category", ["housing", "industry"])
async def test_a_housing_or_an_industry_need_goes_its_whole_life_under_its_own_cap(
    client: AsyncClient, admin: Headers, donor: Headers, category: str
) -> None:
    cap = OWN_CAPS[category]
    household = await make_household(client, admin)
    over = {
        "household_id": household["id"], "category": category, "title": "危房加固",
        "description": "屋顶漏雨，墙体开裂", "value_fen": cap + 1, "urgency": 3,
        "deadline": (dt.date.today() + dt.timedelta(days=60)).isoformat(),
    }  # fmt: skip
    refused = await client.post("/api/v1/needs", json=over, headers=admin)
    assert assert_problem(refused, 409, "value_over_cap")["cap_fen"] == cap
    need = await post_need(client, admin, household["id"], category=category, value_fen=cap)
    path = f"/api/v1/needs/{need['id']}"
    statuses = [need["status"]]
    for step, who in (("claim", donor), ("deliver", donor), ("confirm", admin)):
        response = await client.post(f"{path}/{step}", headers=who)
        assert response.status_code in (200, 201), response.text
        statuses.append(response.json()["need"]["status"])
    assert statuses == ["published", "claimed", "delivered", "fulfilled"]
    read = (await client.get(path, headers=admin)).json()
    assert (read["category"], read["value_fen"], read["status"]) == (category, cap, "fulfilled")
    pairings = (await client.get("/api/v1/pairings", headers=donor)).json()["items"]
    assert [(p["need_id"], p["status"]) for p in pairings] == [(need["id"], "confirmed")]
