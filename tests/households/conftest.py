"""Signed-in admins and small helpers shared by the household tests."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select

from app.households.models import HouseholdAccess
from tests.factories import DONGKOU_VILLAGE, admin_headers, id_number

Headers = dict[str, str]


@pytest.fixture
async def admin(app: FastAPI, client: AsyncClient) -> Headers:
    """The admin of village 430525101201 (江口村)."""
    return await admin_headers(app, client, "village", DONGKOU_VILLAGE)


def id_number_ending_in_x() -> str:
    """A valid ID number whose check character is X."""
    return next(n for n in map(id_number, range(1, 100)) if n.endswith("X"))


async def access_log(app: FastAPI) -> list[Any]:
    """Every access-log row, oldest first, read straight from the database."""
    async with app.state.database.sessionmaker() as session:
        result = await session.execute(
            select(
                HouseholdAccess.household_id,
                HouseholdAccess.actor_id,
                HouseholdAccess.action,
                HouseholdAccess.request_id,
            ).order_by(HouseholdAccess.id)
        )
        return list(result.all())


def id_of(household: dict[str, object]) -> int:
    """The id of a household as the API returned it."""
    household_id = household["id"]
    assert isinstance(household_id, int)
    return household_id
