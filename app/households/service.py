"""Households: registration, reading and editing within an admin's scope.

Personal fields are stored only encrypted and the ID number is found by its blind index.
:func:`_disclose` is the one place that decrypts, and it writes a ``HouseholdAccess`` row in the
request's transaction each time, so no personal data leaves this module unlogged.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.accounts.policy import admin_scope
from app.core import statements
from app.core.crypto import Vault
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, PreconditionFailed, Unprocessable
from app.core.idcard import mask_name
from app.core.logging import current_request_id
from app.core.pagination import decode_id_cursor, encode_cursor, page_by_id
from app.core.scope import Scope
from app.households.models import Household, HouseholdAccess
from app.households.schemas import (
    AccessLogEntry,
    HouseholdCreate,
    HouseholdRead,
    HouseholdSummary,
    HouseholdUpdate,
)
from app.regions.models import Region

Action = Literal["create", "read", "update", "lookup"]
# Who reads the access log: the county keeps it (PIPL), the platform oversees every county.
AUDITOR_ROLES = ("county", "platform")


@dataclass(frozen=True, slots=True)
class ListFilters:
    """The optional filters of a household list; None means no filter."""

    village: str | None = None
    support_category: str | None = None
    key_household: bool | None = None
    id_number: str | None = None


@dataclass(frozen=True, slots=True)
class AccessLogFilters:
    """The optional filters of the access log; None means no filter."""

    household_id: int | None = None
    actor_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _not_found(household_id: int) -> NotFound:
    return NotFound(f"No household {household_id} in your scope", code="household_not_found")


def _exists() -> Conflict:
    return Conflict(
        "A household with this ID number is already registered", code="household_exists"
    )


@functools.lru_cache(maxsize=1024)
def _in_scope_statement(scope_code: str) -> Select[Household]:
    # Every need posted reads its household: the statement of each scope is built once.
    return select(Household).where(
        Household.id == bindparam("household_id"), Scope(scope_code).where(Household.village_code)
    )


@dataclass(frozen=True, slots=True)
class Place:
    """Where a household is: what a need posted for it records."""

    id: int
    village_code: str
    county_code: str


@functools.lru_cache(maxsize=1024)
def _place_statement(scope_code: str) -> Select[int, str, str]:
    # Every need posted reads where its household is: built once for each scope.
    return select(Household.id, Household.village_code, Household.county_code).where(
        Household.id == bindparam("household_id"), Scope(scope_code).where(Household.village_code)
    )


async def place_in_scope(session: AsyncSession, scope: Scope, household_id: int) -> Place:
    """Where the household is, if ``scope`` covers it, else ``NotFound`` (as
    :func:`get_in_scope`, without loading the household's record)."""
    rows = (
        await statements.run(session, _place_statement(scope.code), {"household_id": household_id})
    ).rows
    if not rows:
        raise _not_found(household_id)
    found, village_code, county_code = rows[0]
    return Place(found, village_code, county_code)


async def get_in_scope(session: AsyncSession, scope: Scope, household_id: int) -> Household:
    """The household if ``scope`` covers it, else ``NotFound`` (not logged: no personal data)."""
    statement = _in_scope_statement(scope.code)
    household: Household | None = await session.scalar(statement, {"household_id": household_id})
    if household is None:
        raise _not_found(household_id)
    return household


async def _get_with_village(
    session: AsyncSession, scope: Scope, household_id: int
) -> tuple[Household, str]:
    row = (
        await session.execute(
            select(Household, Region.name)
            .join(Region, Region.code == Household.village_code)
            .where(Household.id == household_id, scope.where(Household.village_code))
        )
    ).first()
    if row is None:
        raise _not_found(household_id)
    return row[0], row[1]


async def log_replay(session: AsyncSession, actor_id: int, body: bytes) -> None:
    """Log an Idempotency-Key replay of a household's creation: it discloses the record again."""
    session.add(
        HouseholdAccess(
            household_id=int(json.loads(body)["id"]),
            actor_id=actor_id,
            action="replay",
            request_id=current_request_id(),
            at=utcnow(),
        )
    )
    await session.flush()


def record_access(session: AsyncSession, actor: User, household_id: int, action: str) -> None:
    """Add the household's access-log row of ``actor``'s ``action`` on its personal data."""
    session.add(
        HouseholdAccess(
            household_id=household_id,
            actor_id=actor.id,
            action=action,
            request_id=current_request_id(),
            at=utcnow(),
        )
    )


async def _disclose(
    session: AsyncSession,
    vault: Vault,
    actor: User,
    household: Household,
    village_name: str,
    action: Action,
) -> HouseholdRead:
    """The household with its personal data decrypted, and the access written to the log."""
    record_access(session, actor, household.id, action)
    await session.flush()
    return HouseholdRead(
        **HouseholdSummary.model_validate(household).model_dump(),
        village_name=village_name,
        county_code=household.county_code,
        head_name=vault.decrypt(household.head_name_encrypted),
        id_number=vault.decrypt(household.id_number_encrypted),
        phone=vault.decrypt(household.phone_encrypted),
        created_by_id=household.created_by_id,
        updated_at=household.updated_at,
    )


# -- registering ------------------------------------------------------------------------------


def _check_village(admin: User, code: str, level: str | None) -> None:
    """422 unless ``code`` is a village (``level`` as the regions table gives it), 403 unless it
    lies in the admin's scope."""
    if level != "village":
        raise Unprocessable(f"{code} is not the code of a village", code="not_a_village")
    if not admin_scope(admin).covers(code):
        raise Forbidden(
            f"The village {code} lies outside your scope {admin.scope_code}", code="out_of_scope"
        )


async def _village(session: AsyncSession, admin: User, code: str) -> Region:
    region = await session.get(Region, code)
    _check_village(admin, code, region.level if region is not None else None)
    assert region is not None
    return region


def _new_household(
    vault: Vault, admin: User, data: HouseholdCreate, now: dt.datetime, index: str | None = None
) -> dict[str, Any]:
    """The columns of a newly registered household: personal fields encrypted, the name masked,
    the ID number's blind index (``index``, when the caller has computed it), version 1."""
    return {
        "village_code": data.village_code,
        "county_code": data.village_code[:6],
        "head_name_encrypted": vault.encrypt(data.head_name),
        "head_name_masked": mask_name(data.head_name),
        "id_number_encrypted": vault.encrypt(data.id_number),
        "id_number_index": index or vault.blind_index(data.id_number),
        "phone_encrypted": vault.encrypt(data.phone),
        "size": data.size,
        "support_category": data.support_category,
        "key_household": data.key_household,
        "main_helper": data.main_helper,
        "liaison": data.liaison,
        "version": 1,
        "created_by_id": admin.id,
        "created_at": now,
        "updated_at": now,
    }


async def create_household(
    session: AsyncSession, vault: Vault, admin: User, data: HouseholdCreate
) -> HouseholdRead:
    """Register a household in a village of the admin's scope; one per ID number."""
    village = await _village(session, admin, data.village_code)
    index = vault.blind_index(data.id_number)
    if await session.scalar(select(Household.id).where(Household.id_number_index == index)):
        raise _exists()
    household = Household(**_new_household(vault, admin, data, utcnow()))
    try:
        async with session.begin_nested():
            session.add(household)
    except IntegrityError as exc:  # a concurrent registration of the same ID number won
        raise _exists() from exc
    return await _disclose(session, vault, admin, household, village.name, "create")


async def register_checked(
    session: AsyncSession, vault: Vault, admin: User, rows: Sequence[HouseholdCreate]
) -> list[int]:
    """Register many households at once (the register's import); their ids.

    The rows and their ``create`` entries in the access log are those :func:`create_household`
    writes, in two statements for the lot. The caller has checked each row (a village in the
    admin's scope, an ID number not registered yet) and runs the lot in a savepoint: the unique
    blind index refuses a number registered meanwhile.
    """
    return await _insert(session, vault, [(admin, data, None) for data in rows])


async def register_many(
    session: AsyncSession, vault: Vault, entries: Sequence[tuple[User, HouseholdCreate]]
) -> list[int]:
    """Register many households, each by its own admin, with the rules of
    :func:`create_household`; their ids, in the order given.

    Each village must be a village in its admin's scope (422, 403) and each ID number new, once
    in ``entries`` (409); the checks are one query for the villages and one for the ID numbers,
    the writes one statement for the households and one for their ``create`` entries in the
    access log. Nothing is written unless every entry passes; the caller's savepoint undoes the
    lot if the unique blind index refuses a number registered meanwhile.
    """
    if not entries:
        return []
    codes = {data.village_code for _, data in entries}
    rows = await session.execute(select(Region.code, Region.level).where(Region.code.in_(codes)))
    levels: dict[str, str] = dict(rows.all())
    for admin, data in entries:
        _check_village(admin, data.village_code, levels.get(data.village_code))
    indexes = [vault.blind_index(data.id_number) for _, data in entries]
    if len(set(indexes)) != len(indexes):
        raise _exists()
    for start in range(0, len(indexes), 500):
        taken = await session.scalar(
            select(Household.id)
            .where(Household.id_number_index.in_(indexes[start : start + 500]))
            .limit(1)
        )
        if taken is not None:
            raise _exists()
    return await _insert(
        session,
        vault,
        [(admin, data, index) for (admin, data), index in zip(entries, indexes, strict=True)],
    )


async def _insert(
    session: AsyncSession, vault: Vault, entries: Sequence[tuple[User, HouseholdCreate, str | None]]
) -> list[int]:
    """The households of checked ``entries`` (admin, data, blind index if computed) and their
    ``create`` entries in the access log, in two statements; the ids in the order given."""
    if not entries:
        return []
    now = utcnow()
    values = [_new_household(vault, admin, data, now, index) for admin, data, index in entries]
    ids = list(
        await session.scalars(
            insert(Household).returning(Household.id, sort_by_parameter_order=True), values
        )
    )
    request_id = current_request_id()
    await session.execute(
        insert(HouseholdAccess),
        [
            {"household_id": household_id, "actor_id": admin.id, "action": "create",
             "request_id": request_id, "at": now}
            for household_id, (admin, _, _) in zip(ids, entries, strict=True)
        ],
    )  # fmt: skip
    return ids


# -- reading ----------------------------------------------------------------------------------


async def read_household(
    session: AsyncSession, vault: Vault, admin: User, household_id: int
) -> HouseholdRead:
    """One household of the admin's scope with its personal data (logged)."""
    household, village_name = await _get_with_village(session, admin_scope(admin), household_id)
    return await _disclose(session, vault, admin, household, village_name, "read")


def _list_conditions(vault: Vault, scope: Scope, filters: ListFilters) -> list[ColumnElement[bool]]:
    conditions = [scope.where(Household.village_code)]
    if filters.id_number is not None:
        conditions.append(Household.id_number_index == vault.blind_index(filters.id_number))
    if filters.village is not None:
        conditions.append(Scope(filters.village).where(Household.village_code))
    if filters.support_category is not None:
        conditions.append(Household.support_category == filters.support_category)
    if filters.key_household is not None:
        conditions.append(Household.key_household.is_(filters.key_household))
    return conditions


async def list_households(
    session: AsyncSession,
    vault: Vault,
    admin: User,
    filters: ListFilters,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Household], str | None]:
    """A page of the admin's households by id, and the cursor of the next page.

    A list carries no personal data and is not logged, except when it is looked up by ID number
    (through its blind index): that tells who holds the number, so each household found is
    logged as a ``lookup``.
    """
    statement = select(Household).where(*_list_conditions(vault, admin_scope(admin), filters))
    rows, next_cursor = await page_by_id(
        session, statement, Household.id, limit=limit, cursor=cursor, newest_first=False
    )
    if filters.id_number is not None:
        for household in rows:
            record_access(session, admin, household.id, "lookup")
        await session.flush()
    return rows, next_cursor


