"""The whole-run scan of response bodies (body_scan.py) finds what it looks for, and what it found.

The scan itself runs over every test that uses the ``client`` fixture; these tests prove that it
can fail (a leak planted in a body is found) and that the service disclosures it found are
logged: the replay of a household's creation by its Idempotency-Key.
"""

from __future__ import annotations

import jwt
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import TEST_SECRET
from tests.factories import (
    DONGKOU_VILLAGE,
    admin_headers,
    donor_headers,
    id_number,
    make_household,
    phone_number,
    post_need,
)
from tests.households.conftest import access_log
from tests.security.body_scan import Scan, caller_of, personal_data_in, scanner

HEAD_NAME = "司马春燕"


def bearer(claims: dict[str, object], key: str = TEST_SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(claims, key, 'HS256')}"}


# -- what the scan looks for -------------------------------------------------------------------


def test_an_id_number_a_mobile_number_and_a_registered_name_are_found() -> None:
    secret_id, phone = id_number(), phone_number()
    text = f'{{"a": "{secret_id}", "b": "tel {phone}", "c": "户主{HEAD_NAME}"}}'
    found = personal_data_in(text, {HEAD_NAME})
    assert found == [f"ID number {secret_id}", f"mobile number {phone}", f"head name {HEAD_NAME}"]


def test_an_id_number_ending_in_x_is_found() -> None:
    number = next(n for n in map(id_number, range(1, 100)) if n.endswith("X"))
    assert personal_data_in(f'"{number}"', set()) == [f"ID number {number}"]


@pytest.mark.parametrize(
    "text",
    [
        '{"masked_name": "司****"}',
        '{"request_id": "123456789012345678901234"}',
        '{"detail": "No need 9223372036854775807"}',
        '{"value_fen": 13912345678901}',
    ],
    ids=["masked-name", "request-id", "19-digit-id", "longer-number"],
)
def test_masked_names_request_ids_and_longer_numbers_are_not_personal_data(text: str) -> None:
    assert personal_data_in(text, {HEAD_NAME}) == []


def test_a_caller_is_classified_by_its_verified_token() -> None:
    def caller(headers: dict[str, str]) -> str:
        return caller_of(Request("GET", "http://aixin.test/", headers=headers), TEST_SECRET)

    assert caller({}) == "anonymous"
    assert caller(bearer({"role": "donor"})) == "donor"
    assert caller(bearer({"role": "county"})) == "admin"
    # A forged admin token counts as anonymous: what its sender got is scanned.
    assert caller(bearer({"role": "platform"}, "another-key-long-enough-for-hs256!")) == "anonymous"
    assert caller({"Authorization": "Bearer not-a-token"}) == "anonymous"


# -- the scan over real exchanges --------------------------------------------------------------


@pytest.fixture
async def scanned(
    app: FastAPI, engine: AsyncEngine, client: AsyncClient
) -> tuple[Scan, AsyncClient]:
    """A client over the app whose exchanges feed a scan of their own (not the run's)."""
    scan = Scan()
    transport = ASGITransport(app=app)
    hooks = scanner(TEST_SECRET, engine, scan)
    async with AsyncClient(
        transport=transport, base_url="http://aixin.test", event_hooks=hooks
    ) as c:
        yield scan, c


async def test_a_registered_name_is_looked_for_in_what_donors_then_receive(
    app: FastAPI, scanned: tuple[Scan, AsyncClient]
) -> None:
    scan, http = scanned
    admin = await admin_headers(app, http, "village", DONGKOU_VILLAGE)
    household = await make_household(http, admin, head_name=HEAD_NAME)
    await post_need(http, admin, household["id"])
    donor = await donor_headers(http)
    assert (await http.get("/api/v1/needs", headers=donor)).status_code == 200
    assert HEAD_NAME in scan.head_names
    assert scan.bodies["donor"] >= 1
    assert scan.bodies["admin"] >= 2
    assert scan.findings == []


async def test_a_name_sent_to_a_donor_is_a_finding(engine: AsyncEngine) -> None:
    """A planted leak: a response to a donor that carries a registered name and a phone."""
    scan = Scan(head_names={HEAD_NAME})
    request = Request("GET", "http://aixin.test/api/v1/needs", headers=bearer({"role": "donor"}))
    response = Response(200, json={"name": HEAD_NAME, "phone": "13912345678"}, request=request)
    await scanner(TEST_SECRET, engine, scan)["response"][0](response)
    assert [(f.caller, f.what) for f in scan.findings] == [
        ("donor", "mobile number 13912345678"),
        ("donor", f"head name {HEAD_NAME}"),
    ]


async def test_a_donors_display_name_is_not_a_head_name_finding(engine: AsyncEngine) -> None:
    """A donor may call themself what a head is called; the name elsewhere is still a leak."""
    scan = Scan(head_names={HEAD_NAME})
    request = Request("GET", "http://aixin.test/api/v1/me", headers=bearer({"role": "donor"}))
    body = {"items": [{"display_name": HEAD_NAME}], "note": f"{HEAD_NAME}家"}
    await scanner(TEST_SECRET, engine, scan)["response"][0](
        Response(200, json=body, request=request)
    )
    assert [f.what for f in scan.findings] == [f"head name {HEAD_NAME}"]


async def test_personal_data_sent_to_an_admin_without_its_log_row_is_a_finding(
    engine: AsyncEngine,
) -> None:
    scan = Scan()
    secret_id = id_number()
    request = Request("GET", "http://aixin.test/api/v1/x", headers=bearer({"role": "village"}))
    response = Response(
        200, json={"id_number": secret_id}, headers={"X-Request-ID": "unlogged"}, request=request
    )
    await scanner(TEST_SECRET, engine, scan)["response"][0](response)
    assert [f.what for f in scan.findings] == [f"ID number {secret_id} without an access-log row"]


# -- what the scan found -----------------------------------------------------------------------


async def test_replaying_a_household_creation_writes_its_access_log_row(
    app: FastAPI, client: AsyncClient
) -> None:
    """A retry with the same Idempotency-Key gets the record, personal data and all, again."""
    admin = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    body = {
        "village_code": DONGKOU_VILLAGE,
        "head_name": HEAD_NAME,
        "id_number": id_number(),
        "phone": phone_number(),
        "size": 3,
        "support_category": "poor",
    }
    headers = admin | {"Idempotency-Key": "household-1"}
    first = await client.post("/api/v1/households", json=body, headers=headers)
    again = await client.post("/api/v1/households", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id_number"] == body["id_number"]
    rows = [(row.action, row.request_id) for row in await access_log(app)]
    assert rows == [
        ("create", first.headers["x-request-id"]),
        ("replay", again.headers["x-request-id"]),
    ]
