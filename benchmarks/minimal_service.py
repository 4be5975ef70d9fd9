"""The yardstick of ``benchmarks/hot_path.py``: the least a service can do for Aixin's hot path.

FastAPI with one asyncpg pool and pyjwt, no ORM and no middleware, over Aixin's own tables: it
checks the same bearer token (signature, issuer, audience, expiry) and runs the same kind of
query for each request type, answering plain JSON. It keeps none of Aixin's guarantees (no
request ids, no problem details, no idempotency, no account or revocation check, no rate limit,
no statement timeout, no scope), which is the point: the ratio to it is what those cost.

``uvicorn benchmarks.minimal_service:app --workers 2`` with ``MINIMAL_DATABASE_URL`` (a plain
``postgresql://`` URL) and ``MINIMAL_SECRET_KEY`` (Aixin's ``AIXIN_SECRET_KEY``) set.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import jwt
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse

ISSUER, AUDIENCE = "aixin", "aixin-api"

_ME = "SELECT id, username, display_name, role, donor_kind, scope_code, honour_roll FROM users "
_ME += "WHERE id = $1 AND is_active"
_VIEW = """
SELECT n.id, n.category, n.title, n.description, n.value_fen, n.urgency, n.deadline, n.status,
       n.version, n.village_code, r.name AS village_name, h.head_name_masked, h.size,
       h.key_household, n.created_at, n.published_at
FROM needs n JOIN households h ON h.id = n.household_id JOIN regions r ON r.code = n.village_code
"""
_PAGE = _VIEW + " WHERE n.status = 'published' {after} ORDER BY n.created_at DESC, n.id DESC"
_PAGE += " LIMIT $1"
_AFTER = "AND (n.created_at, n.id) < ($2, $3)"
_CLAIM = """
UPDATE needs SET status = 'claimed', version = version + 1, updated_at = $2
WHERE id = $1 AND status = 'published' RETURNING village_code, county_code
"""
_RELEASE = """
UPDATE needs SET status = 'published', version = version + 1, updated_at = $2
WHERE id = $1 AND status = 'claimed' RETURNING county_code
"""
_PAIRING = """
INSERT INTO pairings (need_id, donor_id, source, status, predicted_success, village_code,
                      county_code, created_at, active_at)
VALUES ($1, $2, 'claim', 'active', 0.5, $3, $4, $5, $5) RETURNING id
"""
_END_PAIRING = """
UPDATE pairings SET status = 'released', ended_at = $3
WHERE need_id = $1 AND donor_id = $2 AND status = 'active' RETURNING id
"""
_EVENT = """
INSERT INTO events (entity, entity_id, need_id, action, from_status, to_status, actor_id,
                    county_code, at)
VALUES ('need', $1, $1, $2, $3, $4, $5, $6, $7)
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    url = os.environ["MINIMAL_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    app.state.pool = await asyncpg.create_pool(url, min_size=2, max_size=10)
    app.state.key = os.environ["MINIMAL_SECRET_KEY"]
    try:
        yield
    finally:
        await app.state.pool.close()


app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


def _user_id(request: Request, authorization: str | None) -> int:
    """The bearer token's user, after the signature, issuer, audience and expiry are checked."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        raise HTTPException(401)
    try:
        claims = jwt.decode(
            token, request.app.state.key, algorithms=["HS256"], issuer=ISSUER, audience=AUDIENCE
        )
    except jwt.PyJWTError as exc:
        raise HTTPException(401) from exc
    return int(claims["sub"])


def _jsonable(record: asyncpg.Record) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, dt.date | dt.datetime) else value
        for key, value in record.items()
    }


def _cursor(record: asyncpg.Record) -> str:
    raw = json.dumps([record["created_at"].isoformat(), record["id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode()


@app.get("/me")
async def me(request: Request, authorization: str | None = Header(None)) -> JSONResponse:
    user_id = _user_id(request, authorization)
    row = await request.app.state.pool.fetchrow(_ME, user_id)
    if row is None:
        raise HTTPException(401)
    return JSONResponse(_jsonable(row))


@app.get("/needs")
async def browse(
    request: Request,
    limit: int = 20,
    cursor: str | None = None,
    authorization: str | None = Header(None),
) -> JSONResponse:
    _user_id(request, authorization)
    pool = request.app.state.pool
    if cursor:
        moment, need_id = json.loads(base64.urlsafe_b64decode(cursor))
        after = (dt.datetime.fromisoformat(moment), int(need_id))
        rows = await pool.fetch(_PAGE.format(after=_AFTER), limit + 1, *after)
    else:
        rows = await pool.fetch(_PAGE.format(after=""), limit + 1)
    items = [_jsonable(row) for row in rows[:limit]]
    next_cursor = _cursor(rows[limit - 1]) if len(rows) > limit else None
    return JSONResponse({"items": items, "next_cursor": next_cursor})


@app.get("/needs/{need_id}")
async def one_need(
    request: Request, need_id: int, authorization: str | None = Header(None)
) -> JSONResponse:
    _user_id(request, authorization)
    row = await request.app.state.pool.fetchrow(_VIEW + " WHERE n.id = $1", need_id)
    if row is None:
        raise HTTPException(404)
    return JSONResponse(_jsonable(row))


async def _step(request: Request, need_id: int, authorization: str | None, claim: bool) -> Any:
    """Claim (or release) the need: a compare-and-set on it, its pairing, one event."""
    donor_id = _user_id(request, authorization)
    now = dt.datetime.now(dt.UTC)
    async with request.app.state.pool.acquire() as connection, connection.transaction():
        if claim:
            moved = await connection.fetchrow(_CLAIM, need_id, now)
            if moved is None:
                raise HTTPException(409)
            village, county = moved["village_code"], moved["county_code"]
            pairing = await connection.fetchval(_PAIRING, need_id, donor_id, village, county, now)
            before, after = "published", "claimed"
        else:
            moved = await connection.fetchrow(_RELEASE, need_id, now)
            if moved is None:
                raise HTTPException(409)
            county = moved["county_code"]
            pairing = await connection.fetchval(_END_PAIRING, need_id, donor_id, now)
            before, after = "claimed", "published"
        action = "claim" if claim else "release"
        await connection.execute(_EVENT, need_id, action, before, after, donor_id, county, now)
    return {"need_id": need_id, "status": after, "pairing_id": pairing}


@app.post("/needs/{need_id}/claim", status_code=201)
async def claim_need(
    request: Request, need_id: int, authorization: str | None = Header(None)
) -> JSONResponse:
    return JSONResponse(await _step(request, need_id, authorization, True), status_code=201)


@app.post("/needs/{need_id}/release")
async def release_need(
    request: Request, need_id: int, authorization: str | None = Header(None)
) -> JSONResponse:
    return JSONResponse(await _step(request, need_id, authorization, False))


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
