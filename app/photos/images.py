"""Checking and re-encoding one uploaded photo: judged by its content, never by its name.

A photo is accepted only if its first bytes are those of JPEG, PNG or WebP and Pillow decodes
the whole of it as that format. What is stored is re-encoded from the decoded pixels, turned
upright as its EXIF orientation says: no EXIF (the place it was taken included), no ICC profile,
no text chunks, nothing of the original file but its picture.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from app.core.errors import PayloadTooLarge, UnsupportedMediaType

# Pillow's format name → the media type it is served with.
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# A photo of more pixels is refused before it is decoded (a decompression bomb is a small file
# of enormous dimensions); phones take at most 50 megapixels.
MAX_PIXELS = 50_000_000
# Stored photos are at most this long on their longer side; thumbnails at most THUMBNAIL_EDGE.
LONG_EDGE = 2560
THUMBNAIL_EDGE = 320
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "JPEG": {"quality": 85, "optimize": True},
    "PNG": {"compress_level": 6},
    "WEBP": {"quality": 85, "method": 4},
}
_ACCEPTED = "a photo must be a JPEG, PNG or WebP image"


@dataclass(frozen=True, slots=True)
class Encoded:
    """An image as stored: its bytes, media type and size in pixels."""

    data: bytes
    media_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Processed:
    image: Encoded
    thumbnail: Encoded


def sniff(head: bytes) -> str | None:
    """The format that ``head``, a file's first bytes, announces: JPEG, PNG, WEBP or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def process(data: bytes, *, max_pixels: int = MAX_PIXELS) -> Processed:
    """The photo in ``data`` re-encoded without its metadata, and its thumbnail.

    Raises UnsupportedMediaType (415) for anything but a whole JPEG, PNG or WebP image, and
    PayloadTooLarge (413) for one of more than ``max_pixels`` pixels. Blocking: run it in a thread.
    """
    fmt = sniff(data[:12])
    if fmt is None:
        raise UnsupportedMediaType(
            f"The file is not an image: {_ACCEPTED}", code="photo_type_unsupported"
        )
    picture = _decode(data, fmt, max_pixels)
    picture.thumbnail((LONG_EDGE, LONG_EDGE), Image.Resampling.LANCZOS)
    thumbnail = picture.copy()
    thumbnail.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE), Image.Resampling.LANCZOS)
    return Processed(_encode(picture, fmt), _encode(thumbnail, fmt))


def _decode(data: bytes, fmt: str, max_pixels: int) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as opened:
            width, height = opened.size
            if width * height > max_pixels:
                raise _too_many_pixels(width, height, max_pixels)
            opened.load()
            upright = ImageOps.exif_transpose(opened)
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(0, 0, max_pixels) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UnsupportedMediaType(
            f"The file is not a whole {fmt} image: {_ACCEPTED}", code="photo_unreadable"
        ) from exc
    return _plain(upright)


def _too_many_pixels(width: int, height: int, max_pixels: int) -> PayloadTooLarge:
    size = f" ({width}×{height})" if width else ""
    return PayloadTooLarge(
        f"The image has more than {max_pixels:,} pixels{size}", code="photo_too_many_pixels"
    )


def _plain(image: Image.Image) -> Image.Image:
    """The pixels in RGB or L, or RGBA where the image is transparent; no metadata kept."""
    transparent = "A" in image.mode or "transparency" in image.info
    if image.mode not in ("RGB", "L") or transparent:
        image = image.convert("RGBA" if transparent else "RGB")
    plain = Image.new(image.mode, image.size)
    plain.paste(image)
    return plain


def _encode(image: Image.Image, fmt: str) -> Encoded:
    if fmt == "JPEG" and image.mode == "RGBA":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **_SAVE_OPTIONS[fmt])
    return Encoded(buffer.getvalue(), MEDIA_TYPES[fmt], image.width, image.height)
