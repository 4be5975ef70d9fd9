"""Helpers and liaisons of households, and their help acts, within an admin's scope.

A person's name and phone are stored only encrypted (the phone also as a keyed hash, to find a
person by number); :func:`_disclose` is the one place that decrypts them, and it writes the
household's access-log row in the request's transaction, as a household's own disclosure does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.accounts.policy import admin_scope
from app.core.crypto import Vault
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.idcard import mask_name
from app.core.pagination import page_by_id
from app.core.scope import Scope
from app.helpers.models import HelpAct, Helper, HelperAssignment
from app.helpers.schemas import (
    AssignmentRead,
    HelpActCreate,
    HelpActRead,
    HelperAssign,
    HelperListItem,
    HelperRead,
    HelperSummary,
    HouseholdHelpers,
)
from app.households import service as households_service
from app.households.models import Household
from app.regions.models import Region

# The access-log action of a disclosure of a household's helpers.
DISCLOSED = "helpers"
# The access-log action of a read of a help act's photo (the household's home).
PHOTO_SEEN = "help_act_photo"
CST = dt.timezone(dt.timedelta(hours=8), "CST")


def today() -> dt.date:
    """Today's date in China: help acts are dated by the day they happened there."""
    return utcnow().astimezone(CST).date()


def mask_phone(phone: str) -> str:
    """13912345678 → 139****5678: the first three and the last four characters."""
    return phone[:3] + "*" * max(len(phone) - 7, 1) + phone[-4:]


def _helper_not_found(helper_id: int) -> NotFound:
    return NotFound(f"No helper {helper_id} in your scope", code="helper_not_found")


def _mismatch(region: str, village: str) -> Unprocessable:
    return Unprocessable(
        f"A helper serving {region} cannot help a household of village {village}",
        code="helper_region_mismatch",
    )


# -- disclosing -------------------------------------------------------------------------------


# Read by every assignment and disclosure: built once, the values bound at execution.
_CURRENT = (
    select(HelperAssignment, Helper)
    .join(Helper, Helper.id == HelperAssignment.helper_id)
    .where(
        HelperAssignment.household_id == bindparam("household_id"),
        HelperAssignment.ended_at.is_(None),
    )
)
_CURRENT_OF_ROLE = select(HelperAssignment).where(
    HelperAssignment.household_id == bindparam("household_id"),
    HelperAssignment.role == bindparam("role"),
    HelperAssignment.ended_at.is_(None),
)


async def _assignments(
    session: AsyncSession, household_id: int
) -> Sequence[tuple[HelperAssignment, Helper]]:
    rows = await session.execute(_CURRENT, {"household_id": household_id})
    return [(assignment, helper) for assignment, helper in rows.all()]


async def _disclose(
    session: AsyncSession, vault: Vault, admin: User, household: Household
) -> HouseholdHelpers:
    """The household's helper and liaison with names and phones; the access is logged."""
    await log_access(session, admin, household.id, DISCLOSED)
    found: dict[str, AssignmentRead] = {}
    for assignment, helper in await _assignments(session, household.id):
        person = HelperRead(
            **HelperSummary.model_validate(helper).model_dump(),
            name=vault.decrypt(helper.name_encrypted),
            phone=vault.decrypt(helper.phone_encrypted),
        )
        found[assignment.role] = AssignmentRead(
            role=assignment.role,
            helper=person,
            assigned_by_id=assignment.assigned_by_id,
            assigned_at=assignment.assigned_at,
        )
    return HouseholdHelpers(
        household_id=household.id,
        key_household=household.key_household,
        helper=found.get("helper"),
        liaison=found.get("liaison"),
    )


async def log_access(session: AsyncSession, user: User, household_id: int, action: str) -> None:
    """Write the household's access-log row of ``user``'s reading its personal data."""
    households_service.record_access(session, user, household_id, action)
    await session.flush()


async def household_helpers(
    session: AsyncSession, vault: Vault, admin: User, household_id: int
) -> HouseholdHelpers:
    """The helper and liaison of a household of the admin's scope (a logged disclosure)."""
    household = await households_service.get_in_scope(session, admin_scope(admin), household_id)
    return await _disclose(session, vault, admin, household)


