"""Every (state, action) pair of the need's life, through the API.

Allowed pairs succeed and reach the state the table names; every other pair gets 409 naming the
allowed actions, and the need is left exactly as it was. (A need that was never published is
invisible to donors, so a donor's attempt on it is 404 rather than 409.)
"""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.jobs import run_expiry
from app.needs.states import ACTIONS, STATES, TABLE
from tests.factories import (
    admin_headers,
    donor_headers,
    make_household,
    post_need,
)

# action → (path, body, who acts)
REQUESTS: dict[str, tuple[str, dict[str, str] | None, str]] = {
    "approve": ("review", {"decision": "approve"}, "admin"),
    "reject": ("review", {"decision": "reject", "reason": "重复提交"}, "admin"),
    "claim": ("claim", None, "other_donor"),
    "release": ("release", None, "claimer"),
    "deliver": ("deliver", {"note": "已送到村委会"}, "claimer"),
    "confirm": ("confirm", {"thanks": "谢谢您"}, "admin"),
    "dispute": ("dispute", {"reason": "未收到"}, "admin"),
    "cancel": ("cancel", {"reason": "不再需要"}, "admin"),
}

# How to bring a fresh need into each state: the actions to take after posting.
PATHS: dict[str, tuple[str, list[str]]] = {
    "pending_review": ("household", []),
    "published": ("admin", []),
    "claimed": ("admin", ["claim"]),
    "delivered": ("admin", ["claim", "deliver"]),
    "fulfilled": ("admin", ["claim", "deliver", "confirm"]),
    "rejected": ("household", ["reject"]),
    "cancelled": ("admin", ["cancel"]),
    "expired": ("admin", ["<deadline passes>"]),
}


class Actors:
    def __init__(self, admin: dict[str, str], claimer: dict[str, str], other: dict[str, str]):
        self.headers = {"admin": admin, "claimer": claimer, "other_donor": other}


async def act(
    client: AsyncClient, actors: Actors, need_id: object, action: str, *, as_claimer: bool = False
) -> tuple[int, dict[str, object]]:
    path, body, who = REQUESTS[action]
    if as_claimer and action == "claim":
        who = "claimer"
    response = await client.post(
        f"/api/v1/needs/{need_id}/{path}", json=body, headers=actors.headers[who]
    )
    return response.status_code, response.json()


async def need_in_state(
    app: FastAPI, client: AsyncClient, actors: Actors, state: str
) -> dict[str, object]:
    origin, steps = PATHS[state]
    household = await make_household(client, actors.headers["admin"])
    need = await post_need(client, actors.headers["admin"], household["id"], origin=origin)
    for step in steps:
        if step == "<deadline passes>":
            deadline = dt.date.fromisoformat(str(need["deadline"]))
            later = dt.datetime.combine(deadline + dt.timedelta(days=1), dt.time(), dt.UTC)
            await run_expiry(app.state.database, now=later)
            continue
        status, body = await act(client, actors, need["id"], step, as_claimer=True)
        assert status in (200, 201), body
    current = await client.get(f"/api/v1/needs/{need['id']}", headers=actors.headers["admin"])
    assert current.json()["status"] == state
    return dict(current.json())


def test_the_table_covers_every_state() -> None:
    assert set(PATHS) == set(STATES)
    assert set(TABLE.actions) >= set(ACTIONS)
    assert set(REQUESTS) == set(ACTIONS)


@pytest.mark.parametrize("state", STATES)
async def test_every_action_from_state(app: FastAPI, client: AsyncClient, state: str) -> None:
    admin = await admin_headers(app, client, "county", "430525")
    for action in ACTIONS:
        # Fresh donors for each need, so that no donor reaches the open-claims limit.
        actors = Actors(admin, await donor_headers(client), await donor_headers(client))
        before = await need_in_state(app, client, actors, state)
        status, body = await act(client, actors, before["id"], action)
        after = (
            await client.get(f"/api/v1/needs/{before['id']}", headers=actors.headers["admin"])
        ).json()
        transition = TABLE.moves.get((state, action))
        if transition is not None:
            assert status in (200, 201), (state, action, body)
            assert after["status"] == transition.to, (state, action)
            assert after["version"] == before["version"] + 1
        elif REQUESTS[action][2] != "admin" and before["published_at"] is None:
            # A need that was never published does not exist for donors: 404, not 409.
            assert status == 404, (state, action, body)
            assert after == before, (state, action)
        else:
            assert status == 409, (state, action, body)
            assert body["code"] == "invalid_transition"
            assert body["allowed"] == TABLE.allowed(state)
            assert after == before, (state, action)
