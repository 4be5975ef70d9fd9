"""Households: registration, reading and editing within an admin's scope.

Personal fields are stored only encrypted and the ID number is found by its blind index.
:func:`_disclose` is the one place that decrypts, and it writes a ``HouseholdAccess`` row in the
request's transaction each time, so no personal data leaves this module unlogged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.accounts.policy import admin_scope
from app.core.crypto import Vault
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, PreconditionFailed, Unprocessable
from app.core.idcard import mask_name
from app.core.logging import current_request_id
from app.core.pagination import page_by_id
from app.core.scope import Scope
from app.households.models import Household, HouseholdAccess
from app.households.schemas import HouseholdCreate, HouseholdRead, HouseholdSummary, HouseholdUpdate
from app.regions.models import Region

Action = Literal["create", "read", "update"]


@dataclass(frozen=True, slots=True)
class ListFilters:
    """The optional filters of a household list; None means no filter."""

    village: str | None = None
    support_category: str | None = None
    key_household: bool | None = None


def _not_found(household_id: int) -> NotFound:
    return NotFound(f"No household {household_id} in your scope", code="household_not_found")


def _exists() -> Conflict:
    return Conflict(
        "A household with this ID number is already registered", code="household_exists"
    )


async def get_in_scope(session: AsyncSession, scope: Scope, household_id: int) -> Household:
    """The household if ``scope`` covers it, else ``NotFound`` (not logged: no personal data)."""
    household = await session.scalar(
        select(Household).where(Household.id == household_id, scope.where(Household.village_code))
    )
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


async def _disclose(
    session: AsyncSession,
    vault: Vault,
    actor: User,
    household: Household,
    village_name: str,
    action: Action,
) -> HouseholdRead:
    """The household with its personal data decrypted, and the access written to the log."""
    session.add(
        HouseholdAccess(
            household_id=household.id,
            actor_id=actor.id,
            action=action,
            request_id=current_request_id(),
            at=utcnow(),
        )
    )
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


async def _village(session: AsyncSession, admin: User, code: str) -> Region:
    region = await session.get(Region, code)
    if region is None or region.level != "village":
        raise Unprocessable(f"{code} is not the code of a village", code="not_a_village")
    if not admin_scope(admin).covers(code):
        raise Forbidden(
            f"The village {code} lies outside your scope {admin.scope_code}", code="out_of_scope"
        )
    return region


async def create_household(
    session: AsyncSession, vault: Vault, admin: User, data: HouseholdCreate
) -> HouseholdRead:
    """Register a household in a village of the admin's scope; one per ID number."""
    village = await _village(session, admin, data.village_code)
    index = vault.blind_index(data.id_number)
    if await session.scalar(select(Household.id).where(Household.id_number_index == index)):
        raise _exists()
    now = utcnow()
    household = Household(
        village_code=village.code,
        county_code=village.code[:6],
        head_name_encrypted=vault.encrypt(data.head_name),
        head_name_masked=mask_name(data.head_name),
        id_number_encrypted=vault.encrypt(data.id_number),
        id_number_index=index,
        phone_encrypted=vault.encrypt(data.phone),
        size=data.size,
        support_category=data.support_category,
        key_household=data.key_household,
        main_helper=data.main_helper,
        liaison=data.liaison,
        version=1,
        created_by_id=admin.id,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(household)
    except IntegrityError as exc:  # a concurrent registration of the same ID number won
        raise _exists() from exc
    return await _disclose(session, vault, admin, household, village.name, "create")


# -- reading ----------------------------------------------------------------------------------


async def read_household(
    session: AsyncSession, vault: Vault, admin: User, household_id: int
) -> HouseholdRead:
    """One household of the admin's scope with its personal data (logged)."""
    household, village_name = await _get_with_village(session, admin_scope(admin), household_id)
    return await _disclose(session, vault, admin, household, village_name, "read")


def _list_conditions(scope: Scope, filters: ListFilters) -> list[ColumnElement[bool]]:
    conditions = [scope.where(Household.village_code)]
    if filters.village is not None:
        conditions.append(Scope(filters.village).where(Household.village_code))
    if filters.support_category is not None:
        conditions.append(Household.support_category == filters.support_category)
    if filters.key_household is not None:
        conditions.append(Household.key_household.is_(filters.key_household))
    return conditions


async def list_households(
    session: AsyncSession, scope: Scope, filters: ListFilters, *, limit: int, cursor: str | None
) -> tuple[Sequence[Household], str | None]:
    """A page of the scope's households by id, and the cursor of the next page (not logged)."""
    statement = select(Household).where(*_list_conditions(scope, filters))
    return await page_by_id(
        session, statement, Household.id, limit=limit, cursor=cursor, newest_first=False
    )


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
