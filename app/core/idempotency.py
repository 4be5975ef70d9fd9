"""Idempotent POSTs: a retry with the same ``Idempotency-Key`` gets the first response.

A POST under ``/api/`` may carry an ``Idempotency-Key`` header (1-255 printable ASCII
characters). The first request with a key claims it: a ``pending`` row, written in its own short
transaction before the request runs. The request's own transaction marks the row ``committed``
together with its writes (:func:`app.core.db.get_session`), so the mark exists exactly when the
writes do. When the response is known it is stored (``completed``) and every retry gets it again
with ``Idempotent-Replayed: true``. A response of 400 or more wrote nothing: the key is released
and a retry runs again.

Keys belong to a principal, the signed-in user or ``anonymous``, and are remembered for
``idempotency_hours``. The same key with another request is refused (422); a retry that arrives
while the first request is still running is told to wait (409 with ``Retry-After``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import structlog
from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.crypto import Vault
from app.core.db import Database, utcnow
from app.core.errors import AppError, database_unreachable, problem_response
from app.core.idempotency_models import IdempotencyKey
from app.core.security import AccessClaims, TokenError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Where the claimed row's id waits for the request's session (``request.state``).
STATE_KEY = "idempotency_key_id"
ANONYMOUS = "anonymous"
IN_PROGRESS = "A request with this Idempotency-Key is still being processed"
NOT_AVAILABLE = (
    "The first request with this Idempotency-Key succeeded, but its response is not available"
)
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")
_FINGERPRINT_LABEL = b"aixin idempotency fingerprint"
log = structlog.get_logger("aixin.idempotency")


class IdempotencyMiddleware:
    """Make every POST under ``/api/`` that carries an ``Idempotency-Key`` safe to retry."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        keys = _offered_keys(scope)
        if not keys:
            await self.app(scope, receive, send)
            return
        if len(keys) > 1 or not _VALID_KEY.fullmatch(keys[0]):
            await _invalid_key()(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client left before sending the whole request
        state = scope["app"].state
        store = KeyStore(
            state.database, state.vault, dt.timedelta(hours=state.settings.idempotency_hours)
        )
        fingerprint = _fingerprint(scope, body, state.settings.secret("secret_key"))
        try:
            claimed = await store.claim(_principal(scope), keys[0], fingerprint)
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            log.warning("database_unavailable", error=type(exc).__name__, message=str(exc)[:200])
            claimed = _unavailable()
        if isinstance(claimed, Response):
            await (await _audited(scope, claimed))(scope, receive, send)
            return
        scope.setdefault("state", {})[STATE_KEY] = claimed
        await self._run(scope, _replaying(body, receive), send, store, claimed)

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, store: KeyStore, key_id: int
    ) -> None:
        """Run the request, settle its key by the outcome, then send the response on."""
        captured = _Captured()
        try:
            await self.app(scope, receive, captured.send)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await _quietly(store.release(key_id), "idempotency_release_failed")
            raise
        start, body = captured.start, b"".join(captured.body)
        # Settling must finish even if the request is cancelled meanwhile: a key left pending
        # would block every retry until it expires.
        with anyio.CancelScope(shield=True):
            if start is not None and start["status"] < 400:
                content_type = Headers(raw=start.get("headers", [])).get("content-type")
                stored = store.complete(key_id, start["status"], content_type, body)
                await _quietly(stored, "idempotency_complete_failed")
            else:
                await _quietly(store.release(key_id), "idempotency_release_failed")
        if start is not None:
            await send(start)
            await send({"type": "http.response.body", "body": body})


@dataclass
class _Captured:
    """The app's response, held back until its key is settled."""

    start: Message | None = None
    body: list[bytes] = field(default_factory=list)

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.body.append(message.get("body", b""))


# -- the key's life: claim, complete, release --------------------------------------------------


# Each a statement that is a transaction by itself (app.core.direct), built once.
_KEYS = IdempotencyKey.__table__
assert isinstance(_KEYS, Table)
_CLAIMED = ("principal", "key", "fingerprint", "state", "created_at", "expires_at")
_CLAIM = insert(_KEYS).values({name: bindparam(name) for name in _CLAIMED}).returning(_KEYS.c.id)
_COMPLETE = (
    update(_KEYS)
    .where(_KEYS.c.id == bindparam("key_id"))
    .values(
        state="completed",
        status_code=bindparam("status"),
        content_type=bindparam("type"),
        response_body=bindparam("body"),
    )
)
_RELEASE = delete(_KEYS).where(_KEYS.c.id == bindparam("key_id"), _KEYS.c.state == "pending")