# -- the access log ---------------------------------------------------------------------------


def _access_log_statement(scope: Scope, filters: AccessLogFilters) -> Select[*tuple[Any, ...]]:
    conditions = [scope.where(Household.village_code)]
    if filters.household_id is not None:
        conditions.append(HouseholdAccess.household_id == filters.household_id)
    if filters.actor_id is not None:
        conditions.append(HouseholdAccess.actor_id == filters.actor_id)
    if filters.since is not None:
        conditions.append(HouseholdAccess.at >= filters.since)
    if filters.until is not None:
        conditions.append(HouseholdAccess.at < filters.until)
    return (
        select(
            HouseholdAccess.id,
            HouseholdAccess.household_id,
            Household.village_code,
            Household.head_name_masked,
            HouseholdAccess.actor_id,
            User.username.label("actor_username"),
            User.display_name.label("actor_display_name"),
            User.role.label("actor_role"),
            HouseholdAccess.action,
            HouseholdAccess.request_id,
            HouseholdAccess.at,
        )
        .join(Household, Household.id == HouseholdAccess.household_id)
        .join(User, User.id == HouseholdAccess.actor_id)
        .where(*conditions)
    )


async def access_log(
    session: AsyncSession,
    admin: User,
    filters: AccessLogFilters,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[AccessLogEntry], str | None]:
    """Who disclosed which household's personal data when, newest first, inside the scope of a
    county or platform admin; 403 for township and village admins."""
    if admin.role not in AUDITOR_ROLES:
        raise Forbidden("Only a county or platform admin reads the access log", code="not_allowed")
    statement = _access_log_statement(admin_scope(admin), filters)
    if cursor:
        statement = statement.where(HouseholdAccess.id < decode_id_cursor(cursor))
    rows = (
        await session.execute(statement.order_by(HouseholdAccess.id.desc()).limit(limit + 1))
    ).all()
    entries = [AccessLogEntry.model_validate(row._asdict()) for row in rows[:limit]]
    more = len(rows) > limit and entries
    return entries, encode_cursor([entries[-1].id]) if more else None


