"""Registration, sign-in, access tokens and refresh-token rotation, through the HTTP API.

Every failure must be a 401/409/422 problem with a stable code, never a 500, and a token that
was expired, tampered with, forged, unsigned or of the wrong kind must never let anyone in.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response

from app.core.db import utcnow
from app.core.errors import PROBLEM_MEDIA_TYPE
from tests.factories import PASSWORD, assert_problem, register_donor, sign_in, unique

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/me"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a JWT, read without checking its signature."""
    payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return payload


def assert_unauthorized(response: Response, code: str) -> None:
    assert_problem(response, 401, code)
    assert response.headers["www-authenticate"] == "Bearer"


async def token_pair(client: AsyncClient, username: str) -> dict[str, Any]:
    response = await client.post(TOKEN, data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def signed_in_donor(client: AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """A registered donor and a fresh token pair for it."""
    donor = await register_donor(client)
    return donor, await token_pair(client, str(donor["username"]))


def register_body(**overrides: object) -> dict[str, object]:
    return {
        "username": unique("donor"),
        "password": PASSWORD,
        "display_name": "爱心人士",
        "kind": "individual",
        **overrides,
    }


# -- registration ------------------------------------------------------------------------------


async def test_register_creates_a_donor_of_the_given_kind(client: AsyncClient) -> None:
    username = unique("donor")
    response = await client.post(REGISTER, json=register_body(username=username, kind="enterprise"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["username"] == username
    assert (body["role"], body["kind"], body["scope"]) == ("donor", "enterprise", None)
    assert body["display_name"] == "爱心人士"
    assert isinstance(body["id"], int)


async def test_register_never_returns_the_password_or_its_hash(client: AsyncClient) -> None:
    response = await client.post(REGISTER, json=register_body())
    assert response.status_code == 201, response.text
    assert "password" not in response.text
    assert "argon2" not in response.text
    assert PASSWORD not in response.text


async def test_register_stores_the_username_in_lower_case(client: AsyncClient) -> None:
    name = unique("LiHua")
    response = await client.post(REGISTER, json=register_body(username=name))
    assert response.status_code == 201, response.text
    assert response.json()["username"] == name.lower()


async def test_a_username_differing_only_in_case_is_taken(client: AsyncClient) -> None:
    name = unique("LiHua")
    first = await client.post(REGISTER, json=register_body(username=name))
    assert first.status_code == 201, first.text
    second = await client.post(REGISTER, json=register_body(username=name.lower()))
    assert_problem(second, 409, "username_taken")


async def test_register_rejects_malformed_json(client: AsyncClient) -> None:
    response = await client.post(
        REGISTER,
        content=b'{"username": "lihua", "password":',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 422, "malformed_json")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "robot"}, "kind"),
        ({"password": 12345678}, "password"),
        ({"password": "short"}, "password"),
        ({"username": "li hua"}, "username"),
        ({"username": "a"}, "username"),
        ({"username": "13912345678"}, "username"),
        ({"username": "li\u200dhua"}, "username"),
        ({"display_name": "   "}, "display_name"),
        ({"kind": None}, "kind"),
    ],
    ids=[
        "unknown-kind",
        "number-password",
        "short-password",
        "space-in-username",
        "short-username",
        "mobile-number-as-username",
        "invisible-character-in-username",
        "blank-display-name",
        "null-kind",
    ],
)
async def test_register_rejects_a_wrong_value_with_field_errors(
    client: AsyncClient, overrides: dict[str, object], field: str
) -> None:
    response = await client.post(REGISTER, json=register_body(**overrides))
    body = assert_problem(response, 422, "validation_failed")
    assert ["body", field] in [error["loc"] for error in body["errors"]]


@pytest.mark.parametrize("missing", ["username", "password", "display_name", "kind"])
async def test_register_rejects_a_missing_field(client: AsyncClient, missing: str) -> None:
    body = register_body()
    del body[missing]
    response = await client.post(REGISTER, json=body)
    problem = assert_problem(response, 422, "validation_failed")
    assert ["body", missing] in [error["loc"] for error in problem["errors"]]


async def test_register_rejects_an_extra_field(client: AsyncClient) -> None:
    response = await client.post(REGISTER, json=register_body(role="platform"))
    problem = assert_problem(response, 422, "validation_failed")
    assert ["body", "role"] in [error["loc"] for error in problem["errors"]]


async def test_register_rejects_a_body_that_is_not_an_object(client: AsyncClient) -> None:
    response = await client.post(REGISTER, json=["lihua", PASSWORD])
    assert_problem(response, 422, "validation_failed")


