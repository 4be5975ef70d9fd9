"""Posting a need for a household, and editing it while nobody holds it."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.accounts.policy import admin_scope
from app.core import statements
from app.core.db import utcnow
from app.core.errors import Conflict, InvalidTransition, PreconditionFailed, Unprocessable
from app.core.settings import Settings
from app.households import service as households_service
from app.needs.browse import get_visible
from app.needs.lifecycle import need_event
from app.needs.models import Need
from app.needs.schemas import NeedCreate, NeedUpdate
from app.needs.states import TABLE

EDITABLE = ("published", "pending_review")


def _check_value(settings: Settings, category: str, value_fen: int | None) -> None:
    cap = settings.need_value_caps_fen.get(category)
    if cap is not None and value_fen is not None and value_fen > cap:
        raise Conflict(
            f"A {category} need is worth at most {cap} fen; this one is {value_fen}",
            code="value_over_cap",
            cap_fen=cap,
        )


# A need is posted with one statement, built once for each engine: the database's unique index
# of open needs (one of a category per household) turns a second one into no row, not an error.
_INSERT = {
    name: insert(Need).on_conflict_do_nothing().returning(Need.id)
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


async def create_need(
    session: AsyncSession, admin: User, data: NeedCreate, settings: Settings
) -> Need:
    """Post a need for a household in the admin's scope."""
    household = await households_service.place_in_scope(
        session, admin_scope(admin), data.household_id
    )
    _check_value(settings, data.category, data.value_fen)
    if data.deadline <= utcnow().date():
        raise Unprocessable("The deadline must be a future date", code="deadline_in_past")
    now = utcnow()
    status = "published" if data.origin == "admin" else "pending_review"
    values = {
        "household_id": household.id,
        "village_code": household.village_code,
        "county_code": household.county_code,
        "category": data.category,
        "title": data.title,
        "description": data.description,
        "value_fen": data.value_fen,
        "urgency": data.urgency,
        "deadline": data.deadline,
        "origin": data.origin,
        "status": status,
        "version": 1,
        "funding_source": None,
        "created_by_id": admin.id,
        "created_at": now,
        "updated_at": now,
        "published_at": now if status == "published" else None,
        "fulfilled_at": None,
        "closed_reason": None,
    }
    dialect = session.get_bind().dialect.name
    new_id = (await statements.run(session, _INSERT[dialect], values)).scalar()
    if new_id is None:
        raise Conflict(
            f"Household {household.id} already has an open {data.category} need",
            code="open_need_exists",
        )
    # The row as written, held by the session like one it loaded.
    need = statements.hold(session, Need, {"id": new_id, **values})
    await need_event(session, need, "post", None, actor_id=admin.id)
    return need


async def update_need(
    session: AsyncSession,
    admin: User,
    need_id: int,
    expected_version: int,
    data: NeedUpdate,
    settings: Settings,
) -> Need:
    """Edit a published (or pending) need, guarded by its version (If-Match)."""
    need = await get_visible(session, admin, need_id)
    if need.status not in EDITABLE:
        raise InvalidTransition(
            f"A {need.status} need cannot be edited", allowed=TABLE.allowed(need.status)
        )
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    _check_value(settings, need.category, changes.get("value_fen"))
    if "deadline" in changes and changes["deadline"] <= utcnow().date():
        raise Unprocessable("The deadline must be a future date", code="deadline_in_past")
    result = await session.execute(
        update(Need)
        .where(Need.id == need.id, Need.version == expected_version, Need.status.in_(EDITABLE))
        .values(**changes, version=Need.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise PreconditionFailed(
            f"The need has changed (now version {need.version}); reload it and retry",
            code="version_mismatch",
            current_version=need.version,
        )
    await session.refresh(need)
    reason = ", ".join(sorted(changes)) or None
    await need_event(session, need, "edit", need.status, actor_id=admin.id, reason=reason)
    return need
