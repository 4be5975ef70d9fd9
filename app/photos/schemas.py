"""What a photo looks like to a caller."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.core.openapi import API_PREFIX
from app.photos.models import HelpActPhoto, Photo

Kind = Literal["need", "delivery"]
MediaType = Literal["image/jpeg", "image/png", "image/webp"]


class ImageRead(BaseModel):
    """A stored photo's image and thumbnail, whatever album holds it."""

    id: int
    media_type: MediaType
    size_bytes: int = Field(description="The stored image's size, after re-encoding")
    width: int
    height: int
    url: str = Field(description="The image (GET, with the caller's bearer token)")
    thumbnail_url: str
    thumbnail_width: int
    thumbnail_height: int
    created_at: dt.datetime


def _image(photo: Photo | HelpActPhoto, url: str) -> dict[str, Any]:
    return {
        "id": photo.id,
        "media_type": photo.media_type,
        "size_bytes": photo.size_bytes,
        "width": photo.width,
        "height": photo.height,
        "url": url,
        "thumbnail_url": f"{url}/thumbnail",
        "thumbnail_width": photo.thumbnail_width,
        "thumbnail_height": photo.thumbnail_height,
        "created_at": photo.created_at,
    }


class PhotoRead(ImageRead):
    need_id: int
    kind: Kind = Field(description="A photo of the need, or of its delivery")
    pairing_id: int | None = Field(description="The delivery's pairing (delivery photos)")

    @classmethod
    def of(cls, photo: Photo) -> PhotoRead:
        return cls(
            **_image(photo, f"{API_PREFIX}/photos/{photo.id}"),
            need_id=photo.need_id,
            kind=photo.kind,
            pairing_id=photo.pairing_id,
        )


class PhotoList(BaseModel):
    items: list[PhotoRead]


class HelpActPhotoRead(ImageRead):
    """A photo of a help act: for the admins in scope and the helper who recorded the act."""

    household_id: int
    help_act_id: int

    @classmethod
    def of(cls, photo: HelpActPhoto, household_id: int) -> HelpActPhotoRead:
        url = help_act_photo_url(household_id, photo.help_act_id, photo.id)
        return cls(**_image(photo, url), household_id=household_id, help_act_id=photo.help_act_id)


class HelpActPhotoList(BaseModel):
    items: list[HelpActPhotoRead]


def help_act_photo_url(household_id: int, act_id: int, photo_id: int) -> str:
    return f"{API_PREFIX}/households/{household_id}/help-acts/{act_id}/photos/{photo_id}"
