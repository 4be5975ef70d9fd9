"""户帮户亲帮亲: a household's helper and liaison, their help acts and the acts' photos, and the
helpers of a scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request, Response, status

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
from app.photos import help_acts as help_act_photos
from app.photos import router as photo_routes
from app.photos import service as photos_service
from app.photos.models import HelpActPhoto
from app.photos.schemas import HelpActPhotoList, HelpActPhotoRead, help_act_photo_url
from app.photos.storage import StorageDep

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


# -- a help act's photos (the photos' own rules are app.photos') -----------------------------

ActId = Annotated[IdParam, Path()]
ACT_PHOTOS = "/{household_id:int}/help-acts/{act_id:int}/photos"
ACT_PHOTO = ACT_PHOTOS + "/{photo_id:int}"


@households_router.post(
    ACT_PHOTOS, response_model=HelpActPhotoRead, status_code=status.HTTP_201_CREATED,
    responses=photo_routes.UPLOADED,
)  # fmt: skip
async def add_help_act_photo(
    session: SessionDep,
    user: CurrentUser,
    household_id: HouseholdId,
    act_id: ActId,
    file: photo_routes.Upload,
    storage: StorageDep,
    request: Request,
    response: Response,
) -> HelpActPhotoRead:
    """Add a photo to a help act: an admin whose scope covers the household, or the helper who
    recorded the act (at most 6; EXIF and location removed)."""
    data = await photo_routes.read_upload(file, request)
    photo = await help_act_photos.add(session, user, household_id, act_id, data, storage)
    response.headers["Location"] = help_act_photo_url(household_id, act_id, photo.id)
    return HelpActPhotoRead.of(photo, household_id)


@households_router.get(ACT_PHOTOS, response_model=HelpActPhotoList)
async def list_help_act_photos(
    session: SessionDep, user: CurrentUser, household_id: HouseholdId, act_id: ActId
) -> HelpActPhotoList:
    """A help act's photos: for the admins in scope and the helper who recorded it."""
    photos = await help_act_photos.photos_of(session, user, household_id, act_id)
    return HelpActPhotoList(items=[HelpActPhotoRead.of(photo, household_id) for photo in photos])


async def _seen_photo(
    session: SessionDep,
    user: CurrentUser,
    household_id: HouseholdId,
    act_id: ActId,
    photo_id: photo_routes.PhotoId,
) -> HelpActPhoto:
    """The help act's photo the caller may see (404 otherwise), its reading logged."""
    return await help_act_photos.seen(session, user, household_id, act_id, photo_id)


SeenPhoto = Annotated[HelpActPhoto, Depends(_seen_photo)]


@households_router.get(
    ACT_PHOTO, response_class=Response, responses=photo_routes.IMAGE_RESPONSES,
)  # fmt: skip
@households_router.get(
    f"{ACT_PHOTO}/thumbnail", response_class=Response, responses=photo_routes.IMAGE_RESPONSES,
    summary="Read Help Act Photo Thumbnail", name="read_help_act_photo_thumbnail",
    description="A help act's photo's thumbnail (at most 320 pixels on its longer side; logged).",
)  # fmt: skip
@writes  # each read of the household's home is written to its access log
async def read_help_act_photo(
    photo: SeenPhoto,
    storage: StorageDep,
    request: Request,
    if_none_match: photo_routes.IfNoneMatch = None,
) -> Response:
    """A help act's photo: for the admins in scope and the helper who recorded it (logged)."""
    thumbnail = request.url.path.endswith("/thumbnail")
    return await photo_routes.serve(photo, storage, if_none_match, thumbnail=thumbnail)


@households_router.delete(
    ACT_PHOTO, status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(403),
)  # fmt: skip
async def delete_help_act_photo(
    session: SessionDep,
    user: CurrentUser,
    household_id: HouseholdId,
    act_id: ActId,
    photo_id: photo_routes.PhotoId,
    storage: StorageDep,
    background: BackgroundTasks,
) -> Response:
    """Remove a help act's photo: who added it, or an admin in scope. Its bytes go once this is
    committed."""
    photo = await help_act_photos.remove(session, user, household_id, act_id, photo_id)
    background.add_task(photos_service.forget, storage, photo.key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