# -- signing in --------------------------------------------------------------------------------


async def test_a_token_from_sign_in_opens_me(client: AsyncClient) -> None:
    donor, pair = await signed_in_donor(client)
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] > 0
    assert pair["refresh_expires_in"] > pair["expires_in"]
    response = await client.get(ME, headers=bearer(pair["access_token"]))
    assert response.status_code == 200, response.text
    assert response.json() == donor


async def test_sign_in_ignores_the_case_of_the_username(client: AsyncClient) -> None:
    donor = await register_donor(client)
    headers = await sign_in(client, str(donor["username"]).upper())
    response = await client.get(ME, headers=headers)
    assert response.json()["id"] == donor["id"]


async def test_a_wrong_password_is_invalid_credentials(client: AsyncClient) -> None:
    donor = await register_donor(client)
    response = await client.post(
        TOKEN, data={"username": donor["username"], "password": PASSWORD + "!"}
    )
    assert_unauthorized(response, "invalid_credentials")


async def test_an_unknown_username_is_answered_like_a_wrong_password(client: AsyncClient) -> None:
    donor = await register_donor(client)
    wrong_password = await client.post(
        TOKEN, data={"username": donor["username"], "password": PASSWORD + "!"}
    )
    unknown_user = await client.post(
        TOKEN, data={"username": unique("nobody"), "password": PASSWORD}
    )
    assert_unauthorized(unknown_user, "invalid_credentials")
    without_id = [
        {k: v for k, v in r.json().items() if k != "request_id"}
        for r in (wrong_password, unknown_user)
    ]
    assert without_id[0] == without_id[1]


async def test_sign_in_without_a_password_is_a_validation_error(client: AsyncClient) -> None:
    response = await client.post(TOKEN, data={"username": "lihua"})
    assert_problem(response, 422, "validation_failed")


# -- access tokens -----------------------------------------------------------------------------


async def test_me_without_a_token_is_not_authenticated(client: AsyncClient) -> None:
    assert_unauthorized(await client.get(ME), "not_authenticated")


async def test_me_with_a_non_bearer_scheme_is_not_authenticated(client: AsyncClient) -> None:
    response = await client.get(ME, headers={"Authorization": "Basic bGloYTpwdw=="})
    assert_unauthorized(response, "not_authenticated")


async def test_an_expired_access_token_is_token_expired(client: AsyncClient, app: FastAPI) -> None:
    donor = await register_donor(client)
    token = app.state.tokens.issue_access(
        donor["id"], "donor", None, family="f", generation=0, now=utcnow() - timedelta(hours=2)
    )
    assert_unauthorized(await client.get(ME, headers=bearer(token)), "token_expired")


async def test_a_freshly_issued_access_token_is_accepted(client: AsyncClient, app: FastAPI) -> None:
    """The control for the expired-token test: the same call with the current time works."""
    donor = await register_donor(client)
    token = app.state.tokens.issue_access(
        donor["id"], "donor", None, family="f", generation=0, now=utcnow()
    )
    response = await client.get(ME, headers=bearer(token))
    assert response.status_code == 200, response.text


async def test_a_token_with_one_payload_character_changed_is_invalid(client: AsyncClient) -> None:
    _, pair = await signed_in_donor(client)
    header, payload, signature = pair["access_token"].split(".")
    middle = len(payload) // 2
    changed = "A" if payload[middle] != "A" else "B"
    tampered = f"{header}.{payload[:middle]}{changed}{payload[middle + 1 :]}.{signature}"
    assert_unauthorized(await client.get(ME, headers=bearer(tampered)), "invalid_token")


async def test_a_payload_raised_to_platform_under_the_old_signature_is_invalid(
    client: AsyncClient,
) -> None:
    _, pair = await signed_in_donor(client)
    header, _, signature = pair["access_token"].split(".")
    claims = {**claims_of(pair["access_token"]), "role": "platform", "scope": ""}
    forged = f"{header}.{b64url_json(claims)}.{signature}"
    assert_unauthorized(await client.get(ME, headers=bearer(forged)), "invalid_token")


async def test_a_token_signed_with_another_key_is_invalid(client: AsyncClient) -> None:
    _, pair = await signed_in_donor(client)
    forged = jwt.encode(
        claims_of(pair["access_token"]), "another-key-that-is-long-enough-for-hs256", "HS256"
    )
    assert_unauthorized(await client.get(ME, headers=bearer(forged)), "invalid_token")


