"""Households (受助对象): registered, read and edited by the admins whose scope covers them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response, status

from app.accounts.deps import Admin
from app.core.crypto import VaultDep
from app.core.db import SessionDep, writes
from app.core.openapi import link, links, problems
from app.core.pagination import Cursor, Limit, Page
from app.core.types import DateTime, IdParam, RegionPrefix, version_of
from app.households import service
from app.households.schemas import (
    AccessLogEntry,
    HouseholdCreate,
    HouseholdRead,
    HouseholdSummary,
    HouseholdUpdate,
    IdNumber,
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
    responses={**REGISTERED_LINKS, **problems(409)},
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
@writes  # a look-up by ID number appends to the access log
async def list_households(
    session: SessionDep,
    vault: VaultDep,
    admin: Admin,
    limit: Limit = 20,
    cursor: Cursor = None,
    village: Annotated[
        RegionPrefix | None,
        Query(description="A region-code prefix"),
    ] = None,
    support_category: SupportCategory | None = None,
    key_household: bool | None = None,
    id_number: Annotated[
        IdNumber | None,
        Query(
            description="Find the household with this resident ID number (an exact match, "
            "through its keyed hash); each household found is written to the access log"
        ),
    ] = None,
) -> Page[HouseholdSummary]:
    """The households of the admin's scope by id, without personal data, a page at a time."""
    filters = service.ListFilters(
        village=village,
        support_category=support_category,
        key_household=key_household,
        id_number=id_number,
    )
    rows, next_cursor = await service.list_households(
        session, vault, admin, filters, limit=limit, cursor=cursor
    )
    items = [HouseholdSummary.model_validate(row) for row in rows]
    return Page[HouseholdSummary](items=items, next_cursor=next_cursor)


@router.get("/access-log", response_model=Page[AccessLogEntry])
async def read_access_log(
    session: SessionDep,
    admin: Admin,
    limit: Limit = 50,
    cursor: Cursor = None,
    household_id: Annotated[IdParam | None, Query(description="Only this household")] = None,
    actor_id: Annotated[IdParam | None, Query(description="Only this admin's accesses")] = None,
    since: Annotated[DateTime | None, Query(description="From this moment on")] = None,
    until: Annotated[DateTime | None, Query(description="Before this moment")] = None,
) -> Page[AccessLogEntry]:
    """Who disclosed which household's personal data when, newest first: for county and
    platform admins, inside their scope (township and village admins get 403)."""
    filters = service.AccessLogFilters(
        household_id=household_id, actor_id=actor_id, since=since, until=until
    )
    items, next_cursor = await service.access_log(
        session, admin, filters, limit=limit, cursor=cursor
    )
    return Page[AccessLogEntry](items=items, next_cursor=next_cursor)


# ":int": a path that is not a number (access-log) is not a household, so an unsupported
# method there is 405, not a 422 about the id.
@router.get("/{household_id:int}", response_model=HouseholdRead)
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


@router.patch("/{household_id:int}", response_model=HouseholdRead, responses=problems(412))
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
