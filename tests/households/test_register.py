"""Registering a household: validation, encryption at rest, one household per ID number."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text

from app.core.errors import AppError, Conflict
from app.core.idcard import check_digit
from app.households import service
from app.households.schemas import HouseholdCreate
from tests.factories import (
    DONGKOU_VILLAGE,
    OTHER_VILLAGE,
    admin_headers,
    id_number,
    make_admin,
    make_household,
    phone_number,
)
from tests.households.conftest import Headers, access_log, id_number_ending_in_x

URL = "/api/v1/households"


def valid_body(**overrides: object) -> dict[str, object]:
    return {
        "village_code": DONGKOU_VILLAGE,
        "head_name": "刘德华",
        "id_number": id_number(),
        "phone": phone_number(),
        "size": 4,
        "support_category": "poor",
        **overrides,
    }


async def test_a_registered_household_reads_back_with_its_personal_data(
    client: AsyncClient, admin: Headers
) -> None:
    body = valid_body(head_name="  欧阳春花 ", key_household=True, main_helper="王书记")
    created = await client.post(URL, json=body, headers=admin)
    assert created.status_code == 201, created.text
    household = created.json()
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"] == f"{URL}/{household['id']}"
    assert household["head_name"] == "欧阳春花"
    assert household["head_name_masked"] == "欧***"
    assert (household["id_number"], household["phone"]) == (body["id_number"], body["phone"])
    assert household["village_name"] == "江口村"
    assert household["county_code"] == "430525"
    assert (household["key_household"], household["main_helper"]) == (True, "王书记")
    read = await client.get(f"{URL}/{household['id']}", headers=admin)
    assert read.status_code == 200
    assert read.json() == household


async def test_the_database_holds_no_plaintext_name_id_number_or_phone(
    app: FastAPI, client: AsyncClient, admin: Headers
) -> None:
    name, number, phone = "欧阳春花", id_number(), "13912345678"
    await make_household(client, admin, head_name=name, id_number=number, phone=phone)
    async with app.state.database.sessionmaker() as session:
        row = (await session.execute(text("SELECT * FROM households"))).mappings().one()
    stored = b"".join(
        value if isinstance(value, bytes) else str(value).encode() for value in row.values()
    )
    for plaintext in (name, number, phone, number[:17]):
        assert plaintext.encode() not in stored
    assert row["head_name_masked"] == "欧***"


async def test_an_id_number_registered_twice_is_a_conflict(
    client: AsyncClient, admin: Headers
) -> None:
    number = id_number()
    await make_household(client, admin, id_number=number)
    again = await client.post(URL, json=valid_body(id_number=number), headers=admin)
    assert again.status_code == 409
    assert again.json()["code"] == "household_exists"


async def test_the_same_id_number_with_a_lowercase_x_is_a_conflict(
    client: AsyncClient, admin: Headers
) -> None:
    number = id_number_ending_in_x()
    created = await make_household(client, admin, id_number=number)
    assert created["id_number"] == number
    again = await client.post(URL, json=valid_body(id_number=number.lower()), headers=admin)
    assert again.status_code == 409
    assert again.json()["code"] == "household_exists"


async def test_a_registration_racing_past_the_check_is_a_conflict(
    app: FastAPI,
    client: AsyncClient,  # empties the tables afterwards
) -> None:
    if app.state.settings.is_sqlite:
        pytest.skip("SQLite serialises writers: the second always sees the first's row")
    admin = await make_admin(app, "village", DONGKOU_VILLAGE)
    data = HouseholdCreate.model_validate(valid_body())
    vault, sessions = app.state.vault, app.state.database.sessionmaker
    async with sessions() as first, sessions() as second:
        await service.create_household(first, vault, admin, data)  # inserted, not committed
        # The second passes the blind-index check, then waits on the unique index.
        racing = asyncio.create_task(service.create_household(second, vault, admin, data))
        await asyncio.sleep(0.2)
        await first.commit()
        with pytest.raises(Conflict) as raised:
            await racing
    assert raised.value.code == "household_exists"


async def test_concurrent_registrations_of_one_id_number_register_one(
    client: AsyncClient, admin: Headers
) -> None:
    body = valid_body()
    responses = await asyncio.gather(*(client.post(URL, json=body, headers=admin) for _ in "ab"))
    assert sorted(r.status_code for r in responses) == [201, 409]
    listed = await client.get(URL, headers=admin)
    assert len(listed.json()["items"]) == 1


def _with_first17(first17: str) -> str:
    return first17 + check_digit(first17)


def _with_wrong_check(first17: str) -> str:
    return first17 + ("0" if check_digit(first17) != "0" else "1")


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        pytest.param(_with_wrong_check("43052519800101123"), "check digit", id="bad-check"),
        pytest.param(_with_first17("43052519800230123"), "not a real date", id="february-30"),
        pytest.param("43052519800101123", "18 characters", id="17-characters"),
        pytest.param(_with_first17("43052520990101123"), "out of range", id="born-in-future"),
    ],
)
async def test_an_invalid_id_number_is_refused_with_the_reason(
    client: AsyncClient, admin: Headers, number: str, reason: str
) -> None:
    response = await client.post(URL, json=valid_body(id_number=number), headers=admin)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_failed"
    [error] = problem["errors"]
    assert error["loc"] == ["body", "id_number"]
    assert reason in error["msg"]


@pytest.mark.parametrize(
    "phone", ["1391234567", "12912345678", "+8613912345678", "0739-72212", "7221234", "电话"]
)
async def test_an_invalid_phone_is_refused(client: AsyncClient, admin: Headers, phone: str) -> None:
    response = await client.post(URL, json=valid_body(phone=phone), headers=admin)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "phone"]]


@pytest.mark.parametrize("phone", ["13912345678", "0739-7221234", "07397221234", "010-12345678"])
async def test_a_mobile_or_landline_phone_is_accepted(
    client: AsyncClient, admin: Headers, phone: str
) -> None:
    response = await client.post(URL, json=valid_body(phone=phone), headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["phone"] == phone


@pytest.mark.parametrize(
    "extra",
    [
        {"county_code": "430525"},
        {"version": 3},
        {"size": 0},
        {"size": 31},
        {"head_name": "  "},
        {"head_name": "名" * 41},
        {"support_category": "cash"},
        {"main_helper": "帮" * 101},
        # Not a JSON boolean: a lax parse would read "no" or 0 as false, "yes" or 1 as true.
        {"key_household": "yes"},
        {"key_household": 1},
    ],
)
async def test_a_body_outside_the_schema_is_refused(
    client: AsyncClient, admin: Headers, extra: dict[str, object]
) -> None:
    response = await client.post(URL, json=valid_body(**extra), headers=admin)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


async def test_a_village_outside_the_scope_is_forbidden(
    client: AsyncClient, admin: Headers
) -> None:
    response = await client.post(URL, json=valid_body(village_code=OTHER_VILLAGE), headers=admin)
    assert response.status_code == 403
    assert response.json()["code"] == "out_of_scope"


async def test_a_township_code_is_not_a_village(app: FastAPI, client: AsyncClient) -> None:
    county_admin = await admin_headers(app, client, "county", "430525")
    township = await client.post(
        URL, json=valid_body(village_code="430525101"), headers=county_admin
    )
    assert township.status_code == 422
    assert township.json()["errors"][0]["loc"] == ["body", "village_code"]
    unknown = await client.post(
        URL, json=valid_body(village_code="430525101999"), headers=county_admin
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "not_a_village"


async def test_a_county_admin_registers_in_any_village_of_its_county(
    app: FastAPI, client: AsyncClient
) -> None:
    county_admin = await admin_headers(app, client, "county", "430525")
    response = await client.post(
        URL, json=valid_body(village_code=OTHER_VILLAGE), headers=county_admin
    )
    assert response.status_code == 201
    assert response.json()["village_name"] == "畔上村"


async def test_many_registered_at_once_are_logged_each_by_its_admin(
    app: FastAPI,
    client: AsyncClient,  # empties the tables afterwards
) -> None:
    first = await make_admin(app, "village", DONGKOU_VILLAGE)
    second = await make_admin(app, "village", OTHER_VILLAGE)
    entries = [
        (admin, HouseholdCreate.model_validate(valid_body(village_code=admin.scope_code)))
        for admin in (first, second, first)
    ]
    async with app.state.database.sessionmaker.begin() as session:
        ids = await service.register_many(session, app.state.vault, entries)
    assert ids == sorted(ids)
    log = await access_log(app)
    assert [(row.household_id, row.actor_id, row.action) for row in log] == [
        (ids[0], first.id, "create"), (ids[1], second.id, "create"), (ids[2], first.id, "create"),
    ]  # fmt: skip
    async with app.state.database.sessionmaker() as session:
        read = await service.read_household(session, app.state.vault, second, ids[1])
    assert read.id_number == entries[1][1].id_number


@pytest.mark.parametrize(
    ("village", "registered", "code"),
    [
        pytest.param(OTHER_VILLAGE, False, "out_of_scope", id="out-of-scope"),
        pytest.param("430525999999", False, "not_a_village", id="no-such-village"),
        pytest.param(DONGKOU_VILLAGE, True, "household_exists", id="registered"),
    ],
)
async def test_many_registered_at_once_write_nothing_if_one_breaks_a_rule(
    app: FastAPI,
    client: AsyncClient,  # empties the tables afterwards
    village: str,
    registered: bool,
    code: str,
) -> None:
    admin = await make_admin(app, "village", DONGKOU_VILLAGE)
    good = HouseholdCreate.model_validate(valid_body())
    bad = HouseholdCreate.model_validate(valid_body(village_code=village))
    if registered:
        async with app.state.database.sessionmaker.begin() as session:
            await service.create_household(session, app.state.vault, admin, bad)
    before = len(await access_log(app))
    with pytest.raises(AppError) as raised:
        async with app.state.database.sessionmaker.begin() as session:
            await service.register_many(session, app.state.vault, [(admin, good), (admin, bad)])
    assert raised.value.code == code
    assert len(await access_log(app)) == before
