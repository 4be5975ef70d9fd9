"""Proposals: a matching run suggests a need to an offer's donor, who accepts or declines.

A proposal keeps the need published (anyone may still claim it directly, which supersedes the
proposal) and holds one unit of the offer's capacity until it is answered or lapses. Accepting
moves the need (published → claimed), then the pairing (proposed → active), then uses the
offer's unit, each a compare-and-set: a proposal declined, lapsed or superseded meanwhile, or an
offer with no unit left, makes the acceptance a 409 that writes nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.db import utcnow
from app.core.errors import Conflict
from app.core.settings import Settings
from app.needs import lifecycle as needs
from app.needs.models import Need
from app.offers import service as offers
from app.pairings import service as pairings
from app.pairings.models import Pairing


async def accept(
    session: AsyncSession, donor: User, pairing_id: int, settings: Settings
) -> tuple[Need, Pairing]:
    """Take the proposed need: it becomes claimed and the offer's capacity is used."""
    pairing = await pairings.own_pairing(session, donor, pairing_id, "accept")
    if pairing.offer_id is None:
        raise Conflict("This pairing is not a proposal of an offer", code="pairing_changed")
    need = await needs.accept_proposal(session, pairing.need_id, actor_id=donor.id)
    now = utcnow()
    await pairings.move(
        session, pairing, "accept", actor_id=donor.id, need=need, active_at=now,
        expires_at=now + dt.timedelta(days=settings.claim_hold_days),
    )  # fmt: skip
    await offers.use_unit(session, pairing.offer_id, actor_id=donor.id)
    return need, pairing


async def decline(
    session: AsyncSession, donor: User, pairing_id: int, reason: str | None
) -> Pairing:
    """Turn the proposal down: the need and the capacity go back to the pool."""
    pairing = await pairings.own_pairing(session, donor, pairing_id, "decline")
    await pairings.move(session, pairing, "decline", actor_id=donor.id, reason=reason)
    return pairing
