"""Donors registered many at once (`register_donors`): the rule of a single registration."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select

from app.accounts import service
from app.accounts.models import User
from app.accounts.schemas import Register
from app.core.errors import AppError
from tests.factories import PASSWORD, register_donor, sign_in, unique


def registration(username: str, kind: str = "individual") -> Register:
    return Register(username=username, password=PASSWORD, display_name="爱心人士", kind=kind)


async def donors(app: FastAPI) -> int:
    async with app.state.database.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).where(User.role == "donor")) or 0)


async def test_many_registered_at_once_can_sign_in_in_the_order_given(
    app: FastAPI,
    client: AsyncClient,  # empties the tables afterwards
) -> None:
    names = [unique("donor"), unique("donor"), unique("donor")]
    async with app.state.database.sessionmaker.begin() as session:
        users = await service.register_donors(
            session, app.state.passwords,
            [registration(names[0]), registration(names[1], "enterprise"), registration(names[2])],
        )  # fmt: skip
    assert [user.username for user in users] == names
    assert [user.id for user in users] == sorted(user.id for user in users)
    assert [(user.role, user.donor_kind) for user in users] == [
        ("donor", "individual"), ("donor", "enterprise"), ("donor", "individual"),
    ]  # fmt: skip
    me = await client.get("/api/v1/me", headers=await sign_in(client, names[1]))
    assert me.status_code == 200
    assert me.json()["id"] == users[1].id


@pytest.mark.parametrize("taken", ["registered", "repeated"])
async def test_many_registered_at_once_write_nothing_if_a_name_is_taken(
    app: FastAPI,
    client: AsyncClient,  # empties the tables afterwards
    taken: str,
) -> None:
    name = unique("donor")
    if taken == "registered":
        await register_donor(client, username=name)
        lot = [registration(unique("donor")), registration(name)]
    else:
        lot = [registration(name), registration(unique("donor")), registration(name)]
    before = await donors(app)
    with pytest.raises(AppError) as raised:
        async with app.state.database.sessionmaker.begin() as session:
            await service.register_donors(session, app.state.passwords, lot)
    assert raised.value.code == "username_taken"
    assert await donors(app) == before
