"""Opaque cursors, forged: any JSON a client could encode the way the API does gets 200 or 422.

A cursor is base64 of a JSON list; the fuzzer of the document cannot forge one (it sees a plain
string), so these are made here: lists of the right length or not, holding the values a cursor
holds (timestamps with and without a zone, dates, ids) and what it never holds (integers past
64 bits, strings, nulls, booleans, nested lists).
"""

from __future__ import annotations

import base64
import json

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ_EXAMPLES, World, engine_of
from tests.fuzz.summary import cases_run

PAGED = (
    ("village", "/api/v1/needs?sort=newest"),
    ("village", "/api/v1/needs?sort=urgent"),
    ("donor", "/api/v1/needs?sort=deadline"),
    ("village", "/api/v1/households"),
    ("donor", "/api/v1/offers"),
    ("donor", "/api/v1/pairings"),
    ("county", "/api/v1/matching/runs"),
)
scalars = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False),
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.dates().map(lambda day: day.isoformat()),
    st.text(max_size=20),
    st.none(),
    st.booleans(),
)
values = st.lists(st.one_of(scalars, st.lists(scalars, max_size=2)), max_size=4)


def encode(cursor_values: object) -> str:
    raw = json.dumps(cursor_values).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@settings(
    max_examples=FUZZ_EXAMPLES * 25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(forged=values, where=st.sampled_from(PAGED))
def test_a_forged_cursor_gets_a_page_or_a_422(
    forged: object,
    where: tuple[str, str],
    world: World,
    http: requests.Session,
    database_url: str,
) -> None:
    role, url = where
    cases_run[(engine_of(database_url), f"{role} (cursors)")] += 1
    response = http.get(
        f"{world.base_url}{url}",
        params={"cursor": encode(forged)},
        headers=world.headers_for(role),
        timeout=30,
    )
    assert response.status_code in (200, 422), (forged, url, response.text)
    if response.status_code == 422:
        assert response.json()["code"] in ("invalid_cursor", "validation_failed"), response.text
