"""Photos of help acts (帮扶记录), on both engines and both storages: the household's home, seen
only by the admins whose scope covers it and by the helper who recorded the act."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from fastapi import FastAPI
from httpx import AsyncClient
from PIL import Image
from sqlalchemy import select

from app.households.models import HouseholdAccess
from tests.factories import (
    DONGKOU_VILLAGE,
    OTHER_VILLAGE,
    admin_headers,
    assert_problem,
    donor_headers,
    make_household,
    phone_number,
    register_donor,
    sign_in,
)
from tests.photos.test_photos import GPS_IFD, add, gps_jpeg

Headers = dict[str, str]
TODAY = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
ACT = {"acted_on": TODAY.isoformat(), "kind": "visit", "note": "上门走访"}


@dataclass(frozen=True)
class Act:
    """A help act a helper recorded through a donor account, with who may see its photos."""

    photos: str  # the act's photos, e.g. /api/v1/households/1/help-acts/2/photos
    household_id: int
    village: Headers  # the household's village admin
    helper: Headers  # the donor account of the helper who recorded the act


async def an_act(app: FastAPI, client: AsyncClient) -> Act:
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    household = await make_household(client, village, key_household=True)
    donor = await register_donor(client)
    base = f"/api/v1/households/{household['id']}"
    person = {"role": "helper", "name": "赵帮扶", "phone": phone_number(), "donor_id": donor["id"]}
    assigned = await client.post(f"{base}/helpers", json=person, headers=village)
    assert assigned.status_code == 200, assigned.text
    helper = await sign_in(client, str(donor["username"]))
    recorded = await client.post(f"{base}/help-acts", json=ACT, headers=helper)
    assert recorded.status_code == 201, recorded.text
    photos = f"{base}/help-acts/{recorded.json()['id']}/photos"
    return Act(photos, int(str(household["id"])), village, helper)


async def test_an_admin_in_scope_adds_a_photo_without_its_place_and_the_helper_reads_it(
    app: FastAPI, client: AsyncClient
) -> None:
    act = await an_act(app, client)
    response = await add(client, act.photos, act.village, gps_jpeg(), name="家.jpg",
                         media_type="image/jpeg")  # fmt: skip
    assert response.status_code == 201, response.text
    photo = response.json()
    assert photo["household_id"] == act.household_id
    assert response.headers["location"] == photo["url"] == f"{act.photos}/{photo['id']}"
    assert photo["thumbnail_url"] == f"{photo['url']}/thumbnail"
    # Turned upright from its EXIF orientation, then stripped of all EXIF, the place above all.
    assert (photo["width"], photo["height"]) == (48, 64)

    listed = await client.get(act.photos, headers=act.helper)
    assert [item["id"] for item in listed.json()["items"]] == [photo["id"]]
    for url in (photo["url"], photo["thumbnail_url"]):
        served = await client.get(url, headers=act.helper)
        assert served.status_code == 200, served.text
        assert served.headers["cache-control"] == "private, max-age=86400"
        image = Image.open(io.BytesIO(served.content))
        assert image.format == "JPEG"
        assert dict(image.getexif()) == {}
        assert dict(image.getexif().get_ifd(GPS_IFD)) == {}


async def test_the_recording_helper_adds_a_photo_and_each_read_is_logged(
    app: FastAPI, client: AsyncClient
) -> None:
    act = await an_act(app, client)
    response = await add(client, act.photos, act.helper)
    assert response.status_code == 201, response.text
    photo = response.json()
    reads = [
        await client.get(photo["url"], headers=act.village),
        await client.get(photo["thumbnail_url"], headers=act.helper),
    ]
    assert [read.status_code for read in reads] == [200, 200]
    async with app.state.database.sessionmaker() as session:
        logged = await session.scalars(
            select(HouseholdAccess.household_id).where(
                HouseholdAccess.request_id.in_([read.headers["x-request-id"] for read in reads]),
                HouseholdAccess.action == "help_act_photo",
            )
        )
        assert logged.all() == [act.household_id] * 2


async def test_another_villages_admin_and_other_donors_find_no_act_and_no_photo(
    app: FastAPI, client: AsyncClient
) -> None:
    act = await an_act(app, client)
    photo = (await add(client, act.photos, act.village)).json()
    other_village = await admin_headers(app, client, "village", OTHER_VILLAGE)
    other_donor = await donor_headers(client)
    for headers, code in ((other_village, "household_not_found"),
                          (other_donor, "help_act_not_found")):  # fmt: skip
        assert_problem(await add(client, act.photos, headers), 404, code)
        assert_problem(await client.get(act.photos, headers=headers), 404, code)
        for url in (photo["url"], photo["thumbnail_url"]):
            assert_problem(await client.get(url, headers=headers), 404, code)
        assert_problem(await client.delete(photo["url"], headers=headers), 404, code)
    listed = await client.get(act.photos, headers=act.village)
    assert [item["id"] for item in listed.json()["items"]] == [photo["id"]]


async def test_the_seventh_photo_of_an_act_is_refused_with_409(
    app: FastAPI, client: AsyncClient
) -> None:
    act = await an_act(app, client)
    for _ in range(6):
        assert (await add(client, act.photos, act.village)).status_code == 201
    assert_problem(await add(client, act.photos, act.helper), 409, "photo_limit_reached")
    first = (await client.get(act.photos, headers=act.village)).json()["items"][0]
    # The helper removes only what they added; the admin in scope removes any.
    assert_problem(await client.delete(first["url"], headers=act.helper), 403, "not_uploader")
    assert (await client.delete(first["url"], headers=act.village)).status_code == 204
    assert (await add(client, act.photos, act.helper)).status_code == 201


async def test_a_file_named_jpg_that_is_really_html_is_refused_with_415(
    app: FastAPI, client: AsyncClient
) -> None:
    act = await an_act(app, client)
    page = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
    response = await add(client, act.photos, act.helper, page, name="家.jpg",
                         media_type="image/jpeg")  # fmt: skip
    assert_problem(response, 415, "photo_type_unsupported")
    assert (await client.get(act.photos, headers=act.village)).json()["items"] == []
