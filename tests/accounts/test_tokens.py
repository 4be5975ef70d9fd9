"""Access tokens the service must refuse, and the lifetime of the ones it issues.

tests/accounts/test_auth.py covers unsigned (alg "none"), tampered, other-key, expired and
refresh-token forgeries; these add the algorithm swaps, the audience and issuer, each required
claim, and the 15-minute ceiling on an access token's life.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from httpx import AsyncClient, Response
from pydantic import ValidationError

from app.core.security import Tokens
from tests.conftest import TEST_SECRET, settings_for
from tests.factories import PASSWORD, assert_problem, register_donor

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/me"
FIFTEEN_MINUTES = 15 * 60


def b64url_json(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def sign_in_pair(client: AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """A registered donor, and the claims of a real access token of theirs."""
    donor = await register_donor(client)
    response = await client.post(TOKEN, data={"username": donor["username"], "password": PASSWORD})
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair, jwt.decode(pair["access_token"], options={"verify_signature": False})


async def me_with(client: AsyncClient, token: str) -> Response:
    return await client.get(ME, headers={"Authorization": f"Bearer {token}"})


def assert_invalid(response: Response, code: str = "invalid_token") -> None:
    assert_problem(response, 401, code)
    assert response.headers["www-authenticate"] == "Bearer"


def signed(claims: dict[str, Any], **changes: Any) -> str:
    """``claims`` with ``changes`` (None removes a claim), signed HS256 with the real key."""
    payload = {key: value for key, value in {**claims, **changes}.items() if value is not None}
    return jwt.encode(payload, TEST_SECRET, algorithm="HS256")


# -- algorithm swaps ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
async def test_a_token_signed_with_the_real_key_under_another_hmac_is_invalid(
    client: AsyncClient, algorithm: str
) -> None:
    _, claims = await sign_in_pair(client)
    swapped = jwt.encode(claims, TEST_SECRET, algorithm=algorithm)
    assert_invalid(await me_with(client, swapped))


@pytest.mark.parametrize("algorithm", ["RS256", "PS256", "ES256"])
async def test_a_token_signed_with_an_asymmetric_key_is_invalid(
    client: AsyncClient, algorithm: str
) -> None:
    _, claims = await sign_in_pair(client)
    key: Any = (
        ec.generate_private_key(ec.SECP256R1())
        if algorithm.startswith("ES")
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    assert_invalid(await me_with(client, jwt.encode(claims, key, algorithm=algorithm)))


@pytest.mark.parametrize("alg", ["HS512", "RS256", "None", "NONE", "nOnE", ""])
async def test_a_real_token_whose_header_names_another_algorithm_is_invalid(
    client: AsyncClient, alg: str
) -> None:
    """The HS256 signature kept, the header's ``alg`` changed (or the signature dropped)."""
    pair, _ = await sign_in_pair(client)
    _, payload, signature = pair["access_token"].split(".")
    header = b64url_json({"alg": alg, "typ": "JWT"})
    for token in (f"{header}.{payload}.{signature}", f"{header}.{payload}."):
        assert_invalid(await me_with(client, token))


async def test_the_untouched_token_is_accepted(client: AsyncClient) -> None:
    """The control for the swaps above and the claims below."""
    pair, claims = await sign_in_pair(client)
    assert (await me_with(client, pair["access_token"])).status_code == 200
    assert (await me_with(client, signed(claims))).status_code == 200


# -- audience, issuer and the required claims --------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "another-api"},
        {"aud": ["another-api"]},
        {"iss": "someone-else"},
        {"iss": "aixin-evil"},
        {"typ": "id"},
        {"sub": "admin"},
        {"sub": "-1"},
        {"iat": "yesterday"},
        {"nbf": int(time.time()) + 3600},
        {"iat": int(time.time()) + 3600, "exp": int(time.time()) + 3600 + 60},
    ],
    ids=[
        "wrong-audience",
        "wrong-audience-list",
        "wrong-issuer",
        "issuer-with-suffix",
        "not-an-access-token",
        "subject-not-a-number",
        "negative-subject",
        "issued-at-not-a-time",
        "not-before-in-the-future",
        "issued-in-the-future",
    ],
)
async def test_a_correctly_signed_token_with_a_wrong_claim_is_invalid(
    client: AsyncClient, changes: dict[str, Any]
) -> None:
    _, claims = await sign_in_pair(client)
    assert_invalid(await me_with(client, signed(claims, **changes)))


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "iss", "aud", "typ"])
async def test_a_correctly_signed_token_missing_a_required_claim_is_invalid(
    client: AsyncClient, claim: str
) -> None:
    _, claims = await sign_in_pair(client)
    assert_invalid(await me_with(client, signed(claims, **{claim: None})))


async def test_a_token_expired_one_second_ago_is_expired(client: AsyncClient) -> None:
    _, claims = await sign_in_pair(client)
    now = int(time.time())
    token = signed(claims, iat=now - FIFTEEN_MINUTES - 1, exp=now - 1)
    assert_invalid(await me_with(client, token), "token_expired")


# -- at most 15 minutes ------------------------------------------------------------------------


async def test_issued_access_tokens_live_at_most_15_minutes(client: AsyncClient) -> None:
    pair, claims = await sign_in_pair(client)
    assert claims["exp"] - claims["iat"] <= FIFTEEN_MINUTES
    assert pair["expires_in"] == claims["exp"] - claims["iat"]
    refreshed = await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    fresh = jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})
    assert fresh["exp"] - fresh["iat"] <= FIFTEEN_MINUTES


@pytest.mark.parametrize("minutes", [16, 60, 0])
def test_the_access_token_lifetime_cannot_be_set_outside_1_to_15_minutes(
    minutes: int, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="access_token_minutes"):
        settings_for("sqlite+aiosqlite://", tmp_path, access_token_minutes=minutes)


def test_the_longest_configurable_lifetime_issues_900_second_tokens(tmp_path: Path) -> None:
    tokens = Tokens(settings_for("sqlite+aiosqlite://", tmp_path, access_token_minutes=15))
    token = tokens.issue_access(
        1, "donor", None, family="f", generation=0, now=dt.datetime.now(dt.UTC)
    )
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == FIFTEEN_MINUTES


async def test_a_signed_token_meant_to_live_longer_than_15_minutes_is_invalid(
    client: AsyncClient,
) -> None:
    """However it was minted, a token whose life exceeds 15 minutes opens nothing."""
    _, claims = await sign_in_pair(client)
    now = int(time.time())
    too_long = signed(claims, iat=now, exp=now + FIFTEEN_MINUTES + 1)
    assert_invalid(await me_with(client, too_long))
    longest = signed(claims, iat=now, exp=now + FIFTEEN_MINUTES)
    assert (await me_with(client, longest)).status_code == 200


# -- refresh tokens ----------------------------------------------------------------------------


async def test_concurrent_uses_of_one_refresh_token_have_one_winner(client: AsyncClient) -> None:
    """Spending is a conditional update: of five racing uses, one gets a pair."""
    pair, _ = await sign_in_pair(client)
    body = {"refresh_token": pair["refresh_token"]}
    responses = await asyncio.gather(*(client.post(REFRESH, json=body) for _ in range(5)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 401, 401, 401, 401], [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json()
    # The losers presented a spent token: the family, the winner's new token with it, is revoked.
    again = await client.post(REFRESH, json={"refresh_token": winner["refresh_token"]})
    assert_invalid(again, "invalid_refresh_token")
