"""Donors who register and sign in with a mainland mobile number, proven by a texted code.

Codes come from the development provider (it writes them to the log and keeps the last ones);
they are stored hashed, live minutes, take a few guesses, and a number gets a few an hour.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select

from app.accounts.models import SmsCode, User
from app.accounts.sms import DevelopmentSmsProvider, NoSmsProvider, SmsProvider, provider_for
from tests.conftest import settings_for
from tests.factories import (
    PASSWORD,
    assert_problem,
    mobile_number,
    register_by_phone,
    send_code,
    sign_in,
)

SEND = "/api/v1/auth/sms/send"
REGISTER = "/api/v1/auth/sms/register"


def body(phone: str, code: str) -> dict[str, str]:
    return {
        "phone": phone,
        "code": code,
        "password": PASSWORD,
        "display_name": "手机用户",
        "kind": "individual",
    }


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def test_a_donor_registers_with_a_code_and_signs_in_with_the_number(
    app: FastAPI, client: AsyncClient
) -> None:
    phone = mobile_number()
    created = await register_by_phone(app, client, phone)
    assert created["role"] == "donor"
    assert phone not in str(created)
    me = await client.get("/api/v1/me", headers=await sign_in(client, phone))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == created["id"]


async def test_the_number_is_stored_encrypted_and_the_code_hashed(
    app: FastAPI, client: AsyncClient
) -> None:
    phone = mobile_number()
    created = await register_by_phone(app, client, phone)
    async with app.state.database.sessionmaker() as session:
        user = await session.get(User, created["id"])
        codes = (await session.scalars(select(SmsCode))).all()
    assert user is not None
    assert user.phone_encrypted is not None
    assert phone.encode() not in user.phone_encrypted
    assert user.phone_index != phone
    assert app.state.vault.decrypt(user.phone_encrypted) == phone
    assert codes
    assert all(len(code.code_hash) == 64 for code in codes)


async def test_a_wrong_code_is_refused_and_the_guesses_run_out(
    app: FastAPI, client: AsyncClient
) -> None:
    phone = mobile_number()
    code = await send_code(app, client, phone)
    attempts = app.state.settings.sms_code_attempts
    for _ in range(attempts):
        response = await client.post(REGISTER, json=body(phone, wrong(code)))
        assert_problem(response, 422, "sms_code_invalid")
    # The right code after the guesses ran out no longer works.
    assert_problem(await client.post(REGISTER, json=body(phone, code)), 422, "sms_code_invalid")


async def test_a_code_works_once(app: FastAPI, client: AsyncClient) -> None:
    phone = mobile_number()
    code = await send_code(app, client, phone)
    assert (await client.post(REGISTER, json=body(phone, code))).status_code == 201
    assert_problem(await client.post(REGISTER, json=body(phone, code)), 422, "sms_code_invalid")


async def test_a_new_code_replaces_the_earlier_one(app: FastAPI, client: AsyncClient) -> None:
    phone = mobile_number()
    first = await send_code(app, client, phone)
    second = await send_code(app, client, phone)
    if first != second:
        response = await client.post(REGISTER, json=body(phone, first))
        assert_problem(response, 422, "sms_code_invalid")
    assert (await client.post(REGISTER, json=body(phone, second))).status_code == 201


async def test_a_registered_number_cannot_register_again(app: FastAPI, client: AsyncClient) -> None:
    phone = mobile_number()
    await register_by_phone(app, client, phone)
    code = await send_code(app, client, phone)
    assert_problem(await client.post(REGISTER, json=body(phone, code)), 409, "phone_taken")


async def test_a_number_gets_a_few_codes_an_hour(app: FastAPI, client: AsyncClient) -> None:
    phone = mobile_number()
    for _ in range(app.state.settings.sms_per_number):
        await send_code(app, client, phone)
    response = await client.post(SEND, json={"phone": phone})
    assert_problem(response, 429, "rate_limited")
    assert int(response.headers["retry-after"]) >= 1


@pytest.mark.parametrize(
    "phone",
    ["1391234567", "12912345678", "１３９１２３４５６７８", "+8613912345678", "139 1234 5678"],
)
async def test_only_a_mainland_mobile_in_ascii_digits_gets_a_code(
    client: AsyncClient, phone: str
) -> None:
    assert_problem(await client.post(SEND, json={"phone": phone}), 422, "validation_failed")


async def test_without_a_provider_asking_for_a_code_is_503(
    app: FastAPI, client: AsyncClient
) -> None:
    provider, app.state.sms = app.state.sms, NoSmsProvider()
    try:
        response = await client.post(SEND, json={"phone": mobile_number()})
    finally:
        app.state.sms = provider
    assert_problem(response, 503, "sms_unavailable")


def test_production_sends_no_codes_unless_a_provider_is_named(tmp_path: Path) -> None:
    def provider(**overrides: object) -> SmsProvider:
        return provider_for(settings_for("sqlite+aiosqlite://", tmp_path, **overrides))

    assert isinstance(provider(), DevelopmentSmsProvider)  # the test settings' env is "test"
    production = {"env": "production", "argon2_time_cost": 2, "argon2_memory_kib": 19456}
    assert isinstance(provider(**production), NoSmsProvider)
