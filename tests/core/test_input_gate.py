"""One input gate: what every request field and parameter refuses (issue 10), on both engines.

Each case here was a 500 (mostly on PostgreSQL, which refuses NUL and lone surrogates in text and
integers past its columns), or a value stored that the client could not have meant.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from tests.factories import (
    DONGKOU_VILLAGE,
    admin_headers,
    assert_problem,
    donor_headers,
    id_number,
    make_household,
    post_need,
)

Headers = dict[str, str]
OFFER = {"category": "goods", "title": "棉被一百床", "description": "冬季棉被", "capacity": 10}
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.fixture
async def village(app: FastAPI, client: AsyncClient) -> Headers:
    return await admin_headers(app, client, "village", DONGKOU_VILLAGE)


async def post_raw(client: AsyncClient, url: str, body: str, headers: Headers) -> Any:
    """POST ``body`` as written: JSON escapes such as \\ud800 reach the server unchanged."""
    return await client.post(
        url, content=body.encode(), headers=headers | {"Content-Type": "application/json"}
    )


def household_body(**overrides: object) -> dict[str, object]:
    return {
        "village_code": DONGKOU_VILLAGE,
        "head_name": "刘德华",
        "id_number": id_number(),
        "phone": "13912345678",
        "size": 4,
        "support_category": "poor",
        **overrides,
    }


def need_body(household_id: object, **overrides: object) -> dict[str, object]:
    return {
        "household_id": household_id,
        "category": "goods",
        "title": "棉被",
        "description": "两床",
        "value_fen": 100,
        "deadline": "2030-01-01",
        **overrides,
    }


# -- ID numbers: ASCII digits only, one canonical form -----------------------------------------


@pytest.mark.parametrize("digits", [FULL_WIDTH, ARABIC_INDIC], ids=["full-width", "arabic-indic"])
async def test_an_id_number_in_other_digits_is_refused_not_registered_beside_the_ascii_one(
    client: AsyncClient, village: Headers, digits: dict[int, str]
) -> None:
    number = id_number()
    foreign = number[:17].translate(digits) + number[17]
    response = await client.post(
        "/api/v1/households", json=household_body(id_number=foreign), headers=village
    )
    assert_problem(response, 422, "validation_failed")
    await make_household(client, village, id_number=number)
    again = await client.post(
        "/api/v1/households", json=household_body(id_number=foreign), headers=village
    )
    assert_problem(again, 422, "validation_failed")


async def test_an_id_number_with_a_lower_case_x_is_the_same_household(
    client: AsyncClient, village: Headers
) -> None:
    number = next(n for n in map(id_number, range(1, 100)) if n.endswith("X"))
    await make_household(client, village, id_number=number.lower())
    response = await client.post(
        "/api/v1/households", json=household_body(id_number=number), headers=village
    )
    assert_problem(response, 409, "household_exists")


# -- text: no control characters but tab, newline and carriage return; no lone surrogates ------


@pytest.mark.parametrize("field", ["title", "description"])
@pytest.mark.parametrize(
    "bad", ["\x00", "\x1b", "\x7f", "\ud800"], ids=["nul", "esc", "del", "sur"]
)
async def test_a_need_text_with_a_control_or_a_lone_surrogate_is_422(
    client: AsyncClient, village: Headers, field: str, bad: str
) -> None:
    household = await make_household(client, village)
    body = need_body(household["id"], **{field: f"棉{bad}被"})
    response = await post_raw(client, "/api/v1/needs", json.dumps(body), village)
    assert_problem(response, 422, "validation_failed")


async def test_tabs_and_line_breaks_are_text(client: AsyncClient, village: Headers) -> None:
    household = await make_household(client, village)
    need = await post_need(client, village, household["id"], description="一\t二\r\n三\n")
    assert need["description"] == "一\t二\r\n三"


async def test_a_nul_in_an_offer_title_is_422(client: AsyncClient) -> None:
    donor = await donor_headers(client)
    response = await client.post(
        "/api/v1/offers", json=OFFER | {"title": "棉被\x00"}, headers=donor
    )
    assert_problem(response, 422, "validation_failed")


@pytest.mark.parametrize("bad", ["\x00", "\ud800"], ids=["nul", "surrogate"])
async def test_a_display_name_with_a_nul_or_a_lone_surrogate_is_422(
    client: AsyncClient, bad: str
) -> None:
    body = {"username": "lihua", "password": "correct horse", "display_name": f"李{bad}华"}
    response = await post_raw(
        client, "/api/v1/auth/register", json.dumps(body | {"kind": "individual"}), {}
    )
    assert_problem(response, 422, "validation_failed")


@pytest.mark.parametrize("bad", ["\x00", "\ud800"], ids=["nul", "surrogate"])
async def test_a_password_with_a_nul_or_a_lone_surrogate_is_422(
    client: AsyncClient, bad: str
) -> None:
    body = {"username": "lihua", "password": f"correct{bad}horse", "display_name": "李华"}
    response = await post_raw(
        client, "/api/v1/auth/register", json.dumps(body | {"kind": "individual"}), {}
    )
    assert_problem(response, 422, "validation_failed")


async def test_a_lone_surrogate_as_a_field_name_is_422(client: AsyncClient) -> None:
    response = await post_raw(client, "/api/v1/auth/register", '{"\\ud800": 1}', {})
    assert_problem(response, 422, "validation_failed")


async def test_a_nul_in_a_households_helper_is_422(client: AsyncClient, village: Headers) -> None:
    response = await client.post(
        "/api/v1/households", json=household_body(main_helper="王\x00"), headers=village
    )
    assert_problem(response, 422, "validation_failed")
    household = await make_household(client, village)
    edit = await client.patch(
        f"/api/v1/households/{household['id']}", json={"liaison": "李\x00"}, headers=village
    )
    assert_problem(edit, 422, "validation_failed")


async def test_a_nul_in_the_need_search_is_422(client: AsyncClient) -> None:
    donor = await donor_headers(client)
    response = await client.get("/api/v1/needs?q=%00", headers=donor)
    assert_problem(response, 422, "validation_failed")


async def test_a_nul_in_a_sign_in_name_is_refused(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token", data={"username": "li\x00hua", "password": "correct horse"}
    )
    assert_problem(response, 422, "validation_failed")


# -- If-Match: a version the column can hold, in ASCII digits ----------------------------------


@pytest.mark.parametrize(
    "if_match",
    ["²".encode("latin-1"), "³".encode("latin-1"), b"99999999999999999999", b"2147483648", b"-1"],
    ids=["superscript-2", "superscript-3", "past-64-bits", "past-32-bits", "negative"],
)
async def test_an_if_match_that_is_not_a_version_is_412(
    client: AsyncClient, village: Headers, if_match: bytes
) -> None:
    household = await make_household(client, village)
    need = await post_need(client, village, household["id"])
    for url, change in (
        (f"/api/v1/needs/{need['id']}", {"title": "新标题"}),
        (f"/api/v1/households/{household['id']}", {"size": 3}),
    ):
        headers: dict[str, Any] = village | {"If-Match": if_match}
        response = await client.patch(url, json=change, headers=headers)
        assert_problem(response, 412, "if_match_invalid")


async def test_the_etag_the_api_sends_is_an_if_match_it_takes(
    client: AsyncClient, village: Headers
) -> None:
    household = await make_household(client, village)
    need = await post_need(client, village, household["id"])
    read = await client.get(f"/api/v1/needs/{need['id']}", headers=village)
    response = await client.patch(
        f"/api/v1/needs/{need['id']}",
        json={"title": "新标题"},
        headers=village | {"If-Match": read.headers["ETag"]},
    )
    assert response.status_code == 200, response.text


# -- codes: ASCII digits ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["village=４３０５２５", "village=٤٣٠٥٢٥", "village=43052５"],
    ids=["full-width", "arabic-indic", "one-full-width"],
)
async def test_a_village_filter_in_other_digits_is_422(
    client: AsyncClient, village: Headers, query: str
) -> None:
    response = await client.get(f"/api/v1/households?{query}", headers=village)
    assert_problem(response, 422, "validation_failed")


async def test_a_village_code_in_full_width_digits_is_422(
    client: AsyncClient, village: Headers
) -> None:
    body = household_body(village_code=DONGKOU_VILLAGE.translate(FULL_WIDTH))
    response = await client.post("/api/v1/households", json=body, headers=village)
    assert_problem(response, 422, "validation_failed")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/needs?region=４３０５",
        "/api/v1/needs/１",
        "/api/v1/needs?limit=１０",
        "/api/v1/stats/donors?scope=４３",
        "/api/v1/regions/４３",
        "/api/v1/regions?parent=٤٣",
    ],
)
async def test_parameters_in_other_digits_are_422(client: AsyncClient, url: str) -> None:
    donor = await donor_headers(client)
    response = await client.get(url, headers=donor)
    assert_problem(response, 422, "validation_failed")


# -- integers: JSON integers only, within the column --------------------------------------------


@pytest.mark.parametrize("value", [True, "300", 300.0, 2**63], ids=["true", "text", "float", "big"])
async def test_a_value_fen_that_is_not_an_integer_is_422(
    client: AsyncClient, village: Headers, value: object
) -> None:
    household = await make_household(client, village)
    body = need_body(household["id"], value_fen=value)
    response = await client.post("/api/v1/needs", json=body, headers=village)
    assert_problem(response, 422, "validation_failed")


@pytest.mark.parametrize(
    ("url", "change"),
    [
        ("/api/v1/households", {"size": True}),
        ("/api/v1/households", {"size": "3"}),
        ("/api/v1/offers", {"capacity": True}),
        ("/api/v1/offers", {"value_cap_fen": "100"}),
    ],
)
async def test_integers_in_bodies_are_strict(
    client: AsyncClient, village: Headers, url: str, change: dict[str, object]
) -> None:
    if url.endswith("offers"):
        body, headers = OFFER | change, await donor_headers(client)
    else:
        body, headers = household_body(**change), village
    response = await client.post(url, json=body, headers=headers)
    assert_problem(response, 422, "validation_failed")


# -- dates and times: ISO 8601 text, a zone on a time, 2000-01-01 to 2100-12-31 ----------------


@pytest.mark.parametrize(
    "available_until",
    ["2027-01-01T00:00:00", "9999-12-31T23:59:59-12:00", "2101-01-01T00:00:00+08:00", "1800000000"],
    ids=["zoneless", "year-9999", "year-2101", "unix-time-as-text"],
)
async def test_an_offers_available_until_out_of_bounds_is_422(
    client: AsyncClient, available_until: str
) -> None:
    donor = await donor_headers(client)
    body = OFFER | {"available_until": available_until}
    response = await client.post("/api/v1/offers", json=body, headers=donor)
    assert_problem(response, 422, "validation_failed")


async def test_an_available_until_near_the_end_of_2100_is_taken(client: AsyncClient) -> None:
    donor = await donor_headers(client)
    body = OFFER | {"available_until": "2100-12-31T23:59:59-12:00"}
    response = await client.post("/api/v1/offers", json=body, headers=donor)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("deadline", ["9999-12-31", "2101-01-01", "２０３０-01-01"])
async def test_a_need_deadline_out_of_bounds_is_422(
    client: AsyncClient, village: Headers, deadline: str
) -> None:
    household = await make_household(client, village)
    body = need_body(household["id"], deadline=deadline)
    response = await client.post("/api/v1/needs", json=body, headers=village)
    assert_problem(response, 422, "validation_failed")


@pytest.mark.parametrize("quarter", ["0000Q1", "0001Q1", "1999Q4", "2101Q1", "9999Q4"])
async def test_a_ranking_quarter_out_of_range_is_422(
    app: FastAPI, client: AsyncClient, quarter: str
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    response = await client.get(
        f"/api/v1/stats/rankings?scope=430525&quarter={quarter}", headers=county
    )
    body = assert_problem(response, 422, "validation_failed")
    assert [error["type"] for error in body["errors"]] == ["date_out_of_range"]


@pytest.mark.parametrize("query", ["from=0001-01-01", "to=9999-12-31", "from=1999-12-31"])
async def test_a_stats_date_out_of_range_is_422(
    app: FastAPI, client: AsyncClient, query: str
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    for url in ("/api/v1/stats/success", "/api/v1/stats/calibration"):
        response = await client.get(f"{url}?{query}", headers=county)
        body = assert_problem(response, 422, "validation_failed")
        assert [error["type"] for error in body["errors"]] == ["date_out_of_range"]
