"""Photos of a need and of its delivery: who may add, see and remove them, and how many.

A need's photos are added by its admins (in scope) and seen by whoever may see the need. A
delivery's are added by the donor holding the need or an admin in scope, and seen only by the
delivery's donor and the admins whose scope covers the need; to anyone else they do not exist.
Each album holds at most :data:`~app.photos.models.PER_ALBUM` photos.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import anyio.to_thread
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.accounts.policy import require, scope_or_none
from app.core.errors import Conflict, Forbidden, NotFound
from app.events import service as events
from app.needs import browse
from app.needs.models import Need
from app.pairings import service as pairings
from app.pairings.models import Pairing
from app.photos import images
from app.photos.models import PER_ALBUM, Photo, StoredImage
from app.photos.storage import PhotoStorage


def thumbnail_key(key: str) -> str:
    return f"{key}.thumb"


def _delivery_visible(user: User) -> ColumnElement[bool]:
    """SQL: a delivery photo ``user`` may see (with Need joined)."""
    if scope_or_none(user) is not None:
        return browse.visible_to(user)
    return Photo.pairing_id.in_(pairings.of_donor(user.id))


def _visible(user: User) -> ColumnElement[bool]:
    """SQL: a photo ``user`` may see (with Need joined)."""
    return or_(
        and_(Photo.kind == "need", browse.visible_to(user)),
        and_(Photo.kind == "delivery", _delivery_visible(user)),
    )


async def get_visible(session: AsyncSession, user: User, photo_id: int) -> Photo:
    """The photo, if ``user`` may see it; 404 otherwise."""
    photo = await session.scalar(
        select(Photo)
        .join(Need, Need.id == Photo.need_id)
        .where(Photo.id == photo_id, _visible(user))
    )
    if photo is None:
        raise NotFound(f"No photo {photo_id}", code="photo_not_found")
    return photo


async def need_photos(session: AsyncSession, user: User, need_id: int) -> Sequence[Photo]:
    """The need's own photos, oldest first; 404 if the need is not one ``user`` may see."""
    await browse.get_visible(session, user, need_id)
    result = await session.scalars(
        select(Photo).where(Photo.need_id == need_id, Photo.kind == "need").order_by(Photo.id)
    )
    return result.all()


async def delivery_photos(session: AsyncSession, user: User, need_id: int) -> Sequence[Photo]:
    """The photos of the need's deliveries that ``user`` may see, oldest first.

    Admins in scope see every delivery's; a donor only those of its own pairings with the need,
    and a donor who never had one gets 404.
    """
    await browse.get_visible(session, user, need_id)
    if not user.is_admin and not await pairings.has_pairing(session, user.id, need_id):
        raise NotFound(f"Need {need_id} has no delivery of yours", code="delivery_not_found")
    result = await session.scalars(
        select(Photo)
        .join(Need, Need.id == Photo.need_id)
        .where(Photo.need_id == need_id, Photo.kind == "delivery", _delivery_visible(user))
        .order_by(Photo.id)
    )
    return result.all()


async def add_need_photo(
    session: AsyncSession, admin: User, need_id: int, data: bytes, storage: PhotoStorage
) -> Photo:
    """Add a photo to a need of the admin's scope."""
    need = await browse.get_visible(session, admin, need_id)
    require(admin, "admin")
    return await _add(session, admin, need, None, data, storage)


async def add_delivery_photo(
    session: AsyncSession, user: User, need_id: int, data: bytes, storage: PhotoStorage
) -> Photo:
    """Add a photo to the need's delivery: by the donor holding it or an admin in scope."""
    need = await browse.get_visible(session, user, need_id)
    pairing = await pairings.delivery_of(session, need_id)
    if pairing is None or not (user.is_admin or pairing.donor_id == user.id):
        raise NotFound(f"Need {need_id} has no delivery of yours", code="delivery_not_found")
    if not user.is_admin:
        require(user, "holder", holder_id=pairing.donor_id)
    return await _add(session, user, need, pairing, data, storage)


