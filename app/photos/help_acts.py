"""Photos of help acts (帮扶记录): the household's home, so personal data of the household.

They are added, listed and seen by the admins whose scope covers the household and by the
helper who recorded the act through their donor account; to anyone else the act is not there
(404). Each read of an image or a thumbnail is written to the household's access log, as a
disclosure of its helpers is. An act holds at most :data:`~app.photos.models.PER_ALBUM` photos.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.errors import Forbidden, NotFound
from app.helpers import service as helpers_service
from app.helpers.models import HelpAct
from app.photos import service
from app.photos.models import HelpActPhoto
from app.photos.storage import PhotoStorage


async def photos_of(
    session: AsyncSession, user: User, household_id: int, act_id: int
) -> Sequence[HelpActPhoto]:
    """The act's photos, oldest first; 404 if the act is not one ``user`` may see."""
    act = await helpers_service.act_of(session, user, household_id, act_id)
    result = await session.scalars(
        select(HelpActPhoto).where(HelpActPhoto.help_act_id == act.id).order_by(HelpActPhoto.id)
    )
    return result.all()


async def add(
    session: AsyncSession,
    user: User,
    household_id: int,
    act_id: int,
    data: bytes,
    storage: PhotoStorage,
) -> HelpActPhoto:
    """Add a photo to a help act: an admin in scope, or the helper who recorded the act."""
    act = await helpers_service.act_of(session, user, household_id, act_id)
    taken = set(
        await session.scalars(select(HelpActPhoto.slot).where(HelpActPhoto.help_act_id == act.id))
    )
    photo = HelpActPhoto(
        help_act_id=act.id,
        slot=service.first_free(taken, "help act"),
        **await service.store(data, storage),
        uploaded_by_id=user.id,
    )
    await service.add_to_album(session, photo, storage)
    return photo


async def _photo(
    session: AsyncSession, user: User, household_id: int, act_id: int, photo_id: int
) -> tuple[HelpAct, HelpActPhoto]:
    act = await helpers_service.act_of(session, user, household_id, act_id)
    photo = await session.scalar(
        select(HelpActPhoto).where(HelpActPhoto.id == photo_id, HelpActPhoto.help_act_id == act.id)
    )
    if photo is None:
        raise NotFound(f"No photo {photo_id} of help act {act_id}", code="photo_not_found")
    return act, photo


async def seen(
    session: AsyncSession, user: User, household_id: int, act_id: int, photo_id: int
) -> HelpActPhoto:
    """The photo, if ``user`` may see it (404 otherwise); the reading is logged."""
    act, photo = await _photo(session, user, household_id, act_id, photo_id)
    await helpers_service.log_access(session, user, act.household_id, helpers_service.PHOTO_SEEN)
    return photo


async def remove(
    session: AsyncSession, user: User, household_id: int, act_id: int, photo_id: int
) -> HelpActPhoto:
    """Remove a photo of a help act: its uploader or an admin in scope. The caller forgets its
    bytes once the removal is committed (:func:`app.photos.service.forget`)."""
    _, photo = await _photo(session, user, household_id, act_id, photo_id)
    if not user.is_admin and photo.uploaded_by_id != user.id:
        raise Forbidden("Only who added the photo, or an admin, removes it", code="not_uploader")
    await session.delete(photo)
    await session.flush()
    return photo
