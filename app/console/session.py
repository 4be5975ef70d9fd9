"""The console's cookie session and its CSRF tokens.

A console sign-in is a sign-in family like the API's (``accounts.service.issue_tokens``): signing
out revokes it, and a disabled account, a new password or a changed role ends it at the next
page, because every page reads the user through :func:`app.accounts.deps.account_of`. The
cookie carries a signed token naming the user, the family and the token generation; it is
HttpOnly, SameSite=Lax, limited to ``/console`` and Secure in production.

Every form carries a CSRF token: an HMAC of a random per-browser cookie and the session's family,
so a token is worth nothing in another browser or after signing in again.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.deps import account_of
from app.accounts.models import User
from app.core.db import SessionDep, utcnow
from app.core.errors import Forbidden, Unauthorized
from app.core.security import AccessClaims
from app.core.settings import Settings


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who a page is rendered for: read once, so that a page rendered after a rolled-back
    request (an error page) needs nothing more from the database."""

    id: int
    role: str
    display_name: str
    scope_code: str


SESSION_COOKIE = "aixin_console"
CSRF_COOKIE = "aixin_console_csrf"
CSRF_FIELD = "csrf_token"
COOKIE_PATH = "/console"
SESSION_HOURS = 8
_TYPE = "console"
_ALGORITHM = "HS256"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _key(settings: Settings) -> str:
    return settings.secret("secret_key")


def _audience(settings: Settings) -> str:
    return f"{settings.jwt_audience}:console"


def session_token(settings: Settings, user: User, family: str, now: dt.datetime) -> str:
    """The signed value of the session cookie for ``user``'s sign-in ``family``."""
    payload: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": _audience(settings),
        "sub": str(user.id),
        "role": user.role,
        "scope": user.scope_code,
        "fam": family,
        "gen": user.token_generation,
        "typ": _TYPE,
        "iat": int(now.timestamp()),
        "exp": int((now + dt.timedelta(hours=SESSION_HOURS)).timestamp()),
    }
    return jwt.encode(payload, _key(settings), algorithm=_ALGORITHM)


def read_session(settings: Settings, token: str) -> AccessClaims:
    """The claims of a session cookie; 401 when it is forged, expired or not a console session."""
    try:
        payload = jwt.decode(
            token,
            _key(settings),
            algorithms=[_ALGORITHM],
            issuer=settings.jwt_issuer,
            audience=_audience(settings),
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("The console session is not valid", code="session_ended") from exc
    family, generation, subject = payload.get("fam"), payload.get("gen"), str(payload["sub"])
    if (
        payload.get("typ") != _TYPE
        or not subject.isdigit()
        or not isinstance(family, str)
        or not isinstance(generation, int)
    ):
        raise Unauthorized("The console session is not valid", code="session_ended")
    return AccessClaims(
        user_id=int(subject),
        role=str(payload.get("role")),
        scope=payload.get("scope"),
        expires_at=dt.datetime.fromtimestamp(int(payload["exp"]), dt.UTC),
        family=family,
        generation=generation,
    )


def session_family(request: Request) -> str:
    """The sign-in family of the request's session; empty without a valid one."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return ""
    try:
        return read_session(_settings(request), token).family
    except Unauthorized:
        return ""


async def current_user(request: Request, session: SessionDep) -> User:
    """The signed-in user of the console, checked as the API checks a bearer token."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Unauthorized("Sign in to the console", code="not_authenticated")
    user = await account_of(session, read_session(_settings(request), token))
    request.state.viewer = Viewer(user.id, user.role, user.display_name, user.scope_code or "")
    return user


ConsoleUser = Annotated[User, Depends(current_user)]


async def undo(session: AsyncSession, user: User) -> None:
    """Roll back what a refused step wrote, and read the user again to show the page."""
    await session.rollback()
    await session.refresh(user)


def start_session(response: Response, settings: Settings, user: User, family: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_token(settings, user, family, utcnow()),
        max_age=SESSION_HOURS * 3600,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=settings.env == "production",
    )


def end_session(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=settings.env == "production",
    )


# -- CSRF ------------------------------------------------------------------------------------


def _browser_secret(request: Request) -> str:
    """The browser's CSRF cookie value, made for this response when the browser has none."""
    known = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if known:
        return str(known)
    fresh = secrets.token_urlsafe(32)
    request.state.new_csrf_cookie = fresh
    return fresh


def csrf_token(request: Request, family: str | None = None) -> str:
    """The token this browser's forms carry for its current session (or none yet)."""
    family = session_family(request) if family is None else family
    message = f"csrf|{_browser_secret(request)}|{family}".encode()
    digest = hmac.new(_key(_settings(request)).encode(), message, hashlib.sha256).digest()
    # URL-safe base64 (no run of digits that could pass for an ID or phone number).
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Give the browser its CSRF cookie if this response made one."""
    fresh = getattr(request.state, "new_csrf_cookie", None)
    if fresh:
        response.set_cookie(
            CSRF_COOKIE,
            fresh,
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=_settings(request).env == "production",
        )


async def check_csrf(request: Request) -> None:
    """403 for a form posted without this browser's token for its session."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    if (
        not cookie
        or not isinstance(sent, str)
        or not hmac.compare_digest(sent, csrf_token(request))
    ):
        raise Forbidden("The form's CSRF token is missing or wrong", code="csrf_failed")


Csrf = Depends(check_csrf)
