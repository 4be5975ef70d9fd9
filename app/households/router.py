"""Households (受助对象): registered, read and edited by the admins whose scope covers them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status

from app.accounts.deps import Admin, AdminScope
from app.core.crypto import Vault
from app.core.db import SessionDep, writes
from app.core.openapi import link, links, problems
from app.core.pagination import Cursor, Limit, Page
from app.core.types import IdParam, RegionPrefix, version_of
from app.households import service
from app.households.schemas import (
    HouseholdCreate,
    HouseholdRead,
    HouseholdSummary,
    HouseholdUpdate,
    SupportCategory,
)

router = APIRouter(prefix="/households", tags=["households"])

HouseholdId = Annotated[IdParam, Path()]
_REGISTERED = "$response.body#/id"
REGISTERED_LINKS = links(
    201,
    PostNeed=link(
        "POST",
        "/needs",
        "Post a need for the household",
        request_body={"household_id": _REGISTERED},
    ),
    ReadHousehold=link(
        "GET", "/households/{household_id}", "The household", household_id=_REGISTERED
    ),
    EditHousehold=link(
        "PATCH",
        "/households/{household_id}",
        "Edit the household at the version just returned",
        household_id=_REGISTERED,
        **{"header.if-match": "$response.header.ETag"},
    ),
)


def get_vault(request: Request) -> Vault:
    """The application's vault: the keys of the personal data."""
    vault: Vault = request.app.state.vault
    return vault


VaultDep = Annotated[Vault, Depends(get_vault)]


def _expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names (quoted or bare); None when absent or ``*``."""
    if if_match is None or if_match.strip() == "*":
        return None
    return version_of(if_match, "household")


def _tag(response: Response, household: HouseholdRead) -> HouseholdRead:
    response.headers["ETag"] = f'"{household.version}"'
    return household


@router.post(
    "",
    response_model=HouseholdRead,
    status_code=status.HTTP_201_CREATED,
    responses=REGISTERED_LINKS,
)
async def register_household(
    session: SessionDep,
    vault: VaultDep,
    admin: Admin,
    body: HouseholdCreate,
    request: Request,
    response: Response,
) -> HouseholdRead:
    """Register a household in a village of the admin's scope (one per ID number)."""
    household = await service.create_household(session, vault, admin, body)
    response.headers["Location"] = f"{request.url.path}/{household.id}"
    return _tag(response, household)


@router.get("", response_model=Page[HouseholdSummary])
async def list_households(
    session: SessionDep,
    scope: AdminScope,
    limit: Limit = 20,
    cursor: Cursor = None,
    village: Annotated[
        RegionPrefix | None,
        Query(description="A region-code prefix"),
    ] = None,
    support_category: SupportCategory | None = None,
    key_household: bool | None = None,
) -> Page[HouseholdSummary]:
    """The households of the admin's scope by id, without personal data, a page at a time."""
    filters = service.ListFilters(
        village=village, support_category=support_category, key_household=key_household
    )
    rows, next_cursor = await service.list_households(
        session, scope, filters, limit=limit, cursor=cursor
    )
    items = [HouseholdSummary.model_validate(row) for row in rows]
    return Page[HouseholdSummary](items=items, next_cursor=next_cursor)


@router.get("/{household_id}", response_model=HouseholdRead)
@writes  # every read of personal data appends to the access log
async def read_household(
    session: SessionDep,
    vault: VaultDep,
    admin: Admin,
    household_id: HouseholdId,
    response: Response,
) -> HouseholdRead:
    """One household of the admin's scope with its personal data; its ETag is its version."""
    return _tag(response, await service.read_household(session, vault, admin, household_id))


@router.patch("/{household_id}", response_model=HouseholdRead, responses=problems(412))
async def edit_household(
    session: SessionDep,
    vault: VaultDep,
    admin: Admin,
    household_id: HouseholdId,
    body: HouseholdUpdate,
    response: Response,
    if_match: Annotated[str | None, Header(description="The household's version (ETag)")] = None,
) -> HouseholdRead:
    """Edit a household of the admin's scope; a stale If-Match gets 412."""
    household = await service.update_household(
        session, vault, admin, household_id, body, expected_version=_expected_version(if_match)
    )
    return _tag(response, household)
