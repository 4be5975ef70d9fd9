"""Accounts: registration, sign-in, token rotation, and admins within a scope."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from typing import Literal

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import usernames, verification
from app.accounts.models import AccountEvent, RefreshToken, User
from app.accounts.policy import admin_scope
from app.accounts.schemas import (
    AdminCreate,
    PasswordChange,
    PhoneRegister,
    Register,
    TokenPair,
)
from app.core.crypto import Vault
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from app.core.logging import current_request_id
from app.core.pagination import page_by_id
from app.core.scope import Scope
from app.core.security import Passwords, Tokens, refresh_digest
from app.core.settings import Settings
from app.regions import service as regions_service

# Lower rank is higher authority; an admin creates admins of a strictly lower rank only
# (the platform admin may also create platform admins).
ROLE_RANK = {"platform": 0, "county": 1, "township": 2, "village": 3}
SCOPE_LENGTH = {"platform": 0, "county": 6, "township": 9, "village": 12}


class RefreshTokenReused(Unauthorized):
    """A spent refresh token came back: the whole family is revoked, and that revocation stays
    written although the request fails."""

    code = "refresh_token_reused"
    keeps_writes = True


async def _insert_user(session: AsyncSession, user: User) -> User:
    try:
        async with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        if user.phone_index is not None:
            raise _phone_taken() from exc
        raise Conflict(f"The username {user.username!r} is taken", code="username_taken") from exc
    return user


def _phone_taken() -> Conflict:
    return Conflict("An account is already registered with this number", code="phone_taken")


async def register_donor(session: AsyncSession, passwords: Passwords, data: Register) -> User:
    user = User(
        username=data.username,
        password_hash=await passwords.hash(data.password),
        display_name=data.display_name,
        role="donor",
        donor_kind=data.kind,
    )
    return await _insert_user(session, user)


async def register_donors(
    session: AsyncSession, passwords: Passwords, registrations: Sequence[Register]
) -> list[User]:
    """Register many donors at once, with the rule of :func:`register_donor` (a username not
    taken, nor given twice: 409); their accounts, in the order given.

    The check is a query for each 500 names, the write one statement. Nothing is written unless
    every registration passes; the caller's savepoint undoes the lot if a name is taken
    meanwhile (the unique index refuses it).
    """
    if not registrations:
        return []
    names = [data.username for data in registrations]
    taken = _first_repeated(names)
    for start in range(0, len(names), 500):
        if taken is not None:
            break
        taken = await session.scalar(
            select(User.username).where(User.username.in_(names[start : start + 500])).limit(1)
        )
    if taken is not None:
        raise Conflict(f"The username {taken!r} is taken", code="username_taken")
    rows = [
        {
            "username": data.username, "password_hash": await passwords.hash(data.password),
            "display_name": data.display_name, "role": "donor", "donor_kind": data.kind,
        }
        for data in registrations
    ]  # fmt: skip
    ids = list(
        await session.scalars(insert(User).returning(User.id, sort_by_parameter_order=True), rows)
    )
    found = {user.id: user for user in await session.scalars(select(User).where(User.id.in_(ids)))}
    return [found[user_id] for user_id in ids]


def _first_repeated(names: Sequence[str]) -> str | None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


async def register_phone_donor(
    session: AsyncSession,
    passwords: Passwords,
    vault: Vault,
    settings: Settings,
    data: PhoneRegister,
) -> User:
    """Create a donor account signed in to by mobile number, once the code sent to it is given.

    The account gets a generated username (``u`` and ten hex digits), which works too.
    """
    await verification.consume_code(session, vault, settings, data.phone, data.code)
    index = verification.phone_index(vault, data.phone)
    if await session.scalar(select(User.id).where(User.phone_index == index)):
        raise _phone_taken()
    user = User(
        username=f"u{secrets.token_hex(5)}",
        password_hash=await passwords.hash(data.password),
        display_name=data.display_name,
        role="donor",
        donor_kind=data.kind,
        phone_encrypted=vault.encrypt(data.phone),
        phone_index=index,
    )
    return await _insert_user(session, user)


async def update_donor(session: AsyncSession, donor: User, honour_roll: bool) -> User:
    """Change a donor's own settings: for now, the roll-of-honour consent."""
    donor.honour_roll = honour_roll
    await session.flush()
    return donor


def sign_in_name(username: str) -> str:
    """The name a sign-in is counted and looked up under: a mobile number, or a canonical name."""
    name = username.strip()
    return name if usernames.MOBILE.fullmatch(name) else usernames.canonical(name)


