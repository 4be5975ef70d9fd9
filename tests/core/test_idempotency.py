"""POSTs with an Idempotency-Key: a retry returns the first response and writes nothing twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import delete, func, select, update

from app.accounts import service as accounts_service
from app.accounts.models import User
from app.core import idempotency
from app.core.db import utcnow
from app.core.idempotency_models import IdempotencyKey
from app.main import create_app
from tests.conftest import settings_for
from tests.factories import PASSWORD, admin_headers, assert_problem, register_donor, unique

REGISTER = "/api/v1/auth/register"
ADMINS = "/api/v1/admins"


def new_key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def donor(username: str | None = None) -> dict[str, str]:
    return {
        "username": username or unique("donor"),
        "password": PASSWORD,
        "display_name": "爱心人士",
        "kind": "individual",
    }


def township_admin() -> dict[str, str]:
    return {
        "username": unique("township-admin"),
        "password": PASSWORD,
        "role": "township",
        "scope": "430525101",
    }


async def count_users(app: FastAPI, **where: object) -> int:
    async with app.state.database.sessionmaker() as session:
        total = await session.scalar(select(func.count()).select_from(User).filter_by(**where))
    return int(total or 0)


async def stored_keys(app: FastAPI) -> list[IdempotencyKey]:
    async with app.state.database.sessionmaker() as session:
        return list(await session.scalars(select(IdempotencyKey).order_by(IdempotencyKey.id)))


async def test_a_retry_replays_the_first_response_and_writes_once(
    app: FastAPI, client: AsyncClient
) -> None:
    body, key = donor(), new_key()
    first = await client.post(REGISTER, json=body, headers=key)
    retry = await client.post(REGISTER, json=body, headers=key)

    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["content-type"] == first.headers["content-type"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert retry.headers["x-request-id"] != first.headers["x-request-id"]
    assert await count_users(app, username=body["username"]) == 1
    [row] = await stored_keys(app)
    assert (row.principal, row.state, row.status_code) == ("anonymous", "completed", 201)
    assert row.response_body is not None
    assert body["username"].encode() not in row.response_body  # encrypted at rest


async def test_a_signed_in_retry_replays_the_first_response(
    app: FastAPI, client: AsyncClient
) -> None:
    headers = await admin_headers(app, client, "county", "430525")
    body, key = township_admin(), new_key()
    first = await client.post(ADMINS, json=body, headers=headers | key)
    retry = await client.post(ADMINS, json=body, headers=headers | key)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert await count_users(app, username=body["username"]) == 1


async def test_the_same_key_with_another_body_is_refused_and_writes_nothing(
    app: FastAPI, client: AsyncClient
) -> None:
    key = new_key()
    assert (await client.post(REGISTER, json=donor(), headers=key)).status_code == 201
    other = donor()
    response = await client.post(REGISTER, json=other, headers=key)

    assert_problem(response, 422, "idempotency_key_reused")
    assert await count_users(app, username=other["username"]) == 0


async def test_the_same_key_from_two_users_is_two_keys(app: FastAPI, client: AsyncClient) -> None:
    alice = await admin_headers(app, client, "county", "430525")
    bob = await admin_headers(app, client, "county", "430525")
    key = new_key()
    by_alice = await client.post(ADMINS, json=township_admin(), headers=alice | key)
    by_bob = await client.post(ADMINS, json=township_admin(), headers=bob | key)

    assert by_alice.status_code == by_bob.status_code == 201
    assert "idempotent-replayed" not in by_bob.headers
    assert by_alice.json()["id"] != by_bob.json()["id"]
    assert len({row.principal for row in await stored_keys(app)}) == 2


async def test_a_failed_first_request_keeps_no_key_so_the_retry_runs_again(
    app: FastAPI, client: AsyncClient
) -> None:
    taken = str((await register_donor(client))["username"])
    body, key = donor(taken), new_key()
    first = await client.post(REGISTER, json=body, headers=key)
    assert_problem(first, 409, "username_taken")
    assert await stored_keys(app) == []

    async with app.state.database.sessionmaker.begin() as session:
        await session.execute(delete(User).where(User.username == taken))
    retry = await client.post(REGISTER, json=body, headers=key)
    assert retry.status_code == 201, retry.text
    assert "idempotent-replayed" not in retry.headers


async def test_a_first_request_that_crashes_keeps_no_key(
    app: FastAPI, client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(*args: object) -> None:
        raise RuntimeError("boom")

    body, key = donor(), new_key()
    with monkeypatch.context() as patch:
        patch.setattr(accounts_service, "register_donor", crash)
        assert_problem(await client.post(REGISTER, json=body, headers=key), 500, "internal_error")
    assert await stored_keys(app) == []
    assert (await client.post(REGISTER, json=body, headers=key)).status_code == 201


async def test_writes_whose_response_was_not_stored_are_never_run_twice(
    app: FastAPI, client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def storage_fails(*args: object) -> None:
        raise OSError("the database went away")

    body, key = donor(), new_key()
    with monkeypatch.context() as patch:
        patch.setattr(idempotency.KeyStore, "complete", storage_fails)
        first = await client.post(REGISTER, json=body, headers=key)
    assert first.status_code == 201, first.text
    [row] = await stored_keys(app)
    assert row.state == "committed"  # marked by the request's own transaction

    retry = await client.post(REGISTER, json=body, headers=key)
    assert_problem(retry, 409, "idempotency_in_progress")
    assert await count_users(app, username=body["username"]) == 1


async def test_without_the_header_nothing_changes(app: FastAPI, client: AsyncClient) -> None:
    body = donor()
    assert (await client.post(REGISTER, json=body)).status_code == 201
    assert_problem(await client.post(REGISTER, json=body), 409, "username_taken")
    assert await stored_keys(app) == []


async def test_ten_concurrent_retries_write_once(app: FastAPI, client: AsyncClient) -> None:
    body, key = donor(), new_key()
    responses = await asyncio.gather(
        *(client.post(REGISTER, json=body, headers=key) for _ in range(10))
    )

    created = [r for r in responses if r.status_code == 201]
    assert created, [r.status_code for r in responses]
    assert len({r.content for r in created}) == 1
    for response in responses:
        if response.status_code != 201:
            assert_problem(response, 409, "idempotency_in_progress")
            assert response.headers["retry-after"] == "1"
    assert await count_users(app, username=body["username"]) == 1


@pytest.mark.parametrize(
    "value",
    [b"k" * 256, b"k" * 300, b"", "ключ".encode(), b"a\x01b"],
    ids=["256 chars", "300 chars", "empty", "not ASCII", "control character"],
)
async def test_an_invalid_key_is_refused_and_writes_nothing(
    app: FastAPI, client: AsyncClient, value: bytes
) -> None:
    body = donor()
    response = await client.post(REGISTER, json=body, headers={b"Idempotency-Key": value})

    assert_problem(response, 422, "invalid_idempotency_key")
    assert await count_users(app, username=body["username"]) == 0


async def test_two_keys_in_one_request_are_refused(client: AsyncClient) -> None:
    keys = [("Idempotency-Key", "one"), ("Idempotency-Key", "two")]
    response = await client.post(REGISTER, json=donor(), headers=keys)
    assert_problem(response, 422, "invalid_idempotency_key")


async def test_a_key_of_255_printable_characters_is_accepted(client: AsyncClient) -> None:
    key = ("abc ~!" * 50)[:255]
    response = await client.post(REGISTER, json=donor(), headers={"Idempotency-Key": key})
    assert response.status_code == 201, response.text


async def test_an_expired_key_is_claimed_afresh(app: FastAPI, client: AsyncClient) -> None:
    key = new_key()
    assert (await client.post(REGISTER, json=donor(), headers=key)).status_code == 201
    async with app.state.database.sessionmaker.begin() as session:
        await session.execute(
            update(IdempotencyKey).values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    other = donor()
    response = await client.post(REGISTER, json=other, headers=key)

    assert response.status_code == 201, response.text
    assert await count_users(app, username=other["username"]) == 1


async def test_a_committed_key_without_its_response_asks_to_retry_later(
    app: FastAPI, client: AsyncClient
) -> None:
    body, key = donor(), new_key()
    assert (await client.post(REGISTER, json=body, headers=key)).status_code == 201
    async with app.state.database.sessionmaker.begin() as session:
        await session.execute(update(IdempotencyKey).values(state="committed"))
    response = await client.post(REGISTER, json=body, headers={**key, "Accept-Language": "en"})

    assert_problem(response, 409, "idempotency_in_progress")
    assert response.headers["retry-after"] == "1"
    assert "succeeded" in response.json()["detail"]


async def test_only_posts_under_the_api_take_part(app: FastAPI, client: AsyncClient) -> None:
    invalid = {"Idempotency-Key": ""}
    assert (await client.get("/api/v1/regions", headers=invalid)).status_code == 200
    assert (await client.get("/healthz", headers=invalid)).status_code == 200


async def test_purge_expired_removes_only_expired_keys(app: FastAPI, client: AsyncClient) -> None:
    for _ in range(2):
        assert (await client.post(REGISTER, json=donor(), headers=new_key())).status_code == 201
    [first, second] = await stored_keys(app)
    async with app.state.database.sessionmaker.begin() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == first.id)
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )

    assert await idempotency.purge_expired(app.state.database) == 1
    assert [row.id for row in await stored_keys(app)] == [second.id]


@pytest.fixture
async def unreachable(tmp_path: Path) -> AsyncIterator[AsyncClient]:
    """A client of an application whose database server does not answer."""
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"  # nothing listens on port 1
    application = create_app(settings_for(url, tmp_path, db_connect_timeout_seconds=2))
    transport = ASGITransport(app=application, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://aixin.test", timeout=10) as c:
        yield c
    await application.state.database.dispose()


async def test_an_unreachable_database_is_503_when_claiming(unreachable: AsyncClient) -> None:
    response = await unreachable.post(REGISTER, json=donor(), headers=new_key())

    assert_problem(response, 503, "database_unavailable")
    assert response.headers["retry-after"] == "5"
    assert response.json()["request_id"] == response.headers["x-request-id"]
