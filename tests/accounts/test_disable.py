"""Disabling an admin: by an admin above in rank and scope; its tokens stop at the next request.

When a village's information officer leaves, the county disables the account: the very next
request with its access token gets 401, its refresh tokens are revoked, and who did it is kept.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select

from app.accounts.models import AccountEvent
from tests.factories import (
    DONGKOU_VILLAGE,
    PASSWORD,
    admin_headers,
    assert_problem,
    id_number,
    make_admin,
    phone_number,
    register_donor,
)

ADMINS = "/api/v1/admins"
ME = "/api/v1/me"


async def signed_in(client: AsyncClient, username: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


def bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def events(app: FastAPI) -> list[tuple[int, int, str]]:
    async with app.state.database.sessionmaker() as session:
        rows = await session.execute(
            select(AccountEvent.user_id, AccountEvent.actor_id, AccountEvent.action).order_by(
                AccountEvent.id
            )
        )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_a_disabled_admins_next_request_is_401(app: FastAPI, client: AsyncClient) -> None:
    county = await make_admin(app, "county", "430525")
    officer = await make_admin(app, "village", DONGKOU_VILLAGE)
    county_pair, officer_pair = (
        await signed_in(client, county.username),
        await signed_in(client, officer.username),
    )
    assert (await client.get(ME, headers=bearer(officer_pair))).status_code == 200

    response = await client.post(f"{ADMINS}/{officer.id}/disable", headers=bearer(county_pair))
    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False

    assert_problem(await client.get(ME, headers=bearer(officer_pair)), 401, "account_disabled")
    households = await client.get("/api/v1/households", headers=bearer(officer_pair))
    assert_problem(households, 401, "account_disabled")
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": officer_pair["refresh_token"]}
    )
    assert refreshed.status_code == 401, refreshed.text
    sign_in = await client.post(
        "/api/v1/auth/token", data={"username": officer.username, "password": PASSWORD}
    )
    assert_problem(sign_in, 401, "invalid_credentials")
    assert await events(app) == [(officer.id, county.id, "disable")]


async def test_enabling_lets_the_admin_sign_in_again_but_not_use_old_tokens(
    app: FastAPI, client: AsyncClient
) -> None:
    township = await make_admin(app, "township", "430525101")
    officer = await make_admin(app, "village", DONGKOU_VILLAGE)
    boss, old = (
        await signed_in(client, township.username),
        await signed_in(client, officer.username),
    )
    assert (await client.post(f"{ADMINS}/{officer.id}/disable", headers=bearer(boss))).is_success
    enabled = await client.post(f"{ADMINS}/{officer.id}/enable", headers=bearer(boss))
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["is_active"] is True
    assert_problem(await client.get(ME, headers=bearer(old)), 401, "session_ended")
    fresh = await signed_in(client, officer.username)
    assert (await client.get(ME, headers=bearer(fresh))).status_code == 200
    assert [action for *_, action in await events(app)] == ["disable", "enable"]


async def test_disabling_twice_is_409_and_enabling_an_active_admin_is_409(
    app: FastAPI, client: AsyncClient
) -> None:
    headers = await admin_headers(app, client, "county", "430525")
    officer = await make_admin(app, "village", DONGKOU_VILLAGE)
    enable = await client.post(f"{ADMINS}/{officer.id}/enable", headers=headers)
    assert_problem(enable, 409, "admin_already_active")
    assert (await client.post(f"{ADMINS}/{officer.id}/disable", headers=headers)).is_success
    again = await client.post(f"{ADMINS}/{officer.id}/disable", headers=headers)
    assert_problem(again, 409, "admin_already_disabled")


async def test_of_two_concurrent_disables_one_wins_the_other_is_409(
    app: FastAPI, client: AsyncClient
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    platform = await admin_headers(app, client, "platform", "")
    officer = await make_admin(app, "village", DONGKOU_VILLAGE)
    url = f"{ADMINS}/{officer.id}/disable"
    responses = await asyncio.gather(
        client.post(url, headers=county), client.post(url, headers=platform)
    )
    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    assert len(await events(app)) == 1


async def test_an_admin_of_the_same_rank_cannot_disable(app: FastAPI, client: AsyncClient) -> None:
    headers = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    colleague = await make_admin(app, "village", DONGKOU_VILLAGE)
    response = await client.post(f"{ADMINS}/{colleague.id}/disable", headers=headers)
    assert_problem(response, 403, "role_not_grantable")


async def test_a_county_admin_cannot_disable_its_superior(
    app: FastAPI, client: AsyncClient
) -> None:
    headers = await admin_headers(app, client, "county", "430525")
    platform = await make_admin(app, "platform", "")
    response = await client.post(f"{ADMINS}/{platform.id}/disable", headers=headers)
    assert_problem(response, 404, "admin_not_found")  # outside the county's scope


async def test_an_admin_outside_the_scope_is_not_found(app: FastAPI, client: AsyncClient) -> None:
    headers = await admin_headers(app, client, "township", "430525102")
    officer = await make_admin(app, "village", DONGKOU_VILLAGE)
    response = await client.post(f"{ADMINS}/{officer.id}/disable", headers=headers)
    assert_problem(response, 404, "admin_not_found")


async def test_a_donor_is_not_an_admin_to_disable(app: FastAPI, client: AsyncClient) -> None:
    headers = await admin_headers(app, client, "platform", "")
    donor = await register_donor(client)
    response = await client.post(f"{ADMINS}/{donor['id']}/disable", headers=headers)
    assert_problem(response, 404, "admin_not_found")


async def test_no_admin_disables_their_own_account(app: FastAPI, client: AsyncClient) -> None:
    root = await make_admin(app, "platform", "")
    pair = await signed_in(client, root.username)
    response = await client.post(f"{ADMINS}/{root.id}/disable", headers=bearer(pair))
    assert_problem(response, 403, "own_account")


async def test_the_platform_admin_disables_another_platform_admin(
    app: FastAPI, client: AsyncClient
) -> None:
    headers = await admin_headers(app, client, "platform", "")
    other = await make_admin(app, "platform", "")
    response = await client.post(f"{ADMINS}/{other.id}/disable", headers=headers)
    assert response.status_code == 200, response.text


async def test_a_disabled_admin_gets_no_replay_of_an_earlier_answer(
    app: FastAPI, client: AsyncClient
) -> None:
    """A retry with the same Idempotency-Key replays the first answer only to a caller who may
    still act: a household's creation must not be handed out again after the account is closed."""
    county = await make_admin(app, "county", "430525")
    officer = await make_admin(app, "village", DONGKOU_VILLAGE)
    county_pair, officer_pair = (
        await signed_in(client, county.username),
        await signed_in(client, officer.username),
    )
    body = {
        "village_code": DONGKOU_VILLAGE, "head_name": "刘德华", "id_number": id_number(),
        "phone": phone_number(), "size": 4, "support_category": "poor", "key_household": False,
    }  # fmt: skip
    headers = bearer(officer_pair) | {"Idempotency-Key": "close-account-replay-1"}
    first = await client.post("/api/v1/households", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post("/api/v1/households", json=body, headers=headers)
    assert (again.status_code, again.headers.get("idempotent-replayed")) == (201, "true")

    disabled = await client.post(f"{ADMINS}/{officer.id}/disable", headers=bearer(county_pair))
    assert disabled.status_code == 200, disabled.text

    refused = await client.post("/api/v1/households", json=body, headers=headers)
    assert_problem(refused, 401, "account_disabled")
    assert "刘" not in refused.text
