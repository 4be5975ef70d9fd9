"""Who is calling: the ``Annotated`` dependencies every router uses to authorise."""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import ColumnElement, Select, bindparam, exists, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import manager_of_class
from sqlalchemy.orm.util import identity_key

from app.accounts.models import RefreshToken, User
from app.accounts.policy import admin_scope
from app.core.db import SessionDep
from app.core.direct import Direct
from app.core.errors import Forbidden, Unauthorized
from app.core.openapi import answers
from app.core.scope import Scope
from app.core.security import AccessClaims, Passwords, TokenError, Tokens
from app.core.vocabulary import ADMIN_ROLES

bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


# The dependencies are coroutines, even those that never wait: FastAPI runs a plain function
# in a worker thread, a hop that costs more than the function itself on every request.


async def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


async def get_tokens(request: Request) -> Tokens:
    tokens: Tokens = request.app.state.tokens
    return tokens


PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
TokensDep = Annotated[Tokens, Depends(get_tokens)]


async def get_access_claims(
    request: Request, token: Annotated[str | None, Depends(bearer)]
) -> AccessClaims:
    """What the bearer token says: a valid, unexpired access token (else 401). The account
    is not read: a route taking these reads it with its own statement (:func:`account_row`,
    :func:`account_and_rows`)."""
    return read_claims(request.app.state.tokens, token)


def read_claims(tokens: Tokens, token: str | None) -> AccessClaims:
    """The claims of ``token`` if it is a valid, unexpired access token (else 401)."""
    if not token:
        raise Unauthorized("Sign in: this needs a bearer token", code="not_authenticated")
    try:
        return tokens.read_access(token)
    except TokenError as exc:
        code = "token_expired" if "expired" in str(exc) else "invalid_token"
        raise Unauthorized(str(exc).capitalize(), code=code) from exc


AccessClaimsDep = Annotated[AccessClaims, Depends(get_access_claims)]


# The account and whether the token's session was signed out, in one statement built once.
_SIGNED_OUT = exists().where(
    RefreshToken.family == bindparam("family"),
    RefreshToken.user_id == bindparam("user_id"),
    RefreshToken.revoked_at.is_not(None),
)
_COLUMNS = tuple(User.__table__.columns)
_KEYS = tuple(column.key for column in _COLUMNS)
_USER_MANAGER = manager_of_class(User)


def account_statement(*also: ColumnElement[Any]) -> Select[Any]:
    """The statement of :func:`account_of`, its row carrying ``also`` after the account's
    columns: what a route reads of the caller comes in the same round trip."""
    columns = (*_COLUMNS, _SIGNED_OUT.label("signed_out"), *also)
    return select(*columns).where(User.id == bindparam("user_id"))


_ACCOUNT = account_statement()


async def get_current_user(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(bearer)]
) -> User:
    """The signed-in user, from a valid, unexpired access token of an active account.

    The token is read here rather than through :data:`AccessClaimsDep`: every dependency
    FastAPI solves costs time, and this one runs on nearly every request.
    """
    return await account_of(session, read_claims(request.app.state.tokens, token))


async def account_of(session: AsyncSession, claims: AccessClaims) -> User:
    """The account ``claims`` stand for, if it may still act (else 401).

    The account is read on every request, so a disabled account, a password changed since the
    token was issued (its generation raised) or a signed-out session (its refresh family
    revoked) ends the token at once, not at its expiry.
    """
    connection = await session.connection()
    parameters = {"user_id": claims.user_id, "family": claims.family}
    row = (await connection.execute(_ACCOUNT, parameters)).first()
    _check(claims, row, _ACCOUNT_AT)
    assert row is not None
    return _persistent(session, row)


async def account_row(
    direct: Direct,
    claims: AccessClaims,
    statement: Select[Any] = _ACCOUNT,
    parameters: Mapping[str, Any] | None = None,
) -> tuple[User, tuple[Any, ...]]:
    """The account ``claims`` stand for, as :func:`account_of` checks it, read by ``direct``
    with ``statement`` (one of :func:`account_statement`, with ``parameters`` for its own
    columns) outside any session; the account (to read, not to change) and its row."""
    parameters = {**(parameters or {}), "user_id": claims.user_id, "family": claims.family}
    rows = await direct.read(statement, parameters)
    row = rows[0] if rows else None
    _check(claims, row, _ACCOUNT_AT)
    assert row is not None
    return _account(row), row


@dataclass(frozen=True, slots=True)
class Caller:
    """The account a read of one statement answers, as much of it as the read looks at."""

    id: int
    role: str
    scope_code: str | None

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES


