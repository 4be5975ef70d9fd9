"""Accounts: registration, sign-in, token rotation, and admins within a scope."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import RefreshToken, User
from app.accounts.policy import admin_scope
from app.accounts.schemas import AdminCreate, MeUpdate, Register, TokenPair
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from app.core.scope import Scope
from app.core.security import Passwords, Tokens, refresh_digest
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
        raise Conflict(f"The username {user.username!r} is taken", code="username_taken") from exc
    return user


async def register_donor(session: AsyncSession, passwords: Passwords, data: Register) -> User:
    user = User(
        username=data.username,
        password_hash=await passwords.hash(data.password),
        display_name=data.display_name,
        role="donor",
        donor_kind=data.kind,
    )
    return await _insert_user(session, user)


async def update_donor(session: AsyncSession, donor: User, data: MeUpdate) -> User:
    """Change a donor's own settings: for now, the roll-of-honour consent."""
    donor.honour_roll = data.honour_roll
    await session.flush()
    return donor


async def authenticate(
    session: AsyncSession, passwords: Passwords, username: str, password: str
) -> User:
    user = await session.scalar(select(User).where(User.username == username.strip().lower()))
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
    session.add(
        RefreshToken(
            user_id=user.id,
            digest=digest,
            family=family or uuid.uuid4().hex,
            issued_at=now,
            expires_at=now + tokens.refresh_lifetime,
        )
    )
    await session.flush()
    return TokenPair(
        access_token=tokens.issue_access(user.id, user.role, user.scope_code, now=now),
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


def _check_grant(creator: User, data: AdminCreate) -> None:
    scope = admin_scope(creator)
    creator_rank, new_rank = ROLE_RANK[creator.role], ROLE_RANK[data.role]
    if not (new_rank > creator_rank or creator.role == data.role == "platform"):
        raise Forbidden(
            f"A {creator.role} admin cannot create a {data.role} admin",
            code="role_not_grantable",
        )
    if not scope.covers(data.scope):
        raise Forbidden(
            f"The scope {data.scope} lies outside your scope {creator.scope_code}",
            code="out_of_scope",
        )


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
    session: AsyncSession, scope: Scope, *, limit: int, offset: int
) -> tuple[Sequence[User], int]:
    conditions = _admins_in(scope)
    total = await session.scalar(select(func.count()).select_from(User).where(*conditions))
    result = await session.scalars(
        select(User).where(*conditions).order_by(User.id).limit(limit).offset(offset)
    )
    return result.all(), int(total or 0)


async def get_admin(session: AsyncSession, scope: Scope, admin_id: int) -> User:
    admin = await session.scalar(select(User).where(User.id == admin_id, *_admins_in(scope)))
    if admin is None:
        raise NotFound(f"No admin {admin_id} in your scope", code="admin_not_found")
    return admin
