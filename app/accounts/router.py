"""Sign-up, sign-in, the caller's own account, and admins within a scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Form, Path, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from app.accounts import service, verification
from app.accounts.deps import (
    Admin,
    AdminScope,
    CurrentUser,
    PasswordsDep,
    TokensDep,
    account_of,
    account_row,
    account_statement,
    bearer,
    read_claims,
    require_donor,
)
from app.accounts.models import User
from app.accounts.schemas import (
    AdminCreate,
    AdminList,
    AdminRead,
    Logout,
    Me,
    MeUpdate,
    PasswordChange,
    PhoneRegister,
    Refresh,
    Register,
    SmsSend,
    TokenPair,
)
from app.accounts.sms import SmsProvider
from app.core.crypto import VaultDep
from app.core.db import DirectDep, SessionDep, utcnow
from app.core.openapi import link, links, problems
from app.core.pagination import Cursor, Limit
from app.core.ratelimit import RATE_LIMITED, RateLimitsDep, client_address
from app.core.responses import validated_json
from app.core.types import IdParam, Text
from app.inbox import service as inbox
from app.inbox.schemas import Preferences

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


async def get_sms(request: Request) -> SmsProvider:
    """The provider that sends verification codes (``AIXIN_SMS_PROVIDER``)."""
    provider: SmsProvider = request.app.state.sms
    return provider


SmsDep = Annotated[SmsProvider, Depends(get_sms)]


CREATED_LINKS = links(
    201,
    ReadAdmin=link("GET", "/admins/{admin_id}", "The new admin", admin_id="$response.body#/id"),
)


@auth_router.post(
    "/register", response_model=Me, status_code=status.HTTP_201_CREATED, responses=problems(409)
)
async def register_donor(session: SessionDep, passwords: PasswordsDep, body: Register) -> Me:
    """Create a donor account (爱心人士, 爱心企业 or 社会组织)."""
    user = await service.register_donor(session, passwords, body)
    return Me.model_validate(user)


@auth_router.post("/token", response_model=TokenPair, responses={**RATE_LIMITED, **problems(401)})
async def sign_in(
    session: SessionDep,
    passwords: PasswordsDep,
    tokens: TokensDep,
    limits: RateLimitsDep,
    vault: VaultDep,
    request: Request,
    form: Annotated[SignInForm, Depends()],
) -> TokenPair:
    """Sign in (OAuth2 password flow): a short-lived access token and a refresh token.

    The username is a username in any spelling of it (``ＬｉＨｕａ`` is ``lihua``) or the mobile
    number of an account registered by phone. Repeated failures for one username or from one
    address get 429 with Retry-After.
    """
    name = service.sign_in_name(form.username)
    async with limits.sign_in(name, client_address(request)):
        user = await service.authenticate(session, passwords, vault, name, form.password)
    return await service.issue_tokens(session, tokens, user)


@auth_router.post("/refresh", response_model=TokenPair, responses=problems(401))
async def refresh_tokens(session: SessionDep, tokens: TokensDep, body: Refresh) -> TokenPair:
    """Trade a refresh token for a new pair; each refresh token works once."""
    return await service.rotate_refresh(session, tokens, body.refresh_token)


@auth_router.post(
    "/sms/send",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    responses={**RATE_LIMITED, 202: {"description": "The code is on its way (no body)"}},
)
async def send_sms_code(
    session: SessionDep,
    vault: VaultDep,
    sms: SmsDep,
    limits: RateLimitsDep,
    request: Request,
    body: SmsSend,
) -> Response:
    """Text a 6-digit code to a mobile number, to register with it.

    The same answer whether the number has an account or not. A number gets a few codes an
    hour (429 with Retry-After past that); 503 when no SMS provider is configured.
    """
    await limits.sms(body.phone, client_address(request))
    settings = request.app.state.settings
    await verification.send_code(session, vault, sms, settings, body.phone)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@auth_router.post("/sms/register", response_model=Me, status_code=status.HTTP_201_CREATED)
async def register_by_phone(
    session: SessionDep,
    passwords: PasswordsDep,
    vault: VaultDep,
    request: Request,
    body: PhoneRegister,
) -> Me:
    """Create a donor account signed in to by mobile number, with the code texted to it.

    A wrong or expired code is 422 ``sms_code_invalid`` (each code takes a few guesses); a
    number that has an account is 409 ``phone_taken``. Sign in with the number as username.
    """
    settings = request.app.state.settings
    user = await service.register_phone_donor(session, passwords, vault, settings, body)
    return Me.model_validate(user)


@auth_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    session: SessionDep,
    tokens: TokensDep,
    token: Annotated[str | None, Depends(bearer)],
    body: Annotated[Logout | None, Body()] = None,
) -> Response:
    """End a session: its refresh tokens stop working, and its access tokens at once.

    With a refresh token in the body, that token's session ends (no bearer token needed);
    without one, the session of the bearer token. Other sessions of the account go on.
    """
    if body is not None and body.refresh_token is not None:
        await service.sign_out_refresh(session, body.refresh_token)
    else:
        claims = read_claims(tokens, token)
        user = await account_of(session, claims)
        await service.sign_out(session, user, claims.family)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _me(session: SessionDep, user: User) -> Me:
    return _present_me(user, *await inbox.summary(session, user.id))


def _present_me(user: User, unread: int, preferences: Preferences) -> Me:
    return Me.model_validate(
        {
            **{name: getattr(user, name) for name in _ME_FIELDS},
            "unread_notifications": unread,
            "notifications": preferences,
        }
    )


# What Me reads of the account (by the names it validates from: donor_kind, scope_code …).
_ME_FIELDS = tuple(
    field.validation_alias if isinstance(field.validation_alias, str) else name
    for name, field in Me.model_fields.items()
    if name not in ("unread_notifications", "notifications")
)


# The account and its inbox's summary in one statement: GET /me is one round trip.
_ME = account_statement(*inbox.SUMMARY_COLUMNS)


@me_router.get("/me", response_model=Me)
async def read_me(
    request: Request, direct: DirectDep, token: Annotated[str | None, Depends(bearer)]
) -> Response:
    """The signed-in account, its unread notifications and its notification preferences."""
    claims = read_claims(request.app.state.tokens, token)
    user, row = await account_row(direct, claims, _ME, {"now": utcnow()})
    me = _present_me(user, *inbox.summary_of(*row[-len(inbox.SUMMARY_COLUMNS) :]))
    return validated_json(Me, me)


@me_router.patch("/me", response_model=Me, responses=problems(403))
async def update_me(session: SessionDep, user: CurrentUser, body: MeUpdate) -> Me:
    """Change the signed-in account's settings: the roll of honour (爱心榜, a donor's; an admin
    gets 403) and how notifications reach it."""
    if body.honour_roll is not None:
        await service.update_donor(session, require_donor(user), body.honour_roll)
    if body.notifications is not None:
        await inbox.set_preferences(session, user.id, body.notifications)
    return await _me(session, user)


@me_router.post("/me/password", response_model=TokenPair, responses=problems(403))
async def change_password(
    session: SessionDep,
    passwords: PasswordsDep,
    tokens: TokensDep,
    user: CurrentUser,
    limits: RateLimitsDep,
    request: Request,
    body: PasswordChange,
) -> TokenPair:
    """Change the signed-in account's password: every session ends, this caller gets a new pair.

    A wrong current password is 403 ``wrong_password`` and counts as a failed sign-in.
    """
    async with limits.sign_in(user.username, client_address(request)):
        return await service.change_password(session, passwords, tokens, user, body)


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
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AdminList:
    """The admins inside the caller's scope."""
    admins, next_cursor = await service.list_admins(session, scope, limit=limit, cursor=cursor)
    return AdminList(items=[AdminRead.model_validate(a) for a in admins], next_cursor=next_cursor)


@admins_router.get("/{admin_id}", response_model=AdminRead)
async def read_admin(
    session: SessionDep, scope: AdminScope, admin_id: Annotated[IdParam, Path()]
) -> AdminRead:
    """One admin inside the caller's scope (404 outside it)."""
    return AdminRead.model_validate(await service.get_admin(session, scope, admin_id))


@admins_router.post("/{admin_id}/disable", response_model=AdminRead)
async def disable_admin(
    session: SessionDep, admin: Admin, admin_id: Annotated[IdParam, Path()]
) -> AdminRead:
    """Disable an admin of a lower role inside the caller's scope: its tokens stop working at
    their next request, its sessions end. 409 if already disabled."""
    target = await service.set_admin_active(session, admin, admin_id, active=False)
    return AdminRead.model_validate(target)


@admins_router.post("/{admin_id}/enable", response_model=AdminRead)
async def enable_admin(
    session: SessionDep, admin: Admin, admin_id: Annotated[IdParam, Path()]
) -> AdminRead:
    """Enable a disabled admin again (they sign in anew). 409 if already active."""
    target = await service.set_admin_active(session, admin, admin_id, active=True)
    return AdminRead.model_validate(target)
