"""A hot read's answer written without FastAPI's second validation (``validated_json``) is byte
for byte what FastAPI writes for the same model, and refuses a model wider than the route's."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import pytest
from fastapi import FastAPI, Response
from httpx import ASGITransport, AsyncClient
from pydantic import BaseModel, Field

from app.core.responses import validated_json


class Brief(BaseModel):
    masked_name: str
    size: int


class Public(BaseModel):
    view: Literal["public"] = "public"
    id: int
    title: str = Field(serialization_alias="headline")
    at: dt.datetime
    household: Brief
    amount: float | None


class Full(Public):
    view: Literal["admin"] = "admin"  # type: ignore[assignment]
    household_id: int


AnyRead = Annotated[Full | Public, Field(discriminator="view")]


class Page(BaseModel):
    items: list[AnyRead]
    next_cursor: str | None


def _public(index: int) -> Public:
    return Public(
        id=index,
        title='冬衣 \u2028 "quoted" <b>',
        at=dt.datetime(2026, 12, 3, 8, 30, 15, 250, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        household=Brief(masked_name="刘*华", size=3),
        amount=None if index % 2 else 12.5,
    )


def _full(index: int) -> Full:
    return Full(**_public(index).model_dump(exclude={"view"}), household_id=99)


PAGE = Page(items=[_public(1), _full(2), _public(3)], next_cursor="eyJhIjoxfQ==")


@pytest.fixture
async def http() -> AsyncClient:
    app = FastAPI()

    @app.get("/fastapi", response_model=Page)
    async def by_fastapi() -> Page:
        return PAGE

    @app.get("/validated", response_model=Page)
    async def by_us() -> Response:
        return validated_json(Page, PAGE)

    @app.get("/one/fastapi", response_model=AnyRead)
    async def one_by_fastapi() -> Full | Public:
        return _full(7)

    @app.get("/one/validated", response_model=AnyRead)
    async def one_by_us() -> Response:
        return validated_json((Full, Public), _full(7), headers={"ETag": '"3"'})

    return AsyncClient(transport=ASGITransport(app=app), base_url="http://test")


async def test_the_bytes_are_fastapis(http: AsyncClient) -> None:
    for path in ("", "/one"):
        theirs = await http.get(f"{path}/fastapi")
        ours = await http.get(f"{path}/validated")
        assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content)
        assert ours.headers["content-type"] == theirs.headers["content-type"]
        assert ours.headers["content-length"] == theirs.headers["content-length"]
    assert (await http.get("/one/validated")).headers["etag"] == '"3"'
    assert b'"headline"' in ours.content  # by alias, as FastAPI writes it


def test_a_model_wider_than_the_route_declares_is_refused() -> None:
    # A full record where the route declares the public one: FastAPI would have narrowed it.
    with pytest.raises(TypeError, match="Full is not the route's response model"):
        validated_json(Public, _full(1))
    with pytest.raises(TypeError):
        validated_json(Page, _public(1))
    assert validated_json((Full, Public), _public(1)).status_code == 200
