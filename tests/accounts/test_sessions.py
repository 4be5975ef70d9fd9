"""Ending sessions: signing out ends one, a password change ends all the others.

An access token ends with its session at the next request, not at its expiry: the account is
read on every request, with its token generation and whether the token's family was revoked.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select

from app.accounts.models import AccountEvent
from tests.factories import PASSWORD, assert_problem, register_donor

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
PASSWORD_URL = "/api/v1/me/password"
ME = "/api/v1/me"
NEW_PASSWORD = "another long secret"


def bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def session_of(
    client: AsyncClient, username: str, password: str = PASSWORD
) -> dict[str, Any]:
    response = await client.post(TOKEN, data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


async def two_sessions(client: AsyncClient) -> tuple[str, dict[str, Any], dict[str, Any]]:
    username = str((await register_donor(client))["username"])
    return username, await session_of(client, username), await session_of(client, username)


async def test_logout_ends_the_session_and_its_access_token_at_once(client: AsyncClient) -> None:
    _, this, other = await two_sessions(client)
    assert (await client.post(LOGOUT, headers=bearer(this))).status_code == 204
    assert_problem(await client.get(ME, headers=bearer(this)), 401, "session_ended")
    refreshed = await client.post(REFRESH, json={"refresh_token": this["refresh_token"]})
    assert_problem(refreshed, 401, "invalid_refresh_token")
    # The account's other session goes on.
    assert (await client.get(ME, headers=bearer(other))).status_code == 200
    again = await client.post(REFRESH, json={"refresh_token": other["refresh_token"]})
    assert again.status_code == 200, again.text


async def test_logout_with_a_refresh_token_needs_no_access_token(client: AsyncClient) -> None:
    _, this, other = await two_sessions(client)
    response = await client.post(LOGOUT, json={"refresh_token": this["refresh_token"]})
    assert response.status_code == 204, response.text
    assert_problem(await client.get(ME, headers=bearer(this)), 401, "session_ended")
    assert (await client.get(ME, headers=bearer(other))).status_code == 200


async def test_logout_ends_the_session_after_its_token_was_rotated(client: AsyncClient) -> None:
    _, first, _ = await two_sessions(client)
    rotated = (await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})).json()
    assert (await client.post(LOGOUT, headers=bearer(rotated))).status_code == 204
    # The first access token of the session ends with it.
    assert_problem(await client.get(ME, headers=bearer(first)), 401, "session_ended")


async def test_logout_without_any_token_is_401(client: AsyncClient) -> None:
    assert_problem(await client.post(LOGOUT), 401, "not_authenticated")
    unknown = await client.post(LOGOUT, json={"refresh_token": "not-a-token"})
    assert_problem(unknown, 401, "invalid_refresh_token")


async def test_a_password_change_ends_every_other_session(
    app: FastAPI, client: AsyncClient
) -> None:
    username, this, other = await two_sessions(client)
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    response = await client.post(PASSWORD_URL, json=body, headers=bearer(this))
    assert response.status_code == 200, response.text
    fresh = response.json()
    for ended in (this, other):
        assert_problem(await client.get(ME, headers=bearer(ended)), 401, "session_ended")
        refreshed = await client.post(REFRESH, json={"refresh_token": ended["refresh_token"]})
        assert refreshed.status_code == 401, refreshed.text
    # The caller goes on with the pair the change returned, and signs in with the new password.
    assert (await client.get(ME, headers=bearer(fresh))).status_code == 200
    old = await client.post(TOKEN, data={"username": username, "password": PASSWORD})
    assert_problem(old, 401, "invalid_credentials")
    await session_of(client, username, NEW_PASSWORD)
    async with app.state.database.sessionmaker() as session:
        actions = (await session.scalars(select(AccountEvent.action))).all()
    assert actions == ["password_change"]


async def test_a_wrong_current_password_changes_nothing(client: AsyncClient) -> None:
    username, this, _ = await two_sessions(client)
    body = {"current_password": "not the password", "new_password": NEW_PASSWORD}
    response = await client.post(PASSWORD_URL, json=body, headers=bearer(this))
    assert_problem(response, 403, "wrong_password")
    assert (await client.get(ME, headers=bearer(this))).status_code == 200
    await session_of(client, username)


async def test_a_short_new_password_is_422(client: AsyncClient) -> None:
    _, this, _ = await two_sessions(client)
    body = {"current_password": PASSWORD, "new_password": "short"}
    response = await client.post(PASSWORD_URL, json=body, headers=bearer(this))
    assert_problem(response, 422, "validation_failed")


async def test_of_two_concurrent_password_changes_one_wins_the_other_is_409(
    client: AsyncClient,
) -> None:
    _, this, other = await two_sessions(client)
    bodies = [
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD + str(i)} for i in range(2)
    ]
    responses = await asyncio.gather(
        *(
            client.post(PASSWORD_URL, json=body, headers=bearer(pair))
            for body, pair in zip(bodies, (this, other), strict=True)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    # The loser lost the compare-and-set (409), or came after the winner had ended its session.
    assert statuses[0] == 200, [r.text for r in responses]
    assert statuses[1] in (401, 409), [r.text for r in responses]