async def account_and_rows(
    direct: Direct,
    claims: AccessClaims,
    statement: Select[Any],
    parameters: Mapping[str, Any],
    *,
    keep: bool = True,
) -> tuple[Caller, list[tuple[Any, ...]]]:
    """The caller, checked as :func:`account_of` checks an account, and the rows of
    ``statement``, read in one statement (one round trip where there would be two). The rows
    come in no particular order: sort them. ``keep`` as :meth:`Direct.read` takes it.

    ``statement`` runs before the account is checked, so it must not depend on the account
    being what the token says (build it from the claims), and its rows must not be used
    unless this returns: a 401 here discards them.
    """
    combined = _with_account(statement, keep=keep)
    parameters = {**parameters, "user_id": claims.user_id, "family": claims.family}
    result = await direct.read(combined, parameters, keep=keep)
    row = result[0] if result else None
    _check(claims, row, _CALLER_AT)
    assert row is not None
    caller = Caller(*(row[position] for position in _CALLER_FIELDS))
    width = len(_CALLER_COLUMNS) + 1
    return caller, [row[width:-1] for row in result if row[-1] is not None]


# What a read of one statement needs of the account: the check's columns, the caller's fields.
# (Each of a page's rows carries them: the whole account would be twice the columns to read.)
_CALLER_COLUMNS = (User.id, User.role, User.scope_code, User.is_active, User.token_generation)
_CALLER = select(*_CALLER_COLUMNS, _SIGNED_OUT.label("signed_out")).where(
    User.id == bindparam("user_id")
)
_CALLER_FIELDS = (0, 1, 2)  # id, role, scope_code
_COMBINED: weakref.WeakKeyDictionary[Select[Any], Select[Any]] = weakref.WeakKeyDictionary()


def _with_account(statement: Select[Any], *, keep: bool = True) -> Select[Any]:
    """The caller's row joined with every row of ``statement`` (a row of NULLs after the
    caller's columns when it has none; its last column is NULL only then). Kept for as long
    as ``statement`` itself is (the hot reads keep theirs), unless ``keep`` is false."""
    combined = _COMBINED.get(statement)
    if combined is None:
        rows = statement.add_columns(literal(True).label("aixin_row")).subquery()
        account = _CALLER.subquery()
        combined = select(account, rows).select_from(account.outerjoin(rows, true()))
        if keep:
            _COMBINED[statement] = combined
    return combined


@dataclass(frozen=True, slots=True)
class _Positions:
    """Where the check's values stand in an account's row."""

    active: int
    signed_out: int
    generation: int
    role: int
    scope: int

    @classmethod
    def of(cls, keys: Sequence[str]) -> _Positions:
        """For a row of the columns ``keys``, then whether the session was signed out."""
        named = ("is_active", "token_generation", "role", "scope_code")
        active, generation, role, scope = (keys.index(key) for key in named)
        return cls(active, len(keys), generation, role, scope)


def _check(claims: AccessClaims, row: Sequence[Any] | None, at: _Positions) -> None:
    """401 unless the account of ``row`` (as ``at`` says) may still act as ``claims`` say."""
    if row is None or not row[at.active]:
        raise Unauthorized("The account is disabled", code="account_disabled")
    if row[at.signed_out] or row[at.generation] != claims.generation:
        raise Unauthorized("The session has ended; sign in again", code="session_ended")
    if (row[at.role], row[at.scope]) != (claims.role, claims.scope):
        # The account's role or scope changed since the token was issued.
        raise Unauthorized("The token is out of date; sign in again", code="invalid_token")


_ACCOUNT_AT = _Positions.of(_KEYS)
_CALLER_AT = _Positions.of([column.key for column in _CALLER_COLUMNS])
_ID = _KEYS.index("id")


def _account(row: Sequence[Any]) -> User:
    """The account of ``row``, filled in as the ORM's loading fills an instance (into its
    ``__dict__``, no attribute events): the constructor's instrumented assignments cost more
    than the rest of a read together. In no session: to read, not to change."""
    user: User = _USER_MANAGER.new_instance()
    user.__dict__.update(zip(_KEYS, row, strict=False))
    return user


def _persistent(session: AsyncSession, row: Sequence[Any]) -> User:
    """The account of ``row`` as the session's own, as if the ORM had loaded it.

    The statement runs on the session's connection as plain SQL, which costs a fraction of an
    ORM query of the entity; the instance is then put in the session's identity map without SQL,
    so changes to it are flushed and a later query of the account finds this one.
    """
    found = session.identity_map.get(identity_key(User, row[_ID]))
    if found is not None:
        return found
    user = _account(row)
    make_transient_to_detached(user)
    session.add(user)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_donor(user: User) -> User:
    """``user``, if a donor (else 403)."""
    if user.role != "donor":
        raise Forbidden("Only a donor may do this", code="donor_only")
    return user


@answers(403)
async def get_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("Only an admin may do this", code="admin_only")
    return user


@answers(403)
async def get_donor(user: CurrentUser) -> User:
    return require_donor(user)


async def get_admin_scope(admin: Annotated[User, Depends(get_admin)]) -> Scope:
    """The scope every query of this admin is filtered by, in SQL."""
    return admin_scope(admin)


Admin = Annotated[User, Depends(get_admin)]
Donor = Annotated[User, Depends(get_donor)]
AdminScope = Annotated[Scope, Depends(get_admin_scope)]
