"""Registering many households at once, for the register's import.

The rows written are exactly those of :func:`app.households.service.create_household` (personal
fields encrypted, the masked name, the ID number's blind index, version 1) and each is written to
the access log as ``create`` under the request's id, as one registration is; but a chunk takes two
statements instead of several per household. The caller has checked each row (the API's schema,
a village in the admin's scope, an ID number not registered yet) and runs the chunk in a
savepoint: the unique index on the blind index refuses a number registered meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.crypto import Vault
from app.core.db import utcnow
from app.core.idcard import mask_name
from app.core.logging import current_request_id
from app.households.models import Household, HouseholdAccess
from app.households.schemas import HouseholdCreate


async def register_checked(
    session: AsyncSession, vault: Vault, admin: User, rows: Sequence[HouseholdCreate]
) -> list[int]:
    """Insert the checked households and their access-log rows; their ids."""
    if not rows:
        return []
    now = utcnow()
    values = [
        {
            "village_code": data.village_code,
            "county_code": data.village_code[:6],
            "head_name_encrypted": vault.encrypt(data.head_name),
            "head_name_masked": mask_name(data.head_name),
            "id_number_encrypted": vault.encrypt(data.id_number),
            "id_number_index": vault.blind_index(data.id_number),
            "phone_encrypted": vault.encrypt(data.phone),
            "size": data.size,
            "support_category": data.support_category,
            "key_household": data.key_household,
            "main_helper": data.main_helper,
            "liaison": data.liaison,
            "version": 1,
            "created_by_id": admin.id,
            "created_at": now,
            "updated_at": now,
        }
        for data in rows
    ]
    ids = list(await session.scalars(insert(Household).returning(Household.id), values))
    request_id = current_request_id()
    await session.execute(
        insert(HouseholdAccess),
        [
            {"household_id": household_id, "actor_id": admin.id, "action": "create",
             "request_id": request_id, "at": now}
            for household_id in ids
        ],
    )  # fmt: skip
    return ids
