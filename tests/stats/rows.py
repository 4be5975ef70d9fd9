"""Direct inserts of realistic rows, to place needs and pairings in past months.

The API stamps the present moment on everything it writes, and statistics are about needs
published months ago. These helpers write the rows a real life would have left behind (the
household, the need with its timestamps, each pairing with its own), the way the benchmark's
``seed`` does, in one transaction of the application's own database.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.households.models import Household
from app.needs.models import Need
from app.pairings.models import Pairing
from tests.factories import unique

Headers = dict[str, str]


def utc(*fields: int) -> dt.datetime:
    """An aware UTC datetime: ``utc(2026, 3, 31, 20)``."""
    return dt.datetime(*fields, tzinfo=dt.UTC)  # type: ignore[misc]


class Rows:
    """Writes households, needs, donors and pairings as they would stand after their lives."""

    def __init__(self, session: AsyncSession, admin_id: int) -> None:
        self.session = session
        self.admin_id = admin_id

    async def _insert(self, model: type[Any], values: dict[str, Any]) -> int:
        row_id: int = (
            await self.session.execute(insert(model).returning(model.id), values)
        ).scalar_one()
        return row_id

    async def need(
        self,
        village: str,
        published: dt.datetime | None,
        *,
        category: str = "goods",
        status: str = "published",
        fulfilled: dt.datetime | None = None,
    ) -> int:
        """A need of a household of its own; ``published`` None for one never published."""
        created = published or utc(2026, 1, 1)
        household = await self._insert(
            Household,
            {
                "village_code": village, "county_code": village[:6],
                "head_name_encrypted": b"x", "head_name_masked": "刘**",
                "id_number_encrypted": b"x", "id_number_index": uuid.uuid4().hex * 2,
                "phone_encrypted": b"x", "size": 3, "support_category": "poor",
                "key_household": False, "version": 1, "created_by_id": self.admin_id,
                "created_at": created, "updated_at": created,
            },
        )  # fmt: skip
        return await self._insert(
            Need,
            {
                "household_id": household, "village_code": village, "county_code": village[:6],
                "category": category, "title": "冬季棉被两床", "description": "老人怕冷",
                "value_fen": 30_000, "urgency": 2, "deadline": (created + dt.timedelta(60)).date(),
                "origin": "admin", "status": status, "version": 1,
                "created_by_id": self.admin_id, "created_at": created,
                "updated_at": fulfilled or created, "published_at": published,
                "fulfilled_at": fulfilled,
            },
        )  # fmt: skip

    async def donor(
        self, name: str = "爱心人士", *, kind: str = "individual", honour_roll: bool = False
    ) -> int:
        return await self._insert(
            User,
            {
                "username": unique("donor"), "password_hash": "x", "display_name": name,
                "role": "donor", "donor_kind": kind, "is_active": True,
                "honour_roll": honour_roll, "created_at": utc(2025, 1, 1),
            },
        )  # fmt: skip

    async def pairing(
        self,
        need_id: int,
        donor_id: int,
        *,
        village: str,
        status: str,
        source: str = "claim",
        created: dt.datetime,
        active: dt.datetime | None = None,
        ended: dt.datetime | None = None,
        predicted: float = 0.685,
    ) -> int:
        """A pairing; ``active`` is when the donor began to hold the need (None: never)."""
        return await self._insert(
            Pairing,
            {
                "need_id": need_id, "donor_id": donor_id, "source": source, "status": status,
                "predicted_success": predicted, "village_code": village,
                "county_code": village[:6], "created_at": created, "active_at": active,
                "ended_at": ended,
            },
        )  # fmt: skip


@asynccontextmanager
async def rows(app: FastAPI) -> AsyncIterator[Rows]:
    """A :class:`Rows` writing in one transaction, committed on leaving."""
    async with app.state.database.sessionmaker.begin() as session:
        admin = await session.scalar(
            insert(User)
            .values(
                username=unique("seed"), password_hash="x", display_name="洞口县", role="county",
                scope_code="430525", is_active=True, created_at=utc(2025, 1, 1),
            )
            .returning(User.id)
        )  # fmt: skip
        assert admin is not None
        yield Rows(session, admin)


async def get_json(client: AsyncClient, url: str, headers: Headers) -> dict[str, Any]:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