# -- editing ----------------------------------------------------------------------------------


def _stored_values(vault: Vault, data: HouseholdUpdate) -> dict[str, Any]:
    """The columns a partial update writes, personal fields encrypted."""
    values = data.model_dump(exclude_unset=True)
    if "head_name" in values:
        name = values.pop("head_name")
        values["head_name_encrypted"] = vault.encrypt(name)
        values["head_name_masked"] = mask_name(name)
    if "phone" in values:
        values["phone_encrypted"] = vault.encrypt(values.pop("phone"))
    return values


def _stale(household: Household) -> PreconditionFailed:
    return PreconditionFailed(
        f"The household has changed (now version {household.version}); reload it and retry",
        code="version_mismatch",
        current_version=household.version,
    )


async def update_household(
    session: AsyncSession,
    vault: Vault,
    admin: User,
    household_id: int,
    data: HouseholdUpdate,
    *,
    expected_version: int | None,
) -> HouseholdRead:
    """Edit a household of the admin's scope; with ``expected_version``, only if it is current."""
    household, village_name = await _get_with_village(session, admin_scope(admin), household_id)
    conditions = [Household.id == household.id]
    if expected_version is not None:
        if expected_version != household.version:
            raise _stale(household)
        # Guarded in SQL too: a concurrent edit between the read and this update must lose.
        conditions.append(Household.version == expected_version)
    changed = await session.scalar(
        update(Household)
        .where(*conditions)
        .values(**_stored_values(vault, data), version=Household.version + 1, updated_at=utcnow())
        .returning(Household.id)
        .execution_options(synchronize_session=False)
    )
    if changed is None:
        await session.refresh(household)
        raise _stale(household)
    await session.refresh(household)
    return await _disclose(session, vault, admin, household, village_name, "update")
