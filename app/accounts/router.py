"""Sign-up, sign-in, the caller's own account, and admins within a scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from app.accounts import service
from app.accounts.deps import Admin, AdminScope, CurrentUser, Donor, PasswordsDep, TokensDep
from app.accounts.schemas import (
    AdminCreate,
    AdminList,
    AdminRead,
    Me,
    MeUpdate,
    Refresh,
    Register,
    TokenPair,
)
from app.core.db import SessionDep
from app.core.openapi import link, links
from app.core.ratelimit import RATE_LIMITED, RateLimitsDep, client_address
from app.core.types import INT64_MAX, IdParam, Text

auth_router = APIRouter(prefix="/auth", tags=["auth"])
me_router = APIRouter(tags=["auth"])
admins_router = APIRouter(prefix="/admins", tags=["admins"])
FormText = Annotated[str, Text(1024, min_length=0, strip=False)]


class SignInForm(OAuth2PasswordRequestForm):
    """The OAuth2 password form, each field through the input gate (a NUL is a 422)."""

    def __init__(
        self,
        *,
        grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
        username: Annotated[FormText, Form()],
        password: Annotated[FormText, Form(json_schema_extra={"format": "password"})],
        scope: Annotated[FormText, Form()] = "",
        client_id: Annotated[FormText | None, Form()] = None,
        client_secret: Annotated[
            FormText | None, Form(json_schema_extra={"format": "password"})
        ] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )


CREATED_LINKS = links(
    201,
    ReadAdmin=link("GET", "/admins/{admin_id}", "The new admin", admin_id="$response.body#/id"),
)


@auth_router.post("/register", response_model=Me, status_code=status.HTTP_201_CREATED)
async def register(session: SessionDep, passwords: PasswordsDep, body: Register) -> Me:
    """Create a donor account (爱心人士, 爱心企业 or 社会组织)."""
    user = await service.register_donor(session, passwords, body)
    return Me.model_validate(user)


@auth_router.post("/token", response_model=TokenPair, responses=RATE_LIMITED)
async def token(
    session: SessionDep,
    passwords: PasswordsDep,
    tokens: TokensDep,
    limits: RateLimitsDep,
    request: Request,
    form: Annotated[SignInForm, Depends()],
) -> TokenPair:
    """Sign in (OAuth2 password flow): a short-lived access token and a refresh token.

    Repeated failures for one username or from one address get 429 with Retry-After.
    """
    async with limits.sign_in(form.username, client_address(request)):
        user = await service.authenticate(session, passwords, form.username, form.password)
    return await service.issue_tokens(session, tokens, user)


@auth_router.post("/refresh", response_model=TokenPair)
async def refresh(session: SessionDep, tokens: TokensDep, body: Refresh) -> TokenPair:
    """Trade a refresh token for a new pair; each refresh token works once."""
    return await service.rotate_refresh(session, tokens, body.refresh_token)


@me_router.get("/me", response_model=Me)
async def read_me(user: CurrentUser) -> Me:
    """The signed-in account."""
    return Me.model_validate(user)


@me_router.patch("/me", response_model=Me)
async def update_me(session: SessionDep, donor: Donor, body: MeUpdate) -> Me:
    """Change the signed-in donor's settings (the roll of honour, 爱心榜); admins get 403."""
    return Me.model_validate(await service.update_donor(session, donor, body))


@admins_router.post(
    "", response_model=AdminRead, status_code=status.HTTP_201_CREATED, responses=CREATED_LINKS
)
async def create_admin(
    session: SessionDep, passwords: PasswordsDep, admin: Admin, body: AdminCreate
) -> AdminRead:
    """Create an admin of a lower role, inside the caller's own scope."""
    created = await service.create_admin(session, passwords, admin, body)
    return AdminRead.model_validate(created)


@admins_router.get("", response_model=AdminList)
async def list_admins(
    session: SessionDep,
    scope: AdminScope,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> AdminList:
    """The admins inside the caller's scope."""
    admins, total = await service.list_admins(session, scope, limit=limit, offset=offset)
    return AdminList(items=[AdminRead.model_validate(a) for a in admins], total=total)


@admins_router.get("/{admin_id}", response_model=AdminRead)
async def get_admin(
    session: SessionDep, scope: AdminScope, admin_id: Annotated[IdParam, Path()]
) -> AdminRead:
    """One admin inside the caller's scope (404 outside it)."""
    return AdminRead.model_validate(await service.get_admin(session, scope, admin_id))
