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
    session, a sponsorship pairing with its scheduled payment, and a terminated one whose
    payment was received and refunded."""
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
        (SPONSORSHIP, {"amount_fen": 200_000, "max_students": 2}, other),
    ):
        programme = _ok(await client.post("/api/v1/programmes", json=body, headers=county))
        url = f"/api/v1/programmes/{programme['id']}"
        _ok(await client.post(f"{url}/students", json=student, headers=village))
        if body is SPONSORSHIP:
            second = await make_household(client, village, key_household=True)
            body = {"household_id": second["id"], "grade": 5}
            _ok(await client.post(f"{url}/students", json=body, headers=village))
        _ok(await client.post(f"{url}/volunteers", json=volunteer, headers=headers))
        run = _ok(await client.post(f"{url}/matching", headers=county))
        pairings[programme["kind"]] = [pairing["id"] for pairing in run["pairings"]]
    lesson = {"held_on": TODAY.isoformat(), "minutes": 45}
    path = f"/api/v1/programme-pairings/{pairings['tutoring'][0]}/sessions"
    _ok(await client.post(path, json=lesson, headers=donor))
    await refunded(client, county, pairings["sponsorship"][-1])


async def refunded(client: AsyncClient, county: Headers, pairing_id: int) -> None:
    """The pairing's payment received, the pairing terminated, the payment refunded."""
    path = f"/api/v1/programme-pairings/{pairing_id}"
    (payment,) = _ok(await client.get(f"{path}/payments", headers=county))["items"]
    url = f"{path}/payments/{payment['id']}"
    day = TODAY.isoformat()
    _ok(await client.post(f"{url}/receive", json={"voucher_no": "YZY-1", "received_on": day},
                          headers=county))  # fmt: skip
    _ok(await client.post(f"{path}/terminate", headers=county))
    _ok(await client.post(f"{url}/refund", json={"voucher_no": "YZT-1", "refunded_on": day},
                          headers=county))  # fmt: skip