async def test_an_unsigned_alg_none_token_is_invalid(client: AsyncClient) -> None:
    _, pair = await signed_in_donor(client)
    header = b64url_json({"alg": "none", "typ": "JWT"})
    unsigned = f"{header}.{b64url_json(claims_of(pair['access_token']))}."
    assert_unauthorized(await client.get(ME, headers=bearer(unsigned)), "invalid_token")


async def test_a_refresh_token_is_not_an_access_token(client: AsyncClient) -> None:
    _, pair = await signed_in_donor(client)
    assert_unauthorized(
        await client.get(ME, headers=bearer(pair["refresh_token"])), "invalid_token"
    )


async def test_a_token_of_another_type_is_invalid(client: AsyncClient, app: FastAPI) -> None:
    """A correctly signed token whose ``typ`` is not "access" does not sign anyone in."""
    _, pair = await signed_in_donor(client)
    claims = {**claims_of(pair["access_token"]), "typ": "refresh"}
    other = jwt.encode(claims, app.state.settings.secret("secret_key"), "HS256")
    assert_unauthorized(await client.get(ME, headers=bearer(other)), "invalid_token")


async def test_a_token_for_an_unknown_account_is_refused(client: AsyncClient, app: FastAPI) -> None:
    token = app.state.tokens.issue_access(
        2**62, "donor", None, family="f", generation=0, now=utcnow()
    )
    response = await client.get(ME, headers=bearer(token))
    assert response.status_code == 401, response.text


async def test_a_garbage_bearer_token_is_invalid(client: AsyncClient) -> None:
    assert_unauthorized(await client.get(ME, headers=bearer("not.a.jwt")), "invalid_token")


# -- refresh -----------------------------------------------------------------------------------


async def test_refresh_returns_a_new_pair_that_opens_me(client: AsyncClient) -> None:
    donor, pair = await signed_in_donor(client)
    response = await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 200, response.text
    fresh = response.json()
    assert fresh["refresh_token"] != pair["refresh_token"]
    assert fresh["access_token"] != pair["access_token"]
    me = await client.get(ME, headers=bearer(fresh["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == donor["id"]


async def test_a_refreshed_refresh_token_can_be_refreshed_again(client: AsyncClient) -> None:
    _, pair = await signed_in_donor(client)
    first = await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    second = await client.post(REFRESH, json={"refresh_token": first.json()["refresh_token"]})
    assert second.status_code == 200, second.text


async def test_a_refresh_token_used_twice_is_refresh_token_reused(client: AsyncClient) -> None:
    _, pair = await signed_in_donor(client)
    first = await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert first.status_code == 200, first.text
    again = await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert_unauthorized(again, "refresh_token_reused")


async def test_reuse_revokes_the_refresh_token_issued_by_the_first_use(
    client: AsyncClient,
) -> None:
    _, pair = await signed_in_donor(client)
    first = await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert first.status_code == 200, first.text
    await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    descendant = await client.post(REFRESH, json={"refresh_token": first.json()["refresh_token"]})
    assert_unauthorized(descendant, "invalid_refresh_token")


async def test_reuse_leaves_other_sign_ins_working(client: AsyncClient) -> None:
    donor, pair = await signed_in_donor(client)
    other = await token_pair(client, str(donor["username"]))
    await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    response = await client.post(REFRESH, json={"refresh_token": other["refresh_token"]})
    assert response.status_code == 200, response.text


async def test_a_garbage_refresh_token_is_invalid_refresh_token(client: AsyncClient) -> None:
    response = await client.post(REFRESH, json={"refresh_token": "not-a-refresh-token"})
    assert_unauthorized(response, "invalid_refresh_token")


async def test_an_access_token_is_not_accepted_as_a_refresh_token(client: AsyncClient) -> None:
    """Refused as too long for a refresh token (422) or as unknown (401), never exchanged."""
    _, pair = await signed_in_donor(client)
    response = await client.post(REFRESH, json={"refresh_token": pair["access_token"]})
    assert response.status_code in {401, 422}, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert "access_token" not in response.json()


@pytest.mark.parametrize(
    "body",
    [{}, {"refresh_token": ""}, {"refresh_token": 42}, {"refresh_token": "x", "extra": 1}],
    ids=["missing", "empty", "number", "extra-field"],
)
async def test_refresh_rejects_a_malformed_body(client: AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post(REFRESH, json=body)
    assert_problem(response, 422, "validation_failed")
