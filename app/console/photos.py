"""Photos of a need: added by the offices, seen by whoever may see the need (the API's rules)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from app.console.auth import redirect
from app.console.households import office
from app.console.needs import need_page_with_error
from app.console.session import ConsoleUser, Csrf, undo
from app.core.db import SessionDep
from app.core.errors import AppError, NotFound
from app.core.types import IdParam
from app.photos import service
from app.photos.storage import Missing, PhotoStorage

router = APIRouter()

PhotoId = Annotated[IdParam, Path()]
NeedId = Annotated[IdParam, Path()]


def _storage(request: Request) -> PhotoStorage:
    storage: PhotoStorage = request.app.state.photo_storage
    return storage


@router.post("/needs/{need_id:int}/photos", dependencies=[Csrf])
async def add_photo(
    request: Request, session: SessionDep, user: ConsoleUser, need_id: NeedId
) -> Response:
    """Add a photo to a need of the admin's scope (judged and re-encoded as the API does)."""
    admin = office(user)
    upload = (await request.form()).get("photo")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await need_page_with_error(request, session, admin, need_id, "请选择照片。", 422)
    limit = request.app.state.settings.photo_max_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        message = f"照片不能超过 {limit // (1024 * 1024)} MB。"
        return await need_page_with_error(request, session, admin, need_id, message, 413)
    try:
        await service.add_need_photo(session, admin, need_id, data, _storage(request))
    except AppError as exc:
        if exc.status >= 500 or exc.status in (401, 404):
            raise
        await undo(session, admin)
        return await need_page_with_error(request, session, admin, need_id, exc, exc.status)
    return redirect(f"/console/needs/{need_id}?notice=photo")


async def _image(
    request: Request, session: SessionDep, user: ConsoleUser, photo_id: int, *, thumbnail: bool
) -> Response:
    photo = await service.get_visible(session, user, photo_id)
    key = service.thumbnail_key(photo.key) if thumbnail else photo.key
    try:
        data = await _storage(request).get(key)
    except Missing:
        raise NotFound(f"Photo {photo_id} is no longer stored", code="photo_not_found") from None
    return Response(data, media_type=photo.media_type, headers={"cache-control": "private"})


@router.get("/photos/{photo_id:int}")
async def photo(
    request: Request, session: SessionDep, user: ConsoleUser, photo_id: PhotoId
) -> Response:
    """A photo the user may see."""
    return await _image(request, session, user, photo_id, thumbnail=False)


@router.get("/photos/{photo_id:int}/thumbnail")
async def thumbnail(
    request: Request, session: SessionDep, user: ConsoleUser, photo_id: PhotoId
) -> Response:
    """A photo's thumbnail."""
    return await _image(request, session, user, photo_id, thumbnail=True)