# -- assigning --------------------------------------------------------------------------------


async def _registered(
    session: AsyncSession, scope: Scope, helper_id: int, household: Household
) -> Helper:
    helper = await session.scalar(
        select(Helper).where(Helper.id == helper_id, scope.where(Helper.region_code))
    )
    if helper is None:
        raise _helper_not_found(helper_id)
    if not household.village_code.startswith(helper.region_code):
        raise _mismatch(helper.region_code, household.village_code)
    return helper


async def _new_person(
    session: AsyncSession, vault: Vault, admin: User, data: HelperAssign, household: Household
) -> Helper:
    helper = Helper(**await _person_values(session, vault, admin, data, household))
    session.add(helper)
    await session.flush()
    return helper


async def _person_values(
    session: AsyncSession, vault: Vault, admin: User, data: HelperAssign, household: Household
) -> dict[str, Any]:
    """The columns of the new person of ``data``, checked: where they serve, by whom."""
    assert data.name is not None
    assert data.phone is not None
    region = data.region_code or household.village_code
    if not household.village_code.startswith(region) or len(region) < 6:
        raise _mismatch(region, household.village_code)
    if await session.get(Region, region) is None:
        raise Unprocessable(f"No region has the code {region}", code="unknown_region")
    if not admin_scope(admin).covers(region):
        raise Forbidden(
            f"The region {region} lies outside your scope {admin.scope_code}", code="out_of_scope"
        )
    if data.donor_id is not None:
        donor = await session.get(User, data.donor_id)
        if donor is None or donor.role != "donor":
            raise Unprocessable(f"No donor account {data.donor_id}", code="not_a_donor")
    return {
        "region_code": region,
        "county_code": household.county_code,
        "name_encrypted": vault.encrypt(data.name),
        "name_masked": mask_name(data.name),
        "phone_encrypted": vault.encrypt(data.phone),
        "phone_masked": mask_phone(data.phone),
        "phone_index": vault.blind_index(data.phone),
        "donor_id": data.donor_id,
        "created_by_id": admin.id,
        "created_at": utcnow(),
    }


def _changed(household: Household, role: str) -> Conflict:
    return Conflict(
        f"The {role} of household {household.id} was changed meanwhile; reload and retry",
        code="concurrent_update",
    )


async def _set_assignment(
    session: AsyncSession, admin: User, household: Household, role: str, helper: Helper
) -> None:
    """The household's ``role`` is ``helper`` from now on: the current holder's assignment
    ends (a compare-and-set on its being current) and a new one starts; the past is kept.

    Of two replacements at once one wins; the other finds the row ended, or the new current
    row taken (the partial unique index), and gets 409.
    """
    now = utcnow()
    current = await session.scalar(_CURRENT_OF_ROLE, {"household_id": household.id, "role": role})
    if current is not None:
        if current.helper_id == helper.id:
            return  # the same person goes on holding the role
        now = max(now, current.assigned_at)
        ended = await session.execute(
            update(HelperAssignment)
            .where(HelperAssignment.id == current.id, HelperAssignment.ended_at.is_(None))
            .values(ended_at=now)
            .execution_options(synchronize_session=False)
        )
        if not ended.rowcount:  # type: ignore[attr-defined]
            raise _changed(household, role)
    try:
        async with session.begin_nested():
            session.add(
                HelperAssignment(
                    household_id=household.id,
                    role=role,
                    helper_id=helper.id,
                    village_code=household.village_code,
                    county_code=household.county_code,
                    assigned_by_id=admin.id,
                    assigned_at=now,
                )
            )
    except IntegrityError as exc:  # a concurrent assignment of the role won
        raise _changed(household, role) from exc


async def assign(
    session: AsyncSession, vault: Vault, admin: User, household_id: int, data: HelperAssign
) -> HouseholdHelpers:
    """Give a household of the admin's scope its helper or liaison (replacing the previous)."""
    scope = admin_scope(admin)
    household = await households_service.get_in_scope(session, scope, household_id)
    if data.helper_id is not None:
        helper = await _registered(session, scope, data.helper_id, household)
    else:
        helper = await _new_person(session, vault, admin, data, household)
    await _set_assignment(session, admin, household, data.role, helper)
    return await _disclose(session, vault, admin, household)


