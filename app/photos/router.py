"""Photos: a need's (added by its admins), its delivery's (by the donor or an admin), and a help
act's (by an admin in scope or the helper who recorded it).

One file per request, as ``multipart/form-data`` in the field ``file``. A need's and a
delivery's images are served at ``/photos/{photo_id}`` and ``/photos/{photo_id}/thumbnail`` to
whoever may see them. A help act's are served under the act by the helpers' router
(:mod:`app.helpers.router`), with :func:`read_upload` and :func:`serve` from here.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    File,
    Header,
    Path,
    Request,
    Response,
    UploadFile,
)
from fastapi import status as http

from app.accounts.deps import Admin, CurrentUser
from app.core.db import SessionDep, writes
from app.core.errors import NotFound, PayloadTooLarge
from app.core.openapi import API_PREFIX, problems
from app.core.settings import Settings
from app.core.types import IdParam
from app.photos import help_acts as help_act_photos
from app.photos import service
from app.photos.models import MEDIA_TYPES, HelpActPhoto, StoredImage
from app.photos.schemas import (
    HelpActPhotoList,
    HelpActPhotoRead,
    PhotoList,
    PhotoRead,
    help_act_photo_url,
)
from app.photos.storage import Missing, PhotoStorage, StorageDep

needs_router = APIRouter(prefix="/needs", tags=["photos"])
photos_router = APIRouter(prefix="/photos", tags=["photos"])

NeedId = Annotated[IdParam, Path()]
PhotoId = Annotated[IdParam, Path()]
Upload = Annotated[UploadFile, File(description="One JPEG, PNG or WebP image")]

# Room in an upload's body for the form around the file (boundaries, part headers).
FORM_OVERHEAD_BYTES = 64 * 1024
UPLOAD_PATHS = re.compile(
    rf"^{API_PREFIX}/(needs/[^/]+(/delivery)?|households/[^/]+/help-acts/[^/]+)/photos$"
)
UPLOADED = problems(409, 413, 415)
CACHE_CONTROL = "private, max-age=86400"
IMAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The image, re-encoded without metadata",
        "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}}
            for media_type in MEDIA_TYPES
        },
    },
    304: {"description": "The copy the client holds (If-None-Match) is current"},
}


def upload_limit(settings: Settings) -> tuple[re.Pattern[str], int]:
    """The body-size limit of the upload routes: a whole photo and its form."""
    return UPLOAD_PATHS, settings.photo_max_bytes + FORM_OVERHEAD_BYTES


async def read_upload(file: UploadFile, request: Request) -> bytes:
    """The upload's bytes, read no further than one byte past the limit."""
    settings: Settings = request.app.state.settings
    limit = settings.photo_max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(
            f"A photo may be at most {limit // (1024 * 1024)} MB", code="photo_too_large"
        )
    return data


@needs_router.post(
    "/{need_id}/photos", response_model=PhotoRead, status_code=http.HTTP_201_CREATED,
    responses=UPLOADED,
)  # fmt: skip
async def add_need_photo(
    session: SessionDep,
    admin: Admin,
    need_id: NeedId,
    file: Upload,
    storage: StorageDep,
    request: Request,
    response: Response,
) -> PhotoRead:
    """Add a photo to a need of the admin's scope (at most 6; EXIF and location removed)."""
    photo = await service.add_need_photo(
        session, admin, need_id, await read_upload(file, request), storage
    )
    response.headers["Location"] = f"{API_PREFIX}/photos/{photo.id}"
    return PhotoRead.of(photo)


@needs_router.get("/{need_id}/photos", response_model=PhotoList)
async def list_need_photos(session: SessionDep, user: CurrentUser, need_id: NeedId) -> PhotoList:
    """The need's photos, for whoever may see the need."""
    photos = await service.need_photos(session, user, need_id)
    return PhotoList(items=[PhotoRead.of(photo) for photo in photos])


@needs_router.post(
    "/{need_id}/delivery/photos", response_model=PhotoRead, status_code=http.HTTP_201_CREATED,
    responses=UPLOADED,
)  # fmt: skip
async def add_delivery_photo(
    session: SessionDep,
    user: CurrentUser,
    need_id: NeedId,
    file: Upload,
    storage: StorageDep,
    request: Request,
    response: Response,
) -> PhotoRead:
    """Add a photo to the need's delivery: the donor holding it, or an admin in scope (at most
    6 per delivery)."""
    photo = await service.add_delivery_photo(
        session, user, need_id, await read_upload(file, request), storage
    )
    response.headers["Location"] = f"{API_PREFIX}/photos/{photo.id}"
    return PhotoRead.of(photo)


@needs_router.get("/{need_id}/delivery/photos", response_model=PhotoList)
async def list_delivery_photos(
    session: SessionDep, user: CurrentUser, need_id: NeedId
) -> PhotoList:
    """The photos of the need's delivery: its donor's own, or all of them for admins in scope."""
    photos = await service.delivery_photos(session, user, need_id)
    return PhotoList(items=[PhotoRead.of(photo) for photo in photos])


async def _image(
    session: SessionDep,
    user: CurrentUser,
    photo_id: int,
    storage: StorageDep,
    if_none_match: str | None,
    thumbnail: bool,
) -> Response:
    photo = await service.get_visible(session, user, photo_id)
    return await serve(photo, storage, if_none_match, thumbnail)