@dataclass(frozen=True, slots=True)
class KeyStore:
    """The stored keys, each written in its own short transaction."""

    database: Database
    vault: Vault
    lifetime: dt.timedelta

    async def claim(self, principal: str, key: str, fingerprint: str) -> int | Response:
        """Claim ``key``: the new row's id, or the response a retry gets instead."""
        for _ in range(2):  # a second try only after an expired row was removed
            now = utcnow()
            values = {
                "principal": principal,
                "key": key,
                "fingerprint": fingerprint,
                "state": "pending",
                "created_at": now,
                "expires_at": now + self.lifetime,
            }
            try:
                ((key_id,),) = await self.database.direct.write(_CLAIM, values)
                return int(key_id)
            except sa_exc.IntegrityError:
                pass  # the key is taken: see how far its first request got
            existing = await self._unexpired(principal, key, now)
            if existing is not None:
                return self._answer_retry(existing, fingerprint)
        return _in_progress(IN_PROGRESS)

    async def complete(
        self, key_id: int, status: int, content_type: str | None, body: bytes
    ) -> None:
        """Store the response of a request that succeeded, for its retries to replay.

        The body is encrypted like any personal data at rest: it may be a household's record or
        a sign-in's tokens. (Latin-1 maps bytes to text one to one, so any body survives.)
        """
        sealed = self.vault.encrypt(body.decode("latin-1"))
        values = {"key_id": key_id, "status": status, "type": content_type, "body": sealed}
        await self.database.direct.write(_COMPLETE, values)

    async def release(self, key_id: int) -> None:
        """Forget a key whose request wrote nothing, so that a retry runs again.

        Only a ``pending`` key goes: a ``committed`` one means the request's writes are stored
        although its response failed, and running it again would write them twice.
        """
        await self.database.direct.write(_RELEASE, {"key_id": key_id})

    async def _unexpired(self, principal: str, key: str, now: dt.datetime) -> IdempotencyKey | None:
        """The row holding ``key``; an expired one is deleted and None returned."""
        async with self.database.write_sessionmaker.begin() as session:
            row = await session.scalar(
                select(IdempotencyKey).where(
                    IdempotencyKey.principal == principal, IdempotencyKey.key == key
                )
            )
            if row is None or row.expires_at >= now:
                return row
            await session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.id == row.id, IdempotencyKey.expires_at < now
                )
            )
            return None

    def _answer_retry(self, row: IdempotencyKey, fingerprint: str) -> Response:
        """The response to a request whose key ``row`` already holds."""
        if not hmac.compare_digest(row.fingerprint, fingerprint):
            return problem_response(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was already used with a different request",
                title="Unprocessable request",
            )
        if row.state == "completed":
            return self._replay(row)
        return _in_progress(NOT_AVAILABLE if row.state == "committed" else IN_PROGRESS)

    def _replay(self, row: IdempotencyKey) -> Response:
        """The stored response, marked as a replay."""
        try:
            body = self.vault.decrypt(row.response_body or b"").encode("latin-1")
        except ValueError:  # sealed under another data key
            return _in_progress(NOT_AVAILABLE)
        headers = {REPLAYED_HEADER: "true"}
        if row.content_type:
            headers["content-type"] = row.content_type
        return Response(body, status_code=row.status_code or 200, headers=headers)


async def purge_expired(database: Database) -> int:
    """Delete the keys past their lifetime; how many went."""
    async with database.write_sessionmaker.begin() as session:
        result = await session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.expires_at < utcnow())
        )
    return int(getattr(result, "rowcount", 0) or 0)


# -- replays that disclose personal data -------------------------------------------------------

# Writes, in the session given, the access-log row of a replay to the user with the id given.
ReplayAudit = Callable[[AsyncSession, int, bytes], Awaitable[None]]
# Raises an AppError (401) unless the token's account may still act: not disabled, its session
# not ended (``app.state.replay_guard``, the same check every request makes).
ReplayGuard = Callable[[AsyncSession, AccessClaims], Awaitable[object]]


