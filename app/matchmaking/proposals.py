"""Proposals: a matching run suggests a need to an offer's donor, who accepts or declines.

A proposal keeps the need published (anyone may still claim it directly, which supersedes the
proposal) and holds one unit of the offer's capacity until it is answered or lapses.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.db import utcnow
from app.core.errors import Conflict, InvalidTransition, NotFound
from app.core.settings import Settings
from app.needs import service as needs_service
from app.needs.models import Need
from app.offers.models import Offer
from app.pairings.models import Pairing

PROPOSAL_LAPSED = "proposal not answered in time"


async def _own_proposal(session: AsyncSession, donor: User, pairing_id: int) -> Pairing:
    pairing = await session.scalar(
        select(Pairing).where(Pairing.id == pairing_id, Pairing.donor_id == donor.id)
    )
    if pairing is None:
        raise NotFound(f"No pairing {pairing_id}", code="pairing_not_found")
    if pairing.status != "proposed":
        raise InvalidTransition(
            f"A {pairing.status} pairing cannot be answered; only a proposal can",
            allowed=[],
            state=pairing.status,
        )
    return pairing


async def accept(
    session: AsyncSession, donor: User, pairing_id: int, settings: Settings
) -> tuple[Need, Pairing]:
    """Take the proposed need: it becomes claimed and the offer's capacity is used."""
    pairing = await _own_proposal(session, donor, pairing_id)
    need = await session.get(Need, pairing.need_id)
    assert need is not None
    assert pairing.offer_id is not None
    await needs_service.move_need(session, need, "accept", actor_id=donor.id)
    used = await session.execute(
        update(Offer)
        .where(
            Offer.id == pairing.offer_id,
            Offer.status == "open",
            Offer.capacity_used < Offer.capacity,
        )
        .values(capacity_used=Offer.capacity_used + 1, version=Offer.version + 1)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The offer has no capacity left or was withdrawn", code="offer_unavailable")
    await _mark_exhausted(session, pairing.offer_id, actor_id=donor.id)
    await needs_service.end_pairing(
        session, pairing, "active", actor_id=donor.id, active_at=(now := utcnow()),
        expires_at=now + dt.timedelta(days=settings.claim_hold_days),
    )  # fmt: skip
    return need, pairing


async def _mark_exhausted(session: AsyncSession, offer_id: int, *, actor_id: int) -> None:
    from app.events import service as events

    exhausted = await session.execute(
        update(Offer)
        .where(Offer.id == offer_id, Offer.status == "open", Offer.capacity_used >= Offer.capacity)
        .values(status="exhausted", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if exhausted.rowcount == 1:  # type: ignore[attr-defined]
        events.record(
            session, entity="offer", entity_id=offer_id, action="exhaust", from_status="open",
            to_status="exhausted", actor_id=actor_id,
        )  # fmt: skip


async def decline(
    session: AsyncSession, donor: User, pairing_id: int, reason: str | None
) -> tuple[Need, Pairing]:
    """Turn the proposal down: the need and the capacity go back to the pool."""
    pairing = await _own_proposal(session, donor, pairing_id)
    need = await session.get(Need, pairing.need_id)
    assert need is not None
    await needs_service.end_pairing(session, pairing, "declined", actor_id=donor.id, reason=reason)
    return need, pairing


async def lapse_proposals(session: AsyncSession, now: dt.datetime, *, batch: int = 500) -> int:
    """End the proposals nobody answered in time."""
    due = (
        await session.scalars(
            select(Pairing)
            .where(Pairing.status == "proposed", Pairing.expires_at < now)
            .order_by(Pairing.expires_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for proposal in due:
        await needs_service.end_pairing(
            session, proposal, "expired", actor_id=None, reason=PROPOSAL_LAPSED
        )
    return len(due)
