"""Key households given helpers through the API at moments of the simulated clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

from httpx import AsyncClient

from app.core.db import clock_at
from tests.factories import DONGKOU_VILLAGE, make_household, phone_number

CST = dt.timezone(dt.timedelta(hours=8))
YEAR = 2026


def at(month: int, day: int) -> dt.datetime:
    """Noon (CST) of a day of the year the tests play in."""
    return dt.datetime(YEAR, month, day, 12, tzinfo=CST)


def helpers_path(household: dict[str, Any]) -> str:
    return f"/api/v1/households/{household['id']}/helpers"


async def assign(
    client: AsyncClient, headers: dict[str, str], household: dict[str, Any], role: str, name: str
) -> dict[str, Any]:
    body = {"role": role, "name": name, "phone": phone_number()}
    response = await client.post(helpers_path(household), json=body, headers=headers)
    assert response.status_code == 200, response.text
    assigned: dict[str, Any] = response.json()[role]
    return assigned


async def covered(
    client: AsyncClient,
    village: dict[str, str],
    registered: dt.datetime,
    assigned: dt.datetime,
    village_code: str = DONGKOU_VILLAGE,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A key household of ``village_code`` registered at ``registered``, given a helper and a
    liaison at ``assigned``; the household and its helper's assignment."""
    with clock_at(registered):
        household = await make_household(client, village, village_code, key_household=True)
    with clock_at(assigned):
        helper = await assign(client, village, household, "helper", "钱互助")
        await assign(client, village, household, "liaison", "周联络")
    return household, helper


async def act(
    client: AsyncClient, headers: dict[str, str], household: dict[str, Any], month: int, day: int
) -> None:
    """A help act to the household, dated the day of the year the tests play in."""
    body = {"acted_on": dt.date(YEAR, month, day).isoformat(), "kind": "visit", "note": "走访"}
    path = f"/api/v1/households/{household['id']}/help-acts"
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