async def _free_slot(session: AsyncSession, need: Need, pairing: Pairing | None) -> int:
    album = (
        Photo.pairing_id == pairing.id
        if pairing
        else and_(Photo.need_id == need.id, Photo.kind == "need")
    )
    taken = set(await session.scalars(select(Photo.slot).where(album)))
    return first_free(taken, "delivery" if pairing else "need")


async def _add(
    session: AsyncSession,
    user: User,
    need: Need,
    pairing: Pairing | None,
    data: bytes,
    storage: PhotoStorage,
) -> Photo:
    slot = await _free_slot(session, need, pairing)
    photo = Photo(
        need_id=need.id,
        pairing_id=pairing.id if pairing else None,
        kind="delivery" if pairing else "need",
        slot=slot,
        **await store(data, storage),
        uploaded_by_id=user.id,
    )
    await add_to_album(session, photo, storage)
    await _record(session, photo, need, user, "add_photo")
    return photo


def first_free(taken: set[int], what: str) -> int:
    """The lowest slot of an album not in ``taken``; 409 when the album is full."""
    free = next((slot for slot in range(1, PER_ALBUM + 1) if slot not in taken), None)
    if free is None:
        raise Conflict(
            f"A {what} holds at most {PER_ALBUM} photos; remove one to add another",
            code="photo_limit_reached",
        )
    return free


async def store(data: bytes, storage: PhotoStorage) -> dict[str, str | int]:
    """Check and re-encode an upload, keep it and its thumbnail under a new key, and give the
    photo's image columns (:class:`~app.photos.models.StoredImage`)."""
    processed = await anyio.to_thread.run_sync(images.process, data)
    image, thumbnail = processed.image, processed.thumbnail
    key = secrets.token_hex(16)
    await storage.put(key, image.data, image.media_type)
    await storage.put(thumbnail_key(key), thumbnail.data, thumbnail.media_type)
    return {
        "key": key,
        "media_type": image.media_type,
        "size_bytes": len(image.data),
        "width": image.width,
        "height": image.height,
        "thumbnail_size_bytes": len(thumbnail.data),
        "thumbnail_width": thumbnail.width,
        "thumbnail_height": thumbnail.height,
    }


async def add_to_album(session: AsyncSession, photo: StoredImage, storage: PhotoStorage) -> None:
    """Write a stored photo's row; its slot's unique index turns a race for it into 409."""
    session.add(photo)
    try:
        await session.flush()
    except sa_exc.IntegrityError as exc:
        # Another upload took the last free slot at the same moment.
        await forget(storage, photo.key)
        raise Conflict(
            "Another photo was added at the same moment; reload and retry",
            code="photo_limit_reached",
        ) from exc


async def remove_photo(session: AsyncSession, user: User, photo_id: int) -> Photo:
    """Remove a photo: its uploader or an admin in scope. The caller forgets its bytes once the
    removal is committed (:func:`forget`)."""
    photo = await get_visible(session, user, photo_id)
    if not user.is_admin and photo.uploaded_by_id != user.id:
        raise Forbidden("Only who added the photo, or an admin, removes it", code="not_uploader")
    need = await session.get_one(Need, photo.need_id)
    await session.delete(photo)
    await session.flush()
    await _record(session, photo, need, user, "remove_photo")
    return photo


async def forget(storage: PhotoStorage, key: str) -> None:
    """Delete the stored image and thumbnail of ``key``."""
    await storage.delete(key)
    await storage.delete(thumbnail_key(key))


async def _record(session: AsyncSession, photo: Photo, need: Need, user: User, action: str) -> None:
    await events.record(
        session,
        entity="pairing" if photo.pairing_id else "need",
        entity_id=photo.pairing_id or need.id,
        action=action,
        from_status=None,
        to_status=None,
        actor_id=user.id,
        need_id=need.id,
        county_code=need.county_code,
        reason=f"photo {photo.id}",
    )