async def assign_many(
    session: AsyncSession, vault: Vault, admin: User, entries: Sequence[tuple[int, HelperAssign]]
) -> list[int]:
    """Give many households of the admin's scope a first helper or liaison at once (a county's
    set-up), with the rules of :func:`assign`; the id of the person each entry assigns, in the
    order given.

    Each household must be in the admin's scope (404) and not hold the entry's role yet, nor be
    given it twice (409: a replacement goes through :func:`assign`); a registered helper must
    be of the scope and serve the household's village (404, 422); a new person is checked as
    :func:`assign` checks one. The checks read the households, their current roles and the
    registered helpers in a query each; the new people are written in one statement, in the
    order given, and the assignments in another. Nothing is disclosed, so nothing is logged.
    Nothing is written unless every entry passes; the caller's savepoint undoes the lot if a
    role is taken meanwhile (the partial unique index refuses it).
    """
    if not entries:
        return []
    scope = admin_scope(admin)
    households = await _households_in_scope(session, scope, {h for h, _ in entries})
    current = await session.execute(
        select(HelperAssignment.household_id, HelperAssignment.role).where(
            HelperAssignment.household_id.in_(households), HelperAssignment.ended_at.is_(None)
        )
    )
    taken = {(household_id, role) for household_id, role in current}
    registered = {
        helper.id: helper
        for helper in await session.scalars(
            select(Helper).where(
                Helper.id.in_({d.helper_id for _, d in entries if d.helper_id is not None}),
                scope.where(Helper.region_code),
            )
        )
    }
    people: list[dict[str, Any]] = []
    for household_id, data in entries:
        household = households[household_id]
        if (household_id, data.role) in taken:
            raise _changed(household, data.role)
        taken.add((household_id, data.role))
        if data.helper_id is None:
            people.append(await _person_values(session, vault, admin, data, household))
            continue
        helper = registered.get(data.helper_id)
        if helper is None:
            raise _helper_not_found(data.helper_id)
        if not household.village_code.startswith(helper.region_code):
            raise _mismatch(helper.region_code, household.village_code)
    new_ids = iter(
        await session.scalars(
            insert(Helper).returning(Helper.id, sort_by_parameter_order=True), people
        )
        if people
        else ()
    )
    helper_ids = [
        data.helper_id if data.helper_id is not None else next(new_ids) for _, data in entries
    ]
    now = utcnow()
    await session.execute(
        insert(HelperAssignment),
        [
            {
                "household_id": household_id, "role": data.role, "helper_id": helper_id,
                "village_code": households[household_id].village_code,
                "county_code": households[household_id].county_code,
                "assigned_by_id": admin.id, "assigned_at": now,
            }
            for (household_id, data), helper_id in zip(entries, helper_ids, strict=True)
        ],
    )  # fmt: skip
    return helper_ids


async def _households_in_scope(
    session: AsyncSession, scope: Scope, ids: set[int]
) -> dict[int, Household]:
    """The households of ``ids``, each in ``scope``; 404 naming the first that is not."""
    found = {
        household.id: household
        for household in await session.scalars(
            select(Household).where(Household.id.in_(ids), scope.where(Household.village_code))
        )
    }
    missing = sorted(ids - found.keys())
    if missing:  # the 404 a single household's read gives
        await households_service.get_in_scope(session, scope, missing[0])
    return found


# -- listing ----------------------------------------------------------------------------------


async def list_helpers(
    session: AsyncSession,
    admin: User,
    *,
    region: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[HelperListItem], str | None]:
    """The helpers and liaisons of the admin's scope by id, masked, with their households."""
    conditions = [admin_scope(admin).where(Helper.region_code)]
    if region is not None:
        conditions.append(Scope(region).where(Helper.region_code))
    rows, next_cursor = await page_by_id(
        session, select(Helper).where(*conditions), Helper.id, limit=limit, cursor=cursor,
        newest_first=False,
    )  # fmt: skip
    served = await session.execute(
        select(HelperAssignment.helper_id, func.count())
        .where(
            HelperAssignment.helper_id.in_([row.id for row in rows]),
            HelperAssignment.ended_at.is_(None),
        )
        .group_by(HelperAssignment.helper_id)
    )
    counts = {helper_id: int(households) for helper_id, households in served.all()}
    items = [
        HelperListItem(
            **HelperSummary.model_validate(row).model_dump(), households=counts.get(row.id, 0)
        )
        for row in rows
    ]
    return items, next_cursor


