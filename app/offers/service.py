"""Offers: a donor's non-directed donations, the pool that matching allocates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Row, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.accounts.policy import admin_scope
from app.core import statements
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, InvalidTransition, NotFound, Unprocessable
from app.core.pagination import page_by_id
from app.core.scope import Scope
from app.events import service as events
from app.offers.models import Offer
from app.offers.schemas import OfferCreate
from app.pairings import service as pairings
from app.regions.models import LEVEL_LENGTHS, Region


def serving(scope: Scope) -> ColumnElement[bool]:
    """SQL: offers that may serve needs of ``scope``: their region preference lies inside the
    scope or contains it (a county, a province, "anywhere")."""
    enclosing = [""] + [scope.code[:n] for n in LEVEL_LENGTHS.values() if n <= len(scope.code)]
    return or_(scope.where(Offer.region_preference), Offer.region_preference.in_(enclosing))


def _visible_to(user: User) -> ColumnElement[bool]:
    """A donor sees its own offers; an admin the offers that may serve its scope."""
    return serving(admin_scope(user)) if user.is_admin else Offer.donor_id == user.id


async def create_offer(session: AsyncSession, donor: User, data: OfferCreate) -> Offer:
    if donor.role != "donor":
        raise Forbidden("Only a donor may post an offer", code="donor_only")
    if data.region_preference and await session.get(Region, data.region_preference) is None:
        raise Unprocessable(
            f"No region has the code {data.region_preference}", code="unknown_region"
        )
    now = utcnow()
    if data.available_until is not None and data.available_until <= now:
        raise Unprocessable("available_until must lie in the future", code="window_in_past")
    offer = Offer(
        donor_id=donor.id,
        category=data.category,
        title=data.title,
        description=data.description,
        capacity=data.capacity,
        capacity_used=0,
        region_preference=data.region_preference,
        value_cap_fen=data.value_cap_fen,
        available_until=data.available_until,
        status="open",
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(offer)
    await session.flush()
    await events.record(
        session,
        entity="offer",
        entity_id=offer.id,
        action="post",
        from_status=None,
        to_status="open",
        actor_id=donor.id,
    )
    return offer


async def get_offer(session: AsyncSession, user: User, offer_id: int) -> Offer:
    offer = await session.scalar(select(Offer).where(Offer.id == offer_id, _visible_to(user)))
    if offer is None:
        raise NotFound(f"No offer {offer_id}", code="offer_not_found")
    return offer


async def list_offers(
    session: AsyncSession,
    user: User,
    *,
    statuses: Sequence[str] | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Offer], str | None]:
    statement = select(Offer).where(_visible_to(user))
    if statuses:
        statement = statement.where(Offer.status.in_(statuses))
    return await page_by_id(session, statement, Offer.id, limit=limit, cursor=cursor)


async def withdraw(session: AsyncSession, donor: User, offer_id: int) -> Offer:
    """Take an open offer out of the pool (its own donor only)."""
    offer = await get_offer(session, donor, offer_id)
    if offer.donor_id != donor.id:
        raise Forbidden("Only the offer's donor may withdraw it", code="not_owner")
    result = await session.execute(
        update(Offer)
        .where(Offer.id == offer.id, Offer.status == "open", Offer.version == offer.version)
        .values(status="withdrawn", version=Offer.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.refresh(offer)
        raise InvalidTransition(
            f"A {offer.status} offer cannot be withdrawn", allowed=[], state=offer.status
        )
    await session.refresh(offer)
    await events.record(
        session,
        entity="offer",
        entity_id=offer.id,
        action="withdraw",
        from_status="open",
        to_status="withdrawn",
        actor_id=donor.id,
    )
    return offer


# -- for matching: the pool and its capacity --------------------------------------------------


async def open_for_matching(
    session: AsyncSession, scope: Scope, categories: Sequence[str], now: dt.datetime
) -> list[Row[tuple[int, int, str, str, int | None, int]]]:
    """The open offers that may serve ``scope``, in id order, with the units ``left`` after
    what is used and what open proposals hold; offers with nothing left are not returned."""
    held = pairings.proposed_units().subquery()
    left = Offer.capacity - Offer.capacity_used - func.coalesce(held.c.n, 0)
    rows = await session.execute(
        select(
            Offer.id, Offer.donor_id, Offer.category, Offer.region_preference,
            Offer.value_cap_fen, left.label("left"),
        )
        .outerjoin(held, held.c.offer_id == Offer.id)
        .where(
            Offer.status == "open",
            Offer.category.in_(categories),
            or_(Offer.available_until.is_(None), Offer.available_until > now),
            serving(scope),
            left > 0,
        )
        .order_by(Offer.id)
    )  # fmt: skip
    return list(rows.all())  # type: ignore[arg-type]


# Every accepted proposal runs these: built once, their values bound at execution.
_UPDATED_AT = Offer.__table__.c.updated_at.type
_USE_UNIT = (
    update(Offer)
    .where(
        Offer.id == bindparam("offer"),
        Offer.status == "open",
        Offer.capacity_used < Offer.capacity,
    )
    .values(capacity_used=Offer.capacity_used + 1, version=Offer.version + 1)
    .execution_options(synchronize_session=False)
)
_EXHAUST = (
    update(Offer)
    .where(
        Offer.id == bindparam("offer"),
        Offer.status == "open",
        Offer.capacity_used >= Offer.capacity,
    )
    .values(status="exhausted", updated_at=bindparam("now", type_=_UPDATED_AT))
    .execution_options(synchronize_session=False)
)


async def use_unit(session: AsyncSession, offer_id: int, *, actor_id: int) -> None:
    """Use one unit of an open offer's capacity (an accepted proposal), or 409.

    A conditional update: of any number of concurrent acceptances only as many win as there
    are units left. The offer is exhausted when its last unit goes.
    """
    used = await statements.run(session, _USE_UNIT, {"offer": offer_id})
    if used.rowcount != 1:
        raise Conflict("The offer has no capacity left or was withdrawn", code="offer_unavailable")
    exhausted = await statements.run(session, _EXHAUST, {"offer": offer_id, "now": utcnow()})
    if exhausted.rowcount == 1:
        await events.record(
            session, entity="offer", entity_id=offer_id, action="exhaust", from_status="open",
            to_status="exhausted", actor_id=actor_id,
        )  # fmt: skip
