"""户帮户亲帮亲: a household's helper and liaison, their help acts, and the helpers of a scope.

The acts' photos are routed by :mod:`app.photos.router`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from app.accounts.deps import Admin, CurrentUser
from app.core.crypto import VaultDep
from app.core.db import SessionDep, writes
from app.core.openapi import problems
from app.core.pagination import Cursor, Limit, Page
from app.core.types import IdParam, RegionPrefix
from app.helpers import service
from app.helpers.schemas import (
    HelpActCreate,
    HelpActRead,
    HelperAssign,
    HelperListItem,
    HouseholdHelpers,
)

households_router = APIRouter(prefix="/households", tags=["helpers"])
helpers_router = APIRouter(prefix="/helpers", tags=["helpers"])

HouseholdId = Annotated[IdParam, Path()]


@households_router.post(
    "/{household_id:int}/helpers",
    response_model=HouseholdHelpers,
    responses=problems(403, 404),
)
async def assign_helper(
    session: SessionDep,
    vault: VaultDep,
    admin: Admin,
    household_id: HouseholdId,
    body: HelperAssign,
) -> HouseholdHelpers:
    """Give a household of your scope its helper (主体帮扶人) or liaison (帮扶联络员): a person
    already registered or a new one; it replaces the role's previous holder, whose period is
    kept for the coverage of past days (409 if another assignment of the role came first)."""
    return await service.assign(session, vault, admin, household_id, body)


@households_router.get("/{household_id:int}/helpers", response_model=HouseholdHelpers)
@writes  # the names and phones disclosed are written to the access log
async def read_household_helpers(
    session: SessionDep, vault: VaultDep, admin: Admin, household_id: HouseholdId
) -> HouseholdHelpers:
    """The helper and liaison of a household of your scope, with names and phones (logged)."""
    return await service.household_helpers(session, vault, admin, household_id)


@households_router.post(
    "/{household_id:int}/help-acts",
    response_model=HelpActRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(403, 404),
)
async def record_help_act(
    session: SessionDep, user: CurrentUser, household_id: HouseholdId, body: HelpActCreate
) -> HelpActRead:
    """Record a help act (帮扶记录): an admin in scope (on a helper's behalf if named), or the
    household's helper or liaison through their donor account."""
    return await service.record_act(session, user, household_id, body)


@households_router.get("/{household_id:int}/help-acts", response_model=Page[HelpActRead])
async def list_help_acts(
    session: SessionDep,
    admin: Admin,
    household_id: HouseholdId,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[HelpActRead]:
    """The help acts of a household of your scope, newest first."""
    items, next_cursor = await service.list_acts(
        session, admin, household_id, limit=limit, cursor=cursor
    )
    return Page[HelpActRead](items=items, next_cursor=next_cursor)


@helpers_router.get("", response_model=Page[HelperListItem])
async def list_helpers(
    session: SessionDep,
    admin: Admin,
    limit: Limit = 20,
    cursor: Cursor = None,
    region: Annotated[RegionPrefix | None, Query(description="A region-code prefix")] = None,
) -> Page[HelperListItem]:
    """The helpers and liaisons of your scope by id, masked, with how many households each
    serves."""
    items, next_cursor = await service.list_helpers(
        session, admin, region=region, limit=limit, cursor=cursor
    )
    return Page[HelperListItem](items=items, next_cursor=next_cursor)
