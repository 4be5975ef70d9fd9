"""What a photo looks like to a caller."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from app.core.openapi import API_PREFIX
from app.photos.models import Photo

Kind = Literal["need", "delivery"]
MediaType = Literal["image/jpeg", "image/png", "image/webp"]


class PhotoRead(BaseModel):
    id: int
    need_id: int
    kind: Kind = Field(description="A photo of the need, or of its delivery")
    pairing_id: int | None = Field(description="The delivery's pairing (delivery photos)")
    media_type: MediaType
    size_bytes: int = Field(description="The stored image's size, after re-encoding")
    width: int
    height: int
    url: str = Field(description="The image (GET, with the caller's bearer token)")
    thumbnail_url: str
    thumbnail_width: int
    thumbnail_height: int
    created_at: dt.datetime

    @classmethod
    def of(cls, photo: Photo) -> PhotoRead:
        url = f"{API_PREFIX}/photos/{photo.id}"
        return cls(
            id=photo.id,
            need_id=photo.need_id,
            kind=photo.kind,
            pairing_id=photo.pairing_id,
            media_type=photo.media_type,
            size_bytes=photo.size_bytes,
            width=photo.width,
            height=photo.height,
            url=url,
            thumbnail_url=f"{url}/thumbnail",
            thumbnail_width=photo.thumbnail_width,
            thumbnail_height=photo.thumbnail_height,
            created_at=photo.created_at,
        )


class PhotoList(BaseModel):
    items: list[PhotoRead]
