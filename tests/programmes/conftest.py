"""Programmes set up through the API: a county admin's programme, students and volunteers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from httpx import AsyncClient

from tests.factories import make_household

Headers = dict[str, str]
CST = dt.timezone(dt.timedelta(hours=8))
TODAY = dt.datetime.now(CST).date()
TUTORING = {
    "kind": "tutoring",
    "name": "云支教春季班",
    "term_start": (TODAY - dt.timedelta(days=10)).isoformat(),
    "term_end": (TODAY + dt.timedelta(days=110)).isoformat(),
    "sessions_per_term": 16,
}
SPONSORSHIP = {
    "kind": "sponsorship",
    "name": "一助一助学",
    "term_start": TODAY.isoformat(),
    "term_end": (TODAY + dt.timedelta(days=180)).isoformat(),
    "amount_per_term_fen": 100_000,
}
TUTOR = {
    "subjects": ["math", "english"],
    "grade_bands": ["junior"],
    "slots": ["sat_morning", "sun_evening"],
    "max_students": 1,
}


async def create(client: AsyncClient, county: Headers, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/programmes", json=body, headers=county)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def enrol(
    client: AsyncClient, admin: Headers, programme: dict[str, Any], **student: Any
) -> dict[str, Any]:
    household = await make_household(client, admin, key_household=True)
    body = {"household_id": household["id"], "grade": 8, **student}
    response = await client.post(
        f"/api/v1/programmes/{programme['id']}/students", json=body, headers=admin
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def volunteer(
    client: AsyncClient, donor: Headers, programme: dict[str, Any], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/programmes/{programme['id']}/volunteers", json=body, headers=donor
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def run(client: AsyncClient, county: Headers, programme: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/api/v1/programmes/{programme['id']}/matching", headers=county)
    assert response.status_code == 201, response.text
    return dict(response.json())