async def serve(
    photo: StoredImage, storage: PhotoStorage, if_none_match: str | None, thumbnail: bool
) -> Response:
    """The stored image (or thumbnail) of a photo the caller may see, or 304 for its ETag."""
    key = service.thumbnail_key(photo.key) if thumbnail else photo.key
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": f'"{key}"'}
    if if_none_match is not None and f'"{key}"' in if_none_match:
        return Response(status_code=http.HTTP_304_NOT_MODIFIED, headers=headers)
    try:
        data = await storage.get(key)
    except Missing:
        raise NotFound("The photo is no longer stored", code="photo_not_found") from None
    return Response(data, media_type=photo.media_type, headers=headers)


IfNoneMatch = Annotated[str | None, Header(description="The ETag of the copy the client holds")]


@photos_router.get("/{photo_id}", response_class=Response, responses=IMAGE_RESPONSES)
async def read_photo(
    session: SessionDep,
    user: CurrentUser,
    photo_id: PhotoId,
    storage: StorageDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The photo's image, for whoever may see the photo."""
    return await _image(session, user, photo_id, storage, if_none_match, thumbnail=False)


@photos_router.get("/{photo_id}/thumbnail", response_class=Response, responses=IMAGE_RESPONSES)
async def read_photo_thumbnail(
    session: SessionDep,
    user: CurrentUser,
    photo_id: PhotoId,
    storage: StorageDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The photo's thumbnail (at most 320 pixels on its longer side)."""
    return await _image(session, user, photo_id, storage, if_none_match, thumbnail=True)


@photos_router.delete("/{photo_id}", status_code=http.HTTP_204_NO_CONTENT, responses=problems(403))
async def delete_photo(
    session: SessionDep,
    user: CurrentUser,
    photo_id: PhotoId,
    storage: StorageDep,
    background: BackgroundTasks,
) -> Response:
    """Remove a photo: who added it, or an admin in scope. Its bytes go once this is committed."""
    photo = await service.remove_photo(session, user, photo_id)
    background.add_task(service.forget, storage, photo.key)
    return Response(status_code=http.HTTP_204_NO_CONTENT)


# -- a help act's photos (帮扶记录的照片), under the household's help acts ----------------------
# Who may see the act is the helpers' rule (app.helpers.service), asked through help_acts.

help_acts_router = APIRouter(prefix="/households", tags=["helpers"])
HouseholdId = Annotated[IdParam, Path()]
ActId = Annotated[IdParam, Path()]
ACT_PHOTOS = "/{household_id:int}/help-acts/{act_id:int}/photos"
ACT_PHOTO = ACT_PHOTOS + "/{photo_id:int}"


@help_acts_router.post(
    ACT_PHOTOS, response_model=HelpActPhotoRead, status_code=http.HTTP_201_CREATED,
    responses=UPLOADED,
)  # fmt: skip
async def add_help_act_photo(
    session: SessionDep,
    user: CurrentUser,
    household_id: HouseholdId,
    act_id: ActId,
    file: Upload,
    storage: StorageDep,
    request: Request,
    response: Response,
) -> HelpActPhotoRead:
    """Add a photo to a help act: an admin whose scope covers the household, or the helper who
    recorded the act (at most 6; EXIF and location removed)."""
    data = await read_upload(file, request)
    photo = await help_act_photos.add(session, user, household_id, act_id, data, storage)
    response.headers["Location"] = help_act_photo_url(household_id, act_id, photo.id)
    return HelpActPhotoRead.of(photo, household_id)


@help_acts_router.get(ACT_PHOTOS, response_model=HelpActPhotoList)
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
    photo_id: PhotoId,
) -> HelpActPhoto:
    """The help act's photo the caller may see (404 otherwise), its reading logged."""
    return await help_act_photos.seen(session, user, household_id, act_id, photo_id)


SeenPhoto = Annotated[HelpActPhoto, Depends(_seen_photo)]


@help_acts_router.get(
    ACT_PHOTO, response_class=Response, responses=IMAGE_RESPONSES,
)  # fmt: skip
@help_acts_router.get(
    f"{ACT_PHOTO}/thumbnail", response_class=Response, responses=IMAGE_RESPONSES,
    summary="Read Help Act Photo Thumbnail", name="read_help_act_photo_thumbnail",
    description="A help act's photo's thumbnail (at most 320 pixels on its longer side; logged).",
)  # fmt: skip
@writes  # each read of the household's home is written to its access log
async def read_help_act_photo(
    photo: SeenPhoto,
    storage: StorageDep,
    request: Request,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """A help act's photo: for the admins in scope and the helper who recorded it (logged)."""
    thumbnail = request.url.path.endswith("/thumbnail")
    return await serve(photo, storage, if_none_match, thumbnail=thumbnail)


@help_acts_router.delete(
    ACT_PHOTO, status_code=http.HTTP_204_NO_CONTENT,
    responses=problems(403),
)  # fmt: skip
async def delete_help_act_photo(
    session: SessionDep,
    user: CurrentUser,
    household_id: HouseholdId,
    act_id: ActId,
    photo_id: PhotoId,
    storage: StorageDep,
    background: BackgroundTasks,
) -> Response:
    """Remove a help act's photo: who added it, or an admin in scope. Its bytes go once this is
    committed."""
    photo = await help_act_photos.remove(session, user, household_id, act_id, photo_id)
    background.add_task(service.forget, storage, photo.key)
    return Response(status_code=http.HTTP_204_NO_CONTENT)
