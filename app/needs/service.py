"""The need's life: posting, review, browsing, claims, delivery, confirmation, lapsing.

Every change of state goes through :func:`_move`, a conditional update on (id, status, version)
in the request's transaction, so that of any number of concurrent callers exactly one wins and
the rest get 409; the allowed moves are the table in :mod:`app.needs.states`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Row, Select, func, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.db import utcnow
from app.core.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from app.core.pagination import cursor_int, cursor_moment, decode_cursor, encode_cursor
from app.core.scope import Scope
from app.core.settings import Settings
from app.events import service as events
from app.households import service as households_service
from app.households.models import Household
from app.needs.models import Need
from app.needs.schemas import NeedCreate, NeedUpdate, Sort
from app.needs.states import REVIEWER_ROLES, TRANSITIONS, Transition, allowed_actions
from app.pairings.models import HOLDING_STATUSES, Pairing
from app.pairings.prediction import predict
from app.regions.models import Region


@dataclass(frozen=True, slots=True)
class NeedView:
    """A need with what its readers see of its village and household."""

    need: Need
    village_name: str
    masked_name: str
    size: int
    key_household: bool


@dataclass(frozen=True, slots=True)
class BrowseFilters:
    region: str | None = None
    category: str | None = None
    urgency: int | None = None
    key_household: bool | None = None
    q: str | None = None
    statuses: tuple[str, ...] = ("published",)


def _scope_of(user: User) -> Scope | None:
    return Scope(user.scope_code) if user.is_admin and user.scope_code is not None else None


def _visible_to(user: User) -> ColumnElement[bool]:
    """Admins see the needs of their scope; anyone else the needs that were ever published."""
    scope = _scope_of(user)
    return scope.where(Need.village_code) if scope else Need.published_at.is_not(None)


def _view_statement() -> Select[Need, str, str, int, bool]:
    return (
        select(
            Need,
            Region.name,
            Household.head_name_masked,
            Household.size,
            Household.key_household,
        )
        .join(Household, Household.id == Need.household_id)
        .join(Region, Region.code == Need.village_code)
    )


def _view(row: Row[Need, str, str, int, bool]) -> NeedView:
    need, village_name, masked_name, size, key_household = row
    return NeedView(need, village_name, masked_name, size, key_household)


async def get_view(session: AsyncSession, user: User, need_id: int) -> NeedView:
    """The need as ``user`` may see it; 404 when it is outside what the user may see."""
    row = (
        await session.execute(_view_statement().where(Need.id == need_id, _visible_to(user)))
    ).first()
    if row is None:
        raise NotFound(f"No need {need_id}", code="need_not_found")
    return _view(row)


async def _get_for_update(session: AsyncSession, user: User, need_id: int) -> Need:
    need = await session.scalar(select(Need).where(Need.id == need_id, _visible_to(user)))
    if need is None:
        raise NotFound(f"No need {need_id}", code="need_not_found")
    return need


# -- posting ---------------------------------------------------------------------------------


async def create_need(
    session: AsyncSession, admin: User, data: NeedCreate, settings: Settings
) -> Need:
    """Post a need for a household in the admin's scope."""
    scope = _scope_of(admin)
    assert scope is not None
    household = await households_service.get_in_scope(session, scope, data.household_id)
    cap = settings.need_value_caps_fen.get(data.category)
    if cap is not None and data.value_fen > cap:
        raise Conflict(
            f"A {data.category} need is worth at most {cap} fen; this one is {data.value_fen}",
            code="value_over_cap",
            cap_fen=cap,
        )
    if data.deadline <= utcnow().date():
        raise Unprocessable("The deadline must be a future date", code="deadline_in_past")
    now = utcnow()
    status = "published" if data.origin == "admin" else "pending_review"
    need = Need(
        household_id=household.id,
        village_code=household.village_code,
        county_code=household.county_code,
        category=data.category,
        title=data.title,
        description=data.description,
        value_fen=data.value_fen,
        urgency=data.urgency,
        deadline=data.deadline,
        origin=data.origin,
        status=status,
        version=1,
        created_by_id=admin.id,
        created_at=now,
        updated_at=now,
        published_at=now if status == "published" else None,
    )
    try:
        async with session.begin_nested():
            session.add(need)
    except IntegrityError as exc:
        raise Conflict(
            f"Household {household.id} already has an open {data.category} need",
            code="open_need_exists",
        ) from exc
    _need_event(session, need, "post", None, actor_id=admin.id)
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
    need = await _get_for_update(session, admin, need_id)
    if need.status not in ("published", "pending_review"):
        raise InvalidTransition(
            f"A {need.status} need cannot be edited", allowed=allowed_actions(need.status)
        )
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    cap = settings.need_value_caps_fen.get(need.category)
    if cap is not None and changes.get("value_fen", 0) > cap:
        raise Conflict(f"A {need.category} need is worth at most {cap} fen", code="value_over_cap")
    if "deadline" in changes and changes["deadline"] <= utcnow().date():
        raise Unprocessable("The deadline must be a future date", code="deadline_in_past")
    result = await session.execute(
        update(Need)
        .where(Need.id == need.id, Need.version == expected_version, Need.status == need.status)
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
    _need_event(session, need, "edit", need.status, actor_id=admin.id, reason=reason)
    return need


# -- browsing --------------------------------------------------------------------------------

_SORT_KEYS = {
    "newest": ((Need.created_at, Need.id), True),
    "urgent": ((Need.urgency, Need.created_at, Need.id), True),
    "deadline": ((Need.deadline, Need.id), False),
}


def _cursor_values(sort: Sort, need: Need) -> list[object]:
    values: dict[str, list[object]] = {
        "newest": [need.created_at.isoformat(), need.id],
        "urgent": [need.urgency, need.created_at.isoformat(), need.id],
        "deadline": [need.deadline.isoformat(), need.id],
    }
    return values[sort]


def _parse_cursor(sort: Sort, cursor: str) -> list[object]:
    values = decode_cursor(cursor, length=len(_SORT_KEYS[sort][0]))
    if sort == "newest":
        return [cursor_moment(values[0]), cursor_int(values[1])]
    if sort == "urgent":
        return [cursor_int(values[0]), cursor_moment(values[1]), cursor_int(values[2])]
    try:
        return [dt.date.fromisoformat(str(values[0])), cursor_int(values[1])]
    except ValueError as exc:
        raise Unprocessable("The cursor is not one this API made", code="invalid_cursor") from exc


def _filters(user: User, filters: BrowseFilters) -> list[ColumnElement[bool]]:
    conditions = [Need.status.in_(filters.statuses), _visible_to(user)]
    if filters.region:
        conditions.append(Scope(filters.region).where(Need.village_code))
    if filters.category:
        conditions.append(Need.category == filters.category)
    if filters.urgency:
        conditions.append(Need.urgency == filters.urgency)
    if filters.key_household is not None:
        conditions.append(Household.key_household.is_(filters.key_household))
    if filters.q:
        conditions.append(
            or_(
                Need.title.icontains(filters.q, autoescape=True),
                Need.description.icontains(filters.q, autoescape=True),
            )
        )
    return conditions


async def browse(
    session: AsyncSession,
    user: User,
    filters: BrowseFilters,
    *,
    sort: Sort,
    limit: int,
    cursor: str | None,
) -> tuple[list[NeedView], str | None]:
    """One page of needs in a stable keyset order; the cursor of the next page, if any."""
    if not user.is_admin and filters.statuses != ("published",):
        raise Forbidden("Only admins may browse needs that are not published", code="admin_only")
    columns, descending = _SORT_KEYS[sort]
    statement = _view_statement().where(*_filters(user, filters))
    if cursor:
        after = _parse_cursor(sort, cursor)
        key = tuple_(*columns)
        statement = statement.where(key < tuple(after) if descending else key > tuple(after))
    order = [column.desc() if descending else column.asc() for column in columns]
    rows = (await session.execute(statement.order_by(*order).limit(limit + 1))).all()
    views = [_view(row) for row in rows[:limit]]
    next_cursor = encode_cursor(_cursor_values(sort, views[-1].need)) if len(rows) > limit else None
    return views, next_cursor


# -- the state machine -----------------------------------------------------------------------


async def move_need(
    session: AsyncSession,
    need: Need,
    action: str,
    *,
    actor_id: int | None,
    reason: str | None = None,
    **values: object,
) -> str:
    """Apply ``action`` to ``need`` if its state allows it and nobody moved it first."""
    transition = check_state(need, action)
    before = need.status
    result = await session.execute(
        update(Need)
        .where(Need.id == need.id, Need.status == before, Need.version == need.version)
        .values(status=transition.to, version=need.version + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "The need was changed by someone else while you were acting; reload it",
            code="need_changed" if action != "claim" else "already_claimed",
        )
    await session.refresh(need)
    _need_event(session, need, action, before, actor_id=actor_id, reason=reason)
    return before


def _need_event(
    session: AsyncSession,
    need: Need,
    action: str,
    before: str | None,
    *,
    actor_id: int | None,
    reason: str | None = None,
) -> None:
    events.record(
        session, entity="need", entity_id=need.id, need_id=need.id, action=action,
        from_status=before, to_status=need.status, actor_id=actor_id,
        county_code=need.county_code, reason=reason,
    )  # fmt: skip


def pairing_event(
    session: AsyncSession,
    pairing: Pairing,
    action: str,
    before: str | None,
    *,
    actor_id: int | None,
    reason: str | None = None,
) -> None:
    events.record(
        session, entity="pairing", entity_id=pairing.id, need_id=pairing.need_id,
        action=action, from_status=before, to_status=pairing.status, actor_id=actor_id,
        county_code=pairing.county_code, reason=reason,
    )  # fmt: skip


async def supersede_proposals(
    session: AsyncSession, need_id: int, *, actor_id: int | None, reason: str
) -> None:
    """End the open proposals of a need that was settled another way (claimed, cancelled…)."""
    proposals = await session.scalars(
        select(Pairing).where(Pairing.need_id == need_id, Pairing.status == "proposed")
    )
    for proposal in proposals.all():
        await end_pairing(session, proposal, "superseded", actor_id=actor_id, reason=reason)


async def has_pairing(session: AsyncSession, donor_id: int, need_id: int) -> bool:
    """Whether the donor has, or had, a pairing with the need."""
    found = await session.scalar(
        select(Pairing.id).where(Pairing.need_id == need_id, Pairing.donor_id == donor_id).limit(1)
    )
    return found is not None


async def holding_pairing(session: AsyncSession, need_id: int) -> Pairing | None:
    return await session.scalar(
        select(Pairing).where(Pairing.need_id == need_id, Pairing.status.in_(HOLDING_STATUSES))
    )


async def end_pairing(
    session: AsyncSession,
    pairing: Pairing,
    to: str,
    *,
    actor_id: int | None,
    reason: str | None = None,
    **values: object,
) -> None:
    before = pairing.status
    pairing.status = to
    for name, value in values.items():
        setattr(pairing, name, value)
    if to not in HOLDING_STATUSES and to != "proposed":
        pairing.ended_at = utcnow()
    pairing_event(session, pairing, to, before, actor_id=actor_id, reason=reason)


def _require_admin(user: User) -> None:
    if not user.is_admin:
        raise Forbidden("Only an admin in the need's scope may do this", code="admin_only")


async def _require_claimer(session: AsyncSession, user: User, need: Need) -> Pairing:
    pairing = await holding_pairing(session, need.id)
    if pairing is None or pairing.donor_id != user.id:
        raise Forbidden("Only the donor holding this need may do this", code="not_claimer")
    return pairing


def check_state(need: Need, action: str) -> Transition:
    """The transition of ``action`` from the need's state, or 409 naming the allowed actions."""
    transition = TRANSITIONS.get((need.status, action))
    if transition is None:
        allowed = allowed_actions(need.status)
        raise InvalidTransition(
            f"A {need.status} need cannot take '{action}'; allowed: {', '.join(allowed) or 'none'}",
            allowed=allowed,
            state=need.status,
        )
    return transition


async def review(
    session: AsyncSession, admin: User, need_id: int, decision: str, reason: str | None
) -> Need:
    """Approve (publish) or reject a need that waits for review (township admins and wider)."""
    need = await _get_for_update(session, admin, need_id)
    if check_state(need, decision).by == "reviewer" and admin.role not in REVIEWER_ROLES:
        raise Forbidden(
            "Only a township, county or platform admin reviews a need", code="not_allowed"
        )
    extra: dict[str, object] = (
        {"published_at": utcnow()} if decision == "approve" else {"closed_reason": reason}
    )
    await move_need(session, need, decision, actor_id=admin.id, reason=reason, **extra)
    return need


async def claim(
    session: AsyncSession, donor: User, need_id: int, settings: Settings
) -> tuple[Need, Pairing]:
    """First come, first served: exactly one donor wins a published need."""
    need = await _get_for_update(session, donor, need_id)
    check_state(need, "claim")
    if donor.role != "donor":
        raise Forbidden("Only a donor may claim a need", code="donor_only")
    await _check_open_claims(session, donor, settings.max_open_claims)
    probability = await predict(session, donor_id=donor.id, category=need.category)
    await move_need(session, need, "claim", actor_id=donor.id)
    await supersede_proposals(session, need.id, actor_id=donor.id, reason="claimed directly")
    now = utcnow()
    pairing = Pairing(
        need_id=need.id,
        donor_id=donor.id,
        source="claim",
        status="active",
        predicted_success=probability,
        village_code=need.village_code,
        county_code=need.county_code,
        created_at=now,
        active_at=now,
        expires_at=now + dt.timedelta(days=settings.claim_hold_days),
    )
    session.add(pairing)
    await session.flush()
    pairing_event(session, pairing, "claim", None, actor_id=donor.id)
    return need, pairing


async def _check_open_claims(session: AsyncSession, donor: User, limit: int) -> None:
    # Lock the donor's row (PostgreSQL; SQLite's write transaction is already exclusive) so that
    # two concurrent claims by one donor cannot both pass the count.
    await session.execute(select(User.id).where(User.id == donor.id).with_for_update())
    open_claims = await session.scalar(
        select(func.count())
        .select_from(Pairing)
        .where(
            Pairing.donor_id == donor.id,
            Pairing.source == "claim",
            Pairing.status.in_(HOLDING_STATUSES),
        )
    )
    if (open_claims or 0) >= limit:
        raise Conflict(
            f"You hold {open_claims} open claims, the most allowed; deliver or release one first",
            code="too_many_open_claims",
            limit=limit,
        )


async def release(
    session: AsyncSession, donor: User, need_id: int, reason: str | None
) -> tuple[Need, Pairing]:
    need = await _get_for_update(session, donor, need_id)
    check_state(need, "release")
    pairing = await _require_claimer(session, donor, need)
    await move_need(session, need, "release", actor_id=donor.id, reason=reason)
    await end_pairing(session, pairing, "released", actor_id=donor.id, reason=reason)
    return need, pairing


async def deliver(
    session: AsyncSession, donor: User, need_id: int, note: str | None
) -> tuple[Need, Pairing]:
    need = await _get_for_update(session, donor, need_id)
    check_state(need, "deliver")
    pairing = await _require_claimer(session, donor, need)
    await move_need(session, need, "deliver", actor_id=donor.id)
    await end_pairing(
        session,
        pairing,
        "delivered",
        actor_id=donor.id,
        delivered_at=utcnow(),
        delivery_note=note,
    )
    return need, pairing


async def confirm(
    session: AsyncSession, admin: User, need_id: int, thanks: str | None
) -> tuple[Need, Pairing]:
    need = await _get_for_update(session, admin, need_id)
    check_state(need, "confirm")
    _require_admin(admin)
    pairing = await holding_pairing(session, need.id)
    assert pairing is not None, "a delivered need is held by a pairing"
    await move_need(session, need, "confirm", actor_id=admin.id, fulfilled_at=utcnow())
    await end_pairing(session, pairing, "confirmed", actor_id=admin.id, thanks=thanks)
    return need, pairing


async def dispute(
    session: AsyncSession, admin: User, need_id: int, reason: str, settings: Settings
) -> tuple[Need, Pairing]:
    need = await _get_for_update(session, admin, need_id)
    check_state(need, "dispute")
    _require_admin(admin)
    pairing = await holding_pairing(session, need.id)
    assert pairing is not None, "a delivered need is held by a pairing"
    await move_need(session, need, "dispute", actor_id=admin.id, reason=reason)
    # Back to the donor, with a fresh hold to deliver again.
    await end_pairing(
        session,
        pairing,
        "active",
        actor_id=admin.id,
        reason=reason,
        delivered_at=None,
        expires_at=utcnow() + dt.timedelta(days=settings.claim_hold_days),
    )
    return need, pairing


async def cancel(
    session: AsyncSession, admin: User, need_id: int, reason: str
) -> tuple[Need, Pairing | None]:
    need = await _get_for_update(session, admin, need_id)
    check_state(need, "cancel")
    _require_admin(admin)
    pairing = await holding_pairing(session, need.id)
    await move_need(session, need, "cancel", actor_id=admin.id, reason=reason, closed_reason=reason)
    await supersede_proposals(session, need.id, actor_id=admin.id, reason=reason)
    if pairing is not None:
        await end_pairing(session, pairing, "cancelled", actor_id=admin.id, reason=reason)
    return need, pairing


# -- lapsing ---------------------------------------------------------------------------------


HOLD_PASSED = "claim hold passed"
DEADLINE_PASSED = "deadline passed"


async def lapse_claims(session: AsyncSession, now: dt.datetime, *, batch: int = 500) -> int:
    """Return needs whose claim hold has passed to the pool; the pairings end as expired."""
    due: Sequence[Pairing] = (
        await session.scalars(
            select(Pairing)
            .where(Pairing.status == "active", Pairing.expires_at < now)
            .order_by(Pairing.expires_at)
            .limit(batch)
        )
    ).all()
    lapsed = 0
    for pairing in due:
        need = await session.get(Need, pairing.need_id)
        if need is None or (need.status, "lapse") not in TRANSITIONS:
            continue
        try:
            async with session.begin_nested():
                # The conditional move of the need decides which runner lapses it.
                await move_need(session, need, "lapse", actor_id=None, reason=HOLD_PASSED)
                await end_pairing(session, pairing, "expired", actor_id=None, reason=HOLD_PASSED)
        except Conflict:
            continue  # another runner got there first
        lapsed += 1
    return lapsed


async def expire_needs(session: AsyncSession, today: dt.date, *, batch: int = 500) -> int:
    """Close published needs whose deadline has passed."""
    due = (
        await session.scalars(
            select(Need)
            .where(Need.status == "published", Need.deadline < today)
            .order_by(Need.deadline)
            .limit(batch)
        )
    ).all()
    expired = 0
    for need in due:
        try:
            async with session.begin_nested():
                await move_need(
                    session, need, "expire", actor_id=None, reason=DEADLINE_PASSED,
                    closed_reason=DEADLINE_PASSED,
                )  # fmt: skip
                await supersede_proposals(session, need.id, actor_id=None, reason=DEADLINE_PASSED)
        except Conflict:
            continue
        expired += 1
    return expired
