"""Photos of needs and deliveries, on both engines and both storages (tests/photos/conftest.py)."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient, Response
from PIL import Image

from app.photos.storage import Missing
from tests.factories import (
    DONGKOU_VILLAGE,
    OTHER_VILLAGE,
    admin_headers,
    assert_problem,
    donor_headers,
    image_bytes,
    make_household,
    png_bytes,
    post_need,
)

Headers = dict[str, str]
MB = 1024 * 1024
GPS_IFD = 0x8825
ORIENTATION = 0x0112


def upload(data: bytes, name: str = "photo.png", media_type: str = "image/png") -> Any:
    return {"file": (name, data, media_type)}


async def add(
    client: AsyncClient, url: str, headers: Headers, data: bytes | None = None, **kw: Any
) -> Response:
    return await client.post(url, files=upload(data or png_bytes(), **kw), headers=headers)


async def a_need(app: FastAPI, client: AsyncClient) -> tuple[int, Headers]:
    """A published need of the Dongkou village; its id and its village admin's headers."""
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    household = await make_household(client, village)
    need = await post_need(client, village, household["id"])
    return int(str(need["id"])), village


async def a_claimed_need(app: FastAPI, client: AsyncClient) -> tuple[int, Headers, Headers]:
    """A need claimed by a donor: its id, the village admin's and the donor's headers."""
    need_id, village = await a_need(app, client)
    donor = await donor_headers(client)
    claimed = await client.post(f"/api/v1/needs/{need_id}/claim", headers=donor)
    assert claimed.status_code == 201, claimed.text
    return need_id, village, donor


