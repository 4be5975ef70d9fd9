"""Rows in every table of helpers and programmes, made through the API (the migration tests)."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient, Response

from tests.factories import make_household, phone_number
from tests.programmes.conftest import SPONSORSHIP, TODAY, TUTOR, TUTORING

Headers = dict[str, str]


def _ok(response: Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def fill(
    client: AsyncClient, county: Headers, village: Headers, donor: Headers, other: Headers
) -> None:
    """A key household with its helper, liaison and a help act; a tutoring pairing with a
    session, and a sponsorship pairing with its scheduled payment."""
    household = await make_household(client, village, key_household=True)
    path = f"/api/v1/households/{household['id']}"
    for role in ("helper", "liaison"):
        person = {"role": role, "name": "邓互助", "phone": phone_number()}
        _ok(await client.post(f"{path}/helpers", json=person, headers=village))
    act = {"acted_on": TODAY.isoformat(), "kind": "visit", "note": "走访"}
    _ok(await client.post(f"{path}/help-acts", json=act, headers=village))
    student = {"household_id": household["id"], "grade": 8, "subjects": ["math"],
               "slots": ["sat_morning"]}  # fmt: skip
    pairings = {}
    for body, volunteer, headers in (
        (TUTORING, TUTOR, donor),
        (SPONSORSHIP, {"amount_fen": 100_000}, other),
    ):
        programme = _ok(await client.post("/api/v1/programmes", json=body, headers=county))
        url = f"/api/v1/programmes/{programme['id']}"
        _ok(await client.post(f"{url}/students", json=student, headers=village))
        _ok(await client.post(f"{url}/volunteers", json=volunteer, headers=headers))
        run = _ok(await client.post(f"{url}/matching", headers=county))
        pairings[body["kind"]] = run["pairings"][0]["id"]
    lesson = {"held_on": TODAY.isoformat(), "minutes": 45}
    path = f"/api/v1/programme-pairings/{pairings['tutoring']}/sessions"
    _ok(await client.post(path, json=lesson, headers=donor))
