"""The public region endpoints."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.core.errors import PROBLEM_MEDIA_TYPE as PROBLEM

DONGKOU = "430525"


async def test_dongkou_lists_its_24_township_units(client: AsyncClient) -> None:
    response = await client.get("/api/v1/regions", params={"parent": DONGKOU})
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 24
    assert {item["level"] for item in items} == {"township"}
    assert all(item["code"].startswith(DONGKOU) and item["name"] for item in items)
    assert {"文昌街道", "高沙镇"} <= {item["name"] for item in items}


async def test_village_resolves_to_its_ancestors(client: AsyncClient) -> None:
    response = await client.get("/api/v1/regions/430525101201")
    assert response.status_code == 200
    body = response.json()
    assert body["level"] == "village"
    assert body["parent_code"] == "430525101"
    assert [(a["code"], a["name"], a["level"]) for a in body["ancestors"]] == [
        ("43", "湖南省", "province"),
        ("4305", "邵阳市", "city"),
        ("430525", "洞口县", "county"),
        ("430525101", "江口镇", "township"),
    ]


async def test_without_a_parent_the_31_provinces_are_listed(client: AsyncClient) -> None:
    response = await client.get("/api/v1/regions")
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 31
    assert {(item["level"], item["parent_code"]) for item in items} == {("province", None)}
    assert {"11", "43", "65"} <= {item["code"] for item in items}
    assert [item["code"] for item in items] == sorted(item["code"] for item in items)


@pytest.mark.parametrize("code", ["99", "4399", "430599", "430525999", "430525101999"])
async def test_an_unknown_code_of_valid_shape_is_404(client: AsyncClient, code: str) -> None:
    response = await client.get(f"/api/v1/regions/{code}", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert (body["status"], body["code"]) == (404, "region_not_found")
    assert code in body["detail"]


@pytest.mark.parametrize("code", ["abc", "123", "4", "43052", "4305251", "4305251012011"])
async def test_a_malformed_code_is_422(client: AsyncClient, code: str) -> None:
    response = await client.get(f"/api/v1/regions/{code}")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["errors"][0]["loc"] == ["path", "code"]


async def test_listing_below_an_unknown_parent_is_404(client: AsyncClient) -> None:
    response = await client.get("/api/v1/regions", params={"parent": "430599"})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "region_not_found"


async def test_listing_below_a_malformed_parent_is_422(client: AsyncClient) -> None:
    response = await client.get("/api/v1/regions", params={"parent": "43a"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "parent"]


async def test_a_village_has_no_children(client: AsyncClient) -> None:
    response = await client.get("/api/v1/regions", params={"parent": "430525101201"})
    assert response.status_code == 200
    assert response.json()["items"] == []


@pytest.mark.parametrize(
    "path", ["/api/v1/regions", f"/api/v1/regions?parent={DONGKOU}", f"/api/v1/regions/{DONGKOU}"]
)
async def test_region_responses_may_be_cached(client: AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=3600"


async def test_a_region_error_is_not_cached(client: AsyncClient) -> None:
    response = await client.get("/api/v1/regions/99")
    assert response.status_code == 404
    assert "cache-control" not in response.headers


@pytest.mark.parametrize("path", ["/api/v1/regions", f"/api/v1/regions/{DONGKOU}"])
async def test_regions_need_no_token(client: AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert "authorization" not in response.request.headers
    assert response.status_code == 200


async def test_regions_ignore_a_bad_token(client: AsyncClient) -> None:
    response = await client.get(
        f"/api/v1/regions/{DONGKOU}", headers={"Authorization": "Bearer not-a-token"}
    )
    assert response.status_code == 200
    assert response.json()["name"] == "洞口县"


def test_regions_are_documented_without_security(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    operations = [paths["/api/v1/regions"]["get"], paths["/api/v1/regions/{code}"]["get"]]
    assert all("security" not in operation for operation in operations)