def gps_jpeg() -> bytes:
    """A JPEG whose EXIF holds a place (GPS) and an orientation (turn 90° to be upright)."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "Huawei"
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (27.0, 3.0, 36.0), 3: "E", 4: (110.0, 34.0, 48.0)})
    data = image_bytes("JPEG", (64, 48), exif=exif.tobytes())
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)  # the place is there
    return data


def png_header(width: int, height: int) -> bytes:
    """The start of a PNG of the given dimensions: all a decompression bomb needs to show."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = zlib.compress(b"\x00" * 64)
    chunk = b"IDAT" + idat
    return (
        b"\x89PNG\r\n\x1a\n"
        + ihdr
        + struct.pack(">I", len(idat))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


# -- a need's photos ---------------------------------------------------------------------------


async def test_an_admin_adds_a_photo_that_donors_see_with_its_thumbnail(
    app: FastAPI, client: AsyncClient
) -> None:
    need_id, village = await a_need(app, client)
    big = image_bytes("PNG", (800, 600))
    response = await add(client, f"/api/v1/needs/{need_id}/photos", village, big)
    assert response.status_code == 201, response.text
    photo = response.json()
    assert (photo["kind"], photo["media_type"]) == ("need", "image/png")
    assert (photo["width"], photo["height"]) == (800, 600)
    assert (photo["thumbnail_width"], photo["thumbnail_height"]) == (320, 240)
    assert response.headers["location"] == photo["url"] == f"/api/v1/photos/{photo['id']}"

    donor = await donor_headers(client)
    listed = await client.get(f"/api/v1/needs/{need_id}/photos", headers=donor)
    assert [item["id"] for item in listed.json()["items"]] == [photo["id"]]
    image = await client.get(photo["url"], headers=donor)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.headers["cache-control"] == "private, max-age=86400"
    assert len(image.content) == photo["size_bytes"]
    assert Image.open(io.BytesIO(image.content)).size == (800, 600)
    thumbnail = await client.get(photo["thumbnail_url"], headers=donor)
    assert Image.open(io.BytesIO(thumbnail.content)).size == (320, 240)
    again = await client.get(
        photo["url"], headers={**donor, "If-None-Match": image.headers["etag"]}
    )
    assert (again.status_code, again.content) == (304, b"")

    events = (await client.get(f"/api/v1/needs/{need_id}/events", headers=village)).json()
    assert events["items"][-1]["action"] == "add_photo"


async def test_a_file_named_jpg_that_is_really_html_is_refused_with_415(
    app: FastAPI, client: AsyncClient
) -> None:
    need_id, village = await a_need(app, client)
    page = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
    response = await add(
        client, f"/api/v1/needs/{need_id}/photos", village, page, name="photo.jpg",
        media_type="image/jpeg",
    )  # fmt: skip
    assert_problem(response, 415, "photo_type_unsupported")
    listed = await client.get(f"/api/v1/needs/{need_id}/photos", headers=village)
    assert listed.json()["items"] == []


async def test_a_file_that_only_starts_like_a_jpeg_is_refused_with_415(
    app: FastAPI, client: AsyncClient
) -> None:
    need_id, village = await a_need(app, client)
    broken = image_bytes("JPEG", (64, 48))[:300]
    response = await add(client, f"/api/v1/needs/{need_id}/photos", village, broken)
    assert_problem(response, 415, "photo_unreadable")


async def test_a_jpeg_comes_back_upright_without_its_exif_and_place(
    app: FastAPI, client: AsyncClient
) -> None:
    need_id, village = await a_need(app, client)
    response = await add(
        client, f"/api/v1/needs/{need_id}/photos", village, gps_jpeg(), name="x.jpg",
        media_type="image/jpeg",
    )  # fmt: skip
    photo = response.json()
    for url in (photo["url"], photo["thumbnail_url"]):
        served = (await client.get(url, headers=village)).content
        image = Image.open(io.BytesIO(served))
        assert image.format == "JPEG"
        assert dict(image.getexif()) == {}
        assert dict(image.getexif().get_ifd(GPS_IFD)) == {}
        assert "exif" not in image.info
        assert b"Exif\x00\x00" not in served
    assert (photo["width"], photo["height"]) == (48, 64)  # turned as the orientation said


async def test_the_seventh_photo_of_a_need_is_refused_with_409(
    app: FastAPI, client: AsyncClient
) -> None:
    need_id, village = await a_need(app, client)
    url = f"/api/v1/needs/{need_id}/photos"
    ids = []
    for _ in range(6):
        response = await add(client, url, village)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    assert_problem(await add(client, url, village), 409, "photo_limit_reached")

    removed = await client.delete(f"/api/v1/photos/{ids[2]}", headers=village)
    assert removed.status_code == 204
    assert (await add(client, url, village)).status_code == 201
    listed = (await client.get(url, headers=village)).json()["items"]
    assert len(listed) == 6


async def test_a_photo_over_5_mb_is_refused_with_413(app: FastAPI, client: AsyncClient) -> None:
    need_id, village = await a_need(app, client)
    url = f"/api/v1/needs/{need_id}/photos"
    just_over = b"\xff\xd8\xff" + bytes(5 * MB - 2)
    assert_problem(await add(client, url, village, just_over), 413, "photo_too_large")
    far_over = b"\xff\xd8\xff" + bytes(6 * MB)
    assert_problem(await add(client, url, village, far_over), 413, "payload_too_large")


async def test_a_decompression_bomb_is_refused_with_413(app: FastAPI, client: AsyncClient) -> None:
    need_id, village = await a_need(app, client)
    url = f"/api/v1/needs/{need_id}/photos"
    for width, height in ((20_000, 20_000), (8_000, 8_000)):
        response = await add(client, url, village, png_header(width, height))
        assert_problem(response, 413, "photo_too_many_pixels")


async def test_only_admins_in_scope_add_a_needs_photos(app: FastAPI, client: AsyncClient) -> None:
    need_id, _ = await a_need(app, client)
    url = f"/api/v1/needs/{need_id}/photos"
    assert_problem(await add(client, url, await donor_headers(client)), 403, "admin_only")
    outside = await admin_headers(app, client, "village", OTHER_VILLAGE)
    assert_problem(await add(client, url, outside), 404, "need_not_found")
    county = await admin_headers(app, client, "county", DONGKOU_VILLAGE[:6])
    assert (await add(client, url, county)).status_code == 201


# -- a delivery's photos -----------------------------------------------------------------------


async def test_the_donor_and_an_admin_add_delivery_photos(
    app: FastAPI, client: AsyncClient
) -> None:
    need_id, village, donor = await a_claimed_need(app, client)
    url = f"/api/v1/needs/{need_id}/delivery/photos"
    by_donor = await add(client, url, donor)
    assert by_donor.status_code == 201, by_donor.text
    assert by_donor.json()["kind"] == "delivery"
    assert (await client.post(f"/api/v1/needs/{need_id}/deliver", headers=donor)).is_success
    assert (await add(client, url, village)).status_code == 201

    for headers in (donor, village):
        listed = (await client.get(url, headers=headers)).json()["items"]
        assert len(listed) == 2
    assert (await client.get(f"/api/v1/needs/{need_id}/photos", headers=donor)).json() == {
        "items": []
    }


async def test_a_donor_cannot_read_a_delivery_photo_of_another_donor(
    app: FastAPI, client: AsyncClient
) -> None:
    need_id, village, donor = await a_claimed_need(app, client)
    url = f"/api/v1/needs/{need_id}/delivery/photos"
    photo = (await add(client, url, donor)).json()
    other = await donor_headers(client)

    for photo_url in (photo["url"], photo["thumbnail_url"]):
        assert_problem(await client.get(photo_url, headers=other), 404, "photo_not_found")
        assert (await client.get(photo_url, headers=donor)).status_code == 200
        assert (await client.get(photo_url, headers=village)).status_code == 200
    assert_problem(await client.get(url, headers=other), 404, "delivery_not_found")
    assert_problem(await add(client, url, other), 404, "delivery_not_found")
    assert_problem(await client.delete(photo["url"], headers=other), 404, "photo_not_found")
    outside = await admin_headers(app, client, "village", OTHER_VILLAGE)
    assert_problem(await client.get(photo["url"], headers=outside), 404, "photo_not_found")
    township = await admin_headers(app, client, "township", DONGKOU_VILLAGE[:9])
    assert (await client.get(photo["url"], headers=township)).status_code == 200


async def test_a_need_without_a_delivery_takes_no_delivery_photo(
    app: FastAPI, client: AsyncClient
) -> None:
    need_id, village = await a_need(app, client)
    response = await add(client, f"/api/v1/needs/{need_id}/delivery/photos", village)
    assert_problem(response, 404, "delivery_not_found")


# -- removal -----------------------------------------------------------------------------------


async def test_the_uploader_removes_a_photo_and_its_bytes_go(
    app: FastAPI, client: AsyncClient
) -> None:
    need_id, village, donor = await a_claimed_need(app, client)
    need_photo = (await add(client, f"/api/v1/needs/{need_id}/photos", village)).json()
    assert_problem(await client.delete(need_photo["url"], headers=donor), 403, "not_uploader")

    photo = (await add(client, f"/api/v1/needs/{need_id}/delivery/photos", donor)).json()
    key = (await client.get(photo["url"], headers=donor)).headers["etag"].strip('"')
    assert (await client.delete(photo["url"], headers=donor)).status_code == 204
    assert_problem(await client.get(photo["url"], headers=donor), 404, "photo_not_found")
    storage = app.state.photo_storage
    for stored in (key, f"{key}.thumb"):
        try:
            await storage.get(stored)
        except Missing:
            continue
        raise AssertionError(f"{stored} is still stored")
