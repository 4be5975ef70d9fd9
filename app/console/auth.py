"""Signing in (username or mobile number) and out, and the home page of each role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError

from app.accounts import service as accounts
from app.accounts.deps import PasswordsDep, TokensDep
from app.accounts.models import User
from app.console.render import page, problem_message
from app.console.session import (
    SESSION_COOKIE,
    ConsoleUser,
    Csrf,
    end_session,
    read_session,
    start_session,
)
from app.core.crypto import VaultDep
from app.core.db import SessionDep
from app.core.errors import TooManyRequests, Unauthorized
from app.core.ratelimit import RateLimitsDep, client_address
from app.core.types import Text

router = APIRouter()
# The sign-in form's fields pass the API's input gate (no NUL, no lone surrogate).
FormText: TypeAdapter[str] = TypeAdapter(Annotated[str, Text(1024, min_length=0, strip=False)])

HOME = {
    "village": "/console/households",
    "township": "/console/review",
    "county": "/console/dashboard",
    "platform": "/console/dashboard",
    "donor": "/console/browse",
}


def redirect(url: str) -> RedirectResponse:
    """After a form: see the result at ``url`` (a reload does not post again)."""
    return RedirectResponse(url, status_code=303)


@router.get("/")
async def home(request: Request, user: ConsoleUser) -> Response:
    """Each role starts where its work is."""
    return redirect(HOME[user.role])


@router.get("/login")
async def login_form(request: Request) -> Response:
    """The sign-in page."""
    return page(request, "login.html", {"username": "", "error": None})


@router.post("/login", dependencies=[Csrf])
async def login(
    request: Request,
    session: SessionDep,
    passwords: PasswordsDep,
    tokens: TokensDep,
    limits: RateLimitsDep,
    vault: VaultDep,
) -> Response:
    """Sign in by username or mobile number; the session is a sign-in family of the account."""
    form = await request.form()
    try:
        username = FormText.validate_python(form.get("username") or "")
        password = FormText.validate_python(form.get("password") or "")
    except ValidationError:
        context = {"username": "", "error": "用户名或密码含有不能使用的字符。"}
        return page(request, "login.html", context, status_code=422)
    if not username.strip() or not password:
        context = {"username": username, "error": "请填写用户名（或手机号）和密码。"}
        return page(request, "login.html", context, status_code=422)
    try:
        name = accounts.sign_in_name(username)
        async with limits.sign_in(name, client_address(request)):
            user = await accounts.authenticate(session, passwords, vault, name, password)
        pair = await accounts.issue_tokens(session, tokens, user)
    except (Unauthorized, TooManyRequests) as exc:
        status = 401 if isinstance(exc, Unauthorized) else 429
        context = {"username": username, "error": problem_message(exc)}
        return page(request, "login.html", context, status_code=status)
    family = tokens.read_access(pair.access_token).family
    response = redirect(HOME[user.role])
    start_session(response, request.app.state.settings, user, family)
    return response


@router.post("/logout", dependencies=[Csrf])
async def logout(request: Request, session: SessionDep) -> Response:
    """Sign out: the session's family is revoked, so the cookie is worth nothing even if kept."""
    token = request.cookies.get(SESSION_COOKIE)
    settings = request.app.state.settings
    if token:
        try:
            claims = read_session(settings, token)
        except Unauthorized:
            claims = None
        if claims is not None:
            user = await session.get(User, claims.user_id)
            if user is not None:
                await accounts.sign_out(session, user, claims.family)
    response = redirect("/console/login?notice=signed_out")
    end_session(response, settings)
    return response
