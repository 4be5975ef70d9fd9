"""Many households given their first helper or liaison at once (`assign_many`)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select

from app.core.errors import AppError
from app.helpers import service
from app.helpers.models import Helper, HelperAssignment
from app.helpers.schemas import HelperAssign
from tests.factories import (
    DONGKOU_VILLAGE,
    OTHER_VILLAGE,
    admin_headers,
    make_admin,
    make_household,
    phone_number,
)

TOWNSHIP = DONGKOU_VILLAGE[:9]


def person(role: str, name: str, region_code: str | None = None) -> HelperAssign:
    return HelperAssign.model_validate(
        {"role": role, "name": name, "phone": phone_number(), "region_code": region_code}
    )


async def key_household(client: AsyncClient, headers: dict[str, str], village: str) -> int:
    household = await make_household(client, headers, village, key_household=True)
    return int(str(household["id"]))


async def rows(app: FastAPI) -> tuple[int, int]:
    async with app.state.database.sessionmaker() as session:
        helpers = await session.scalar(select(func.count()).select_from(Helper))
        assignments = await session.scalar(select(func.count()).select_from(HelperAssignment))
    return int(helpers or 0), int(assignments or 0)


async def test_many_households_get_new_people_and_a_shared_liaison_as_assign_would_give(
    app: FastAPI, client: AsyncClient
) -> None:
    village = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    first = await key_household(client, village, DONGKOU_VILLAGE)
    second = await key_household(client, village, DONGKOU_VILLAGE)
    admin = await make_admin(app, "township", TOWNSHIP)
    async with app.state.database.sessionmaker.begin() as session:
        helper, liaison, other = await service.assign_many(
            session, app.state.vault, admin,
            [(first, person("helper", "钱互助")),
             (first, person("liaison", "周联络", TOWNSHIP)),
             (second, person("helper", "孙帮扶"))],
        )  # fmt: skip
        shared = await service.assign_many(
            session, app.state.vault, admin,
            [(second, HelperAssign(role="liaison", helper_id=liaison))],
        )  # fmt: skip
    assert helper < liaison < other
    assert shared == [liaison]
    async with app.state.database.sessionmaker.begin() as session:
        seen = await service.household_helpers(session, app.state.vault, admin, second)
    assert seen.helper is not None
    assert seen.helper.helper.name == "孙帮扶"
    assert seen.liaison is not None
    assert (seen.liaison.helper.id, seen.liaison.helper.name) == (liaison, "周联络")


@pytest.mark.parametrize("code", ["concurrent_update", "household_not_found", "helper_not_found"])
async def test_many_assigned_at_once_write_nothing_if_one_breaks_a_rule(
    app: FastAPI, client: AsyncClient, code: str
) -> None:
    ours = await admin_headers(app, client, "village", DONGKOU_VILLAGE)
    theirs = await admin_headers(app, client, "village", OTHER_VILLAGE)
    household = await key_household(client, ours, DONGKOU_VILLAGE)
    neighbour = await key_household(client, ours, DONGKOU_VILLAGE)
    elsewhere = await key_household(client, theirs, OTHER_VILLAGE)
    admin = await make_admin(app, "village", DONGKOU_VILLAGE)
    async with app.state.database.sessionmaker.begin() as session:
        await service.assign_many(
            session, app.state.vault, admin, [(household, person("helper", "钱互助"))]
        )
    breaking = {
        "concurrent_update": (household, person("helper", "孙帮扶")),  # the role is held
        "household_not_found": (elsewhere, person("helper", "孙帮扶")),  # outside the scope
        "helper_not_found": (neighbour, HelperAssign(role="helper", helper_id=10**9)),
    }[code]
    before = await rows(app)
    with pytest.raises(AppError) as refused:
        async with app.state.database.sessionmaker.begin() as session:
            await service.assign_many(
                session, app.state.vault, admin,
                [(household, person("liaison", "周联络")), breaking],
            )  # fmt: skip
    assert refused.value.code == code
    assert await rows(app) == before
