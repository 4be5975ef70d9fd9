"""Password hashing (argon2id) and signed access tokens (JWT, HS256)."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from app.core.settings import Settings

ALGORITHM = "HS256"
MAX_ACCESS_LIFETIME = dt.timedelta(minutes=15)


class Passwords:
    """argon2id hashing, run in a worker thread so the event loop keeps serving."""

    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        # Verified against when the user does not exist, so both paths cost the same time.
        self._decoy = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self._verify, stored_hash or self._decoy, password)

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    role: str
    scope: str | None
    expires_at: dt.datetime
    # The refresh family of the sign-in that issued the token, and the user's token generation
    # then: revoking the family or raising the generation ends the token before it expires.
    family: str
    generation: int


class TokenError(Exception):
    """An access token that is missing, malformed, forged or expired."""


class Tokens:
    """Short-lived signed access tokens and opaque refresh tokens."""

    def __init__(self, settings: Settings) -> None:
        self._key = settings.secret("secret_key")
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self.access_lifetime = dt.timedelta(minutes=settings.access_token_minutes)
        self.refresh_lifetime = dt.timedelta(days=settings.refresh_token_days)

    def issue_access(
        self,
        user_id: int,
        role: str,
        scope: str | None,
        *,
        family: str,
        generation: int,
        now: dt.datetime,
    ) -> str:
        payload: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user_id),
            "role": role,
            "scope": scope,
            "fam": family,
            "gen": generation,
            "typ": "access",
            "iat": int(now.timestamp()),
            "exp": int((now + self.access_lifetime).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM)

    def read_access(self, token: str) -> AccessClaims:
        """The claims of a valid access token that has not expired (else :class:`TokenError`).

        A token's signature and claims are checked once and the result kept (a bounded cache of
        the tokens seen last, verified ones only): the same bytes verify the same way until they
        expire, which is checked on every use. What the token stands for (the account, its
        session, its generation) is read from the database on every request all the same.
        """
        claims = self._verified(token)
        if claims.expires_at <= dt.datetime.now(dt.UTC):
            raise TokenError("the access token has expired")
        return claims

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one Tokens per app, living as long
    def _verified(self, token: str) -> AccessClaims:
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("the access token has expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError("the access token is not valid") from exc
        family, generation = payload.get("fam"), payload.get("gen")
        if (
            payload.get("typ") != "access"
            or not str(payload["sub"]).isdigit()
            or not isinstance(family, str)
            or not isinstance(generation, int)
        ):
            raise TokenError("the access token is not valid")
        # However it was configured when it was issued (a deployment sharing the key, an older
        # release), a token meant to live longer than the most allowed is refused outright.
        expires, issued = int(payload["exp"]), int(payload["iat"])
        if expires - issued > MAX_ACCESS_LIFETIME.total_seconds():
            raise TokenError("the access token is not valid")
        return AccessClaims(
            user_id=int(payload["sub"]),
            role=str(payload.get("role")),
            scope=payload.get("scope"),
            expires_at=dt.datetime.fromtimestamp(expires, dt.UTC),
            family=family,
            generation=generation,
        )

    @staticmethod
    def new_refresh() -> tuple[str, str]:
        """A fresh opaque refresh token and the digest under which it is stored."""
        token = secrets.token_urlsafe(32)
        return token, refresh_digest(token)


def refresh_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
