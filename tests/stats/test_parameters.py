"""Who may read the success figures, of which scope, and what a bad question gets."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from tests.factories import admin_headers, assert_problem, donor_headers

SUCCESS = "/api/v1/stats/success"


async def test_a_township_admin_reads_its_own_township_only(
    app: FastAPI, client: AsyncClient
) -> None:
    township = await admin_headers(app, client, "township", "430525101")
    mine = await client.get(SUCCESS, headers=township)
    assert mine.status_code == 200, mine.text
    assert [g["key"] for g in mine.json()["groups"]] == ["430525101"]
    for scope in ("430525102", "430525", "430525102201", ""):
        response = await client.get(f"{SUCCESS}?scope={scope}", headers=township)
        assert_problem(response, 404, "region_not_found")


async def test_donors_and_strangers_are_refused(client: AsyncClient) -> None:
    assert_problem(
        await client.get(SUCCESS, headers=await donor_headers(client)), 403, "admin_only"
    )
    assert_problem(await client.get(SUCCESS), 401, "not_authenticated")


async def test_an_unknown_region_is_not_found(app: FastAPI, client: AsyncClient) -> None:
    platform = await admin_headers(app, client, "platform", "")
    response = await client.get(f"{SUCCESS}?scope=430525999", headers=platform)
    assert_problem(response, 404, "region_not_found")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("group_by=foo", "validation_failed"),
        ("period=week", "validation_failed"),
        ("from=2026-13-01", "validation_failed"),
        ("scope=4305251", "validation_failed"),
        ("from=2026-05-01&to=2026-01-01", "invalid_range"),
        ("from=2026-01-01&to=2026-01-01", "invalid_range"),
        ("from=2020-01-01&to=2025-01-02", "range_too_long"),
        ("from=1999-01-01&to=2000-01-01", "validation_failed"),  # the input gate: 2000 to 2100
        ("to=9999-12-31", "validation_failed"),
    ],
)
async def test_bad_parameters_are_422(
    app: FastAPI, client: AsyncClient, query: str, code: str
) -> None:
    county = await admin_headers(app, client, "county", "430525")
    assert_problem(await client.get(f"{SUCCESS}?{query}", headers=county), 422, code)


async def test_five_years_is_the_longest_range(app: FastAPI, client: AsyncClient) -> None:
    county = await admin_headers(app, client, "county", "430525")
    response = await client.get(f"{SUCCESS}?from=2020-01-01&to=2025-01-01", headers=county)
    assert response.status_code == 200, response.text
    assert len(response.json()["groups"][0]["periods"]) == 60


async def test_an_answer_too_large_to_send_is_refused(app: FastAPI, client: AsyncClient) -> None:
    platform = await admin_headers(app, client, "platform", "")
    # Every township of China, twelve months each.
    response = await client.get(SUCCESS, headers=platform)
    assert_problem(response, 422, "result_too_large")
    national = await client.get(f"{SUCCESS}?group_by=category", headers=platform)
    assert national.status_code == 200, national.text
    assert national.json()["scope"] == ""