# -- help acts --------------------------------------------------------------------------------


async def _household_of_helper(
    session: AsyncSession, donor: User, household_id: int
) -> tuple[Household, int]:
    """The household a donor's helper record serves, and that record's id; else 404."""
    row = (
        await session.execute(
            select(Household, Helper.id)
            .join(HelperAssignment, HelperAssignment.household_id == Household.id)
            .join(Helper, Helper.id == HelperAssignment.helper_id)
            .where(
                Household.id == household_id,
                Helper.donor_id == donor.id,
                HelperAssignment.ended_at.is_(None),
            )
            .limit(1)
        )
    ).first()
    if row is None:
        raise NotFound(f"No household {household_id} that you help", code="household_not_found")
    return row[0], row[1]


async def _assigned_helper(session: AsyncSession, household: Household, helper_id: int) -> int:
    assigned = await session.scalar(
        select(HelperAssignment.helper_id).where(
            HelperAssignment.household_id == household.id,
            HelperAssignment.helper_id == helper_id,
            HelperAssignment.ended_at.is_(None),
        )
    )
    if assigned is None:
        raise Unprocessable(
            f"Helper {helper_id} is neither the helper nor the liaison of household {household.id}",
            code="helper_not_assigned",
        )
    return helper_id


async def record_act(
    session: AsyncSession, user: User, household_id: int, data: HelpActCreate
) -> HelpActRead:
    """A help act to a household: by an admin in scope (on a helper's behalf, if named), or
    by a helper or liaison through their donor account."""
    if data.acted_on > today():
        raise Unprocessable("A help act cannot be dated in the future", code="act_in_future")
    if user.is_admin:
        household = await households_service.get_in_scope(session, admin_scope(user), household_id)
        helper_id = (
            None
            if data.helper_id is None
            else await _assigned_helper(session, household, data.helper_id)
        )
    else:
        household, helper_id = await _household_of_helper(session, user, household_id)
        if data.helper_id is not None and data.helper_id != helper_id:
            raise Forbidden("A helper records only their own acts", code="not_allowed")
    act = HelpAct(
        household_id=household.id,
        helper_id=helper_id,
        village_code=household.village_code,
        county_code=household.county_code,
        acted_on=data.acted_on,
        kind=data.kind,
        note=data.note,
        recorded_by_id=user.id,
        created_at=utcnow(),
    )
    session.add(act)
    await session.flush()
    return HelpActRead.model_validate(act)


async def list_acts(
    session: AsyncSession, admin: User, household_id: int, *, limit: int, cursor: str | None
) -> tuple[list[HelpActRead], str | None]:
    """A household's help acts, newest first, for an admin whose scope covers it."""
    household = await households_service.get_in_scope(session, admin_scope(admin), household_id)
    rows, next_cursor = await page_by_id(
        session,
        select(HelpAct).where(HelpAct.household_id == household.id),
        HelpAct.id,
        limit=limit,
        cursor=cursor,
    )
    return [HelpActRead.model_validate(row) for row in rows], next_cursor


async def act_of(session: AsyncSession, user: User, household_id: int, act_id: int) -> HelpAct:
    """A help act of the household, for its photos: to an admin whose scope covers the
    household, or to the donor who recorded it as the household's helper; 404 to anyone else."""
    if user.is_admin:
        household = await households_service.get_in_scope(session, admin_scope(user), household_id)
        whose = HelpAct.household_id == household.id
    else:
        whose = and_(HelpAct.household_id == household_id, HelpAct.recorded_by_id == user.id)
    act = await session.scalar(select(HelpAct).where(HelpAct.id == act_id, whose))
    if act is None:
        raise NotFound(
            f"No help act {act_id} of household {household_id}", code="help_act_not_found"
        )
    return act