async def _find(session: AsyncSession, vault: Vault, username: str) -> User | None:
    name = sign_in_name(username)
    if usernames.MOBILE.fullmatch(name):
        index = verification.phone_index(vault, name)
        user = await session.scalar(select(User).where(User.phone_index == index))
        if user is not None:
            return user
    return await session.scalar(select(User).where(User.username == name))


async def authenticate(
    session: AsyncSession, passwords: Passwords, vault: Vault, username: str, password: str
) -> User:
    """The account of a username (in any of its spellings) or mobile number, and its password."""
    user = await _find(session, vault, username)
    valid = await passwords.verify(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        raise Unauthorized("The username or password is wrong", code="invalid_credentials")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash(password)
    return user


async def issue_tokens(
    session: AsyncSession, tokens: Tokens, user: User, *, family: str | None = None
) -> TokenPair:
    now = utcnow()
    refresh, digest = tokens.new_refresh()
    family = family or uuid.uuid4().hex
    session.add(
        RefreshToken(
            user_id=user.id,
            digest=digest,
            family=family,
            issued_at=now,
            expires_at=now + tokens.refresh_lifetime,
        )
    )
    await session.flush()
    access = tokens.issue_access(
        user.id,
        user.role,
        user.scope_code,
        family=family,
        generation=user.token_generation,
        now=now,
    )
    return TokenPair(
        access_token=access,
        expires_in=int(tokens.access_lifetime.total_seconds()),
        refresh_token=refresh,
        refresh_expires_in=int(tokens.refresh_lifetime.total_seconds()),
    )


async def rotate_refresh(session: AsyncSession, tokens: Tokens, refresh: str) -> TokenPair:
    """Spend one refresh token for a new pair; a spent token presented again revokes its family.

    Spending is a conditional update, so of two concurrent uses of one token only one wins.
    """
    now = utcnow()
    digest = refresh_digest(refresh)
    spent = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.digest == digest,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(RefreshToken.user_id, RefreshToken.family)
    )
    row = spent.first()
    if row is None:
        stored = await session.scalar(select(RefreshToken).where(RefreshToken.digest == digest))
        if stored is not None and stored.used_at is not None:
            await session.execute(
                update(RefreshToken)
                .where(RefreshToken.family == stored.family, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            raise RefreshTokenReused("The refresh token was already used; sign in again")
        raise Unauthorized("The refresh token is not valid", code="invalid_refresh_token")
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("The account is disabled", code="account_disabled")
    return await issue_tokens(session, tokens, user, family=row.family)


async def _revoke(session: AsyncSession, user_id: int, family: str | None = None) -> None:
    """Revoke the user's refresh tokens: one family (a session), or all of them."""
    conditions = [RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)]
    if family is not None:
        conditions.append(RefreshToken.family == family)
    await session.execute(update(RefreshToken).where(*conditions).values(revoked_at=utcnow()))


async def sign_out(session: AsyncSession, user: User, family: str) -> None:
    """End one session of ``user``: its refresh family, and so its access tokens."""
    await _revoke(session, user.id, family)


async def sign_out_refresh(session: AsyncSession, refresh: str) -> None:
    """End the session a refresh token belongs to; 401 for a token that is not one of ours."""
    stored = await session.scalar(
        select(RefreshToken).where(
            RefreshToken.digest == refresh_digest(refresh), RefreshToken.expires_at > utcnow()
        )
    )
    if stored is None:
        raise Unauthorized("The refresh token is not valid", code="invalid_refresh_token")
    await _revoke(session, stored.user_id, stored.family)


def _event(session: AsyncSession, user_id: int, actor_id: int, action: str) -> None:
    session.add(
        AccountEvent(
            user_id=user_id,
            actor_id=actor_id,
            action=action,
            request_id=current_request_id(),
            at=utcnow(),
        )
    )


async def change_password(
    session: AsyncSession, passwords: Passwords, tokens: Tokens, user: User, data: PasswordChange
) -> TokenPair:
    """Set a new password and end every session of the account; a new pair for this caller.

    A compare-and-set on the password and the token generation read: of two concurrent changes
    one wins, the other gets 409.
    """
    if not await passwords.verify(user.password_hash, data.current_password):
        raise Forbidden("The current password is wrong", code="wrong_password")
    changed = await session.scalar(
        update(User)
        .where(
            User.id == user.id,
            User.is_active.is_(True),
            User.password_hash == user.password_hash,
            User.token_generation == user.token_generation,
        )
        .values(
            password_hash=await passwords.hash(data.new_password),
            token_generation=User.token_generation + 1,
        )
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    if changed is None:
        raise Conflict("The account changed meanwhile; sign in again", code="account_changed")
    await _revoke(session, user.id)
    _event(session, user.id, user.id, "password_change")
    await session.refresh(user)
    return await issue_tokens(session, tokens, user)


def _check_authority(actor: User, role: str, scope: str, verb: str, code: str) -> None:
    """403 unless ``actor`` ranks above ``role`` (a platform admin also over platform admins)
    and its scope covers ``scope``."""
    actor_scope = admin_scope(actor)
    if not (ROLE_RANK[role] > ROLE_RANK[actor.role] or actor.role == role == "platform"):
        raise Forbidden(f"A {actor.role} admin cannot {verb} a {role} admin", code=code)
    if not actor_scope.covers(scope):
        raise Forbidden(
            f"The scope {scope} lies outside your scope {actor.scope_code}", code="out_of_scope"
        )


def _check_grant(creator: User, data: AdminCreate) -> None:
    _check_authority(creator, data.role, data.scope, "create", code="role_not_grantable")


async def create_admin(
    session: AsyncSession, passwords: Passwords, creator: User | None, data: AdminCreate
) -> User:
    """Create an admin; ``creator`` None means the shell (``aixin create-admin``)."""
    if creator is not None:
        _check_grant(creator, data)
    if len(data.scope) != SCOPE_LENGTH[data.role]:
        raise Unprocessable(
            f"A {data.role} admin's scope has {SCOPE_LENGTH[data.role]} digits",
            code="scope_level_mismatch",
        )
    default_name = "平台管理员"
    if data.scope:
        default_name = (await regions_service.get_region(session, data.scope)).name
    user = User(
        username=data.username,
        password_hash=await passwords.hash(data.password),
        display_name=data.display_name or default_name,
        role=data.role,
        scope_code=data.scope,
        created_by_id=creator.id if creator else None,
    )
    return await _insert_user(session, user)


def _admins_in(scope: Scope) -> tuple[ColumnElement[bool], ...]:
    return (User.role != "donor", scope.where(User.scope_code))


async def list_admins(
    session: AsyncSession, scope: Scope, *, limit: int, cursor: str | None
) -> tuple[Sequence[User], str | None]:
    """The admins inside ``scope`` by id, a page at a time; and the next cursor."""
    statement = select(User).where(*_admins_in(scope))
    return await page_by_id(
        session, statement, User.id, limit=limit, cursor=cursor, newest_first=False
    )


async def get_admin(session: AsyncSession, scope: Scope, admin_id: int) -> User:
    admin = await session.scalar(select(User).where(User.id == admin_id, *_admins_in(scope)))
    if admin is None:
        raise NotFound(f"No admin {admin_id} in your scope", code="admin_not_found")
    return admin


async def set_admin_active(
    session: AsyncSession, actor: User, admin_id: int, *, active: bool
) -> User:
    """Disable (or enable again) an admin below ``actor`` in rank, inside its scope.

    Disabling raises the account's token generation and revokes its refresh tokens, so its
    access tokens fail at their next request; enabling does not bring them back. Each is a
    compare-and-set on ``is_active``: of two concurrent requests one wins, the other gets 409.
    """
    target = await get_admin(session, admin_scope(actor), admin_id)
    verb: Literal["disable", "enable"] = "enable" if active else "disable"
    if target.id == actor.id:
        raise Forbidden(f"An admin cannot {verb} their own account", code="own_account")
    _check_authority(actor, target.role, target.scope_code or "", verb, code="role_not_grantable")
    values: dict[str, object] = {"is_active": active}
    if not active:
        values["token_generation"] = User.token_generation + 1
    changed = await session.scalar(
        update(User)
        .where(User.id == target.id, User.is_active.is_(not active))
        .values(**values)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    if changed is None and active:
        raise Conflict(f"The admin {admin_id} is active", code="admin_already_active")
    if changed is None:
        raise Conflict(f"The admin {admin_id} is disabled already", code="admin_already_disabled")
    if not active:
        await _revoke(session, target.id)
    _event(session, target.id, actor.id, verb)
    await session.flush()
    await session.refresh(target)
    return target