async def _audited(scope: Scope, answer: Response) -> Response:
    """``answer``, once the caller was found still signed in and the audit of its path
    (``app.state.replay_audits``) logged a replay.

    A replay hands the first response out again: only to a caller who may still act (an account
    disabled or a session ended since then gets the 401 any request would), and where that
    response discloses personal data (a household's creation), the disclosure is logged like any
    other, or not made (503).
    """
    state = scope["app"].state
    claims = _claims(scope)
    if REPLAYED_HEADER not in answer.headers or claims is None:
        return answer
    guard: ReplayGuard | None = getattr(state, "replay_guard", None)
    audit: ReplayAudit | None = getattr(state, "replay_audits", {}).get(scope["path"])
    try:
        async with state.database.write_sessionmaker.begin() as session:
            if guard is not None:
                await guard(session, claims)
            if audit is not None:
                await audit(session, claims.user_id, bytes(answer.body))
    except AppError as refused:
        return problem_response(
            refused.status, refused.code, refused.detail, title=refused.title,
            headers=refused.headers, **refused.extra,
        )  # fmt: skip
    except Exception as exc:
        if not database_unreachable(exc):
            raise
        log.warning("database_unavailable", error=type(exc).__name__, message=str(exc)[:200])
        return _unavailable()
    return answer


# -- answers that are not the app's ------------------------------------------------------------


def _in_progress(detail: str) -> Response:
    return problem_response(
        409, "idempotency_in_progress", detail, title="Conflict", headers={"Retry-After": "1"}
    )


def _invalid_key() -> Response:
    return problem_response(
        422,
        "invalid_idempotency_key",
        f"The {HEADER} header must be one value of 1 to 255 printable ASCII characters",
        title="Unprocessable request",
    )


def _unavailable() -> Response:
    return problem_response(
        503,
        "database_unavailable",
        "The database cannot be reached; try again shortly",
        headers={"Retry-After": "5"},
    )


# -- the request -------------------------------------------------------------------------------


# Signing in writes nothing a retry could duplicate, and a token must never be replayed.
_NOT_REPLAYED = frozenset({"/api/v1/auth/token", "/api/v1/auth/refresh"})


def honours_key(method: str, path: str) -> bool:
    """Whether a request of ``method`` to ``path`` may be made safe to retry by a key."""
    return method == "POST" and path.startswith("/api/") and path not in _NOT_REPLAYED


def _offered_keys(scope: Scope) -> list[str]:
    """The Idempotency-Key values of a POST under /api/; none for any other request."""
    if scope["type"] != "http" or not honours_key(scope["method"], scope["path"]):
        return []
    return Headers(scope=scope).getlist(HEADER)


def _claims(scope: Scope) -> AccessClaims | None:
    """What a valid bearer token of the request says; None without one."""
    scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        claims: AccessClaims = scope["app"].state.tokens.read_access(token.strip())
    except TokenError:
        return None
    return claims


def _principal(scope: Scope) -> str:
    """Whose key this is: ``user:<id>`` for a valid bearer token, else ``anonymous``."""
    claims = _claims(scope)
    return ANONYMOUS if claims is None else f"user:{claims.user_id}"


def _fingerprint(scope: Scope, body: bytes, secret: str) -> str:
    """A keyed SHA-256 of method, path, query string and body.

    Keyed, because bodies carry passwords: a plain hash stored in the database would let anyone
    who reads it test password guesses at hashing speed.
    """
    key = hmac.new(secret.encode(), _FINGERPRINT_LABEL, hashlib.sha256).digest()
    request_line = f"{scope['method']} {scope['path']}?".encode() + scope.get("query_string", b"")
    return hmac.new(key, request_line + b"\n" + body, hashlib.sha256).hexdigest()


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client disconnects first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then listens to the client."""
    unread = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return unread.pop() if unread else await receive()

    return replay


async def _quietly(action: Awaitable[None], event: str) -> None:
    """Run a bookkeeping step whose failure must not cost the caller the response."""
    try:
        await action
    except Exception:
        log.exception(event)
