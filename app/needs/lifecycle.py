"""The need's life: review, claim, release, deliver, confirm, dispute, cancel, and lapses.

Every move is :func:`move`, a compare-and-set on (id, status, version) by the table of
:mod:`app.needs.states`; who may act is the table's ``by`` column, checked by
:func:`app.accounts.policy.require`. A step that also moves the need's pairing moves the need
first, then the pairing (always in that order, so two steps never wait on each other's rows),
through :func:`app.pairings.service.move`. A step that lost a race gets 409 and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Integer, Row, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.accounts.models import User
from app.accounts.policy import require
from app.core import statements
from app.core.db import utcnow
from app.core.errors import Conflict
from app.core.settings import Settings
from app.core.transitions import compare_and_set, move_each
from app.events import service as events
from app.needs.browse import get_visible_held
from app.needs.models import Need
from app.needs.states import TABLE
from app.pairings import service as pairings
from app.pairings.models import Pairing
from app.pairings.prediction import Standing, predict, standing

HOLD_PASSED = "claim hold passed"
DEADLINE_PASSED = "deadline passed"
# The states in which a donor holds the need through a pairing.
HELD = ("claimed", "delivered")


async def need_event(
    session: AsyncSession,
    need: Need,
    action: str,
    before: str | None,
    *,
    actor_id: int | None,
    reason: str | None = None,
) -> None:
    await events.record(
        session, entity="need", entity_id=need.id, need_id=need.id, action=action,
        from_status=before, to_status=need.status, actor_id=actor_id,
        county_code=need.county_code, reason=reason, need=need,
    )  # fmt: skip


async def move(
    session: AsyncSession,
    need: Need,
    action: str,
    *,
    actor_id: int | None,
    reason: str | None = None,
    **values: Any,
) -> str:
    """Apply ``action`` to ``need`` if nobody moved it since it was read; the state it left."""
    before = await compare_and_set(
        session, need, TABLE, action,
        guard={"version": need.version},
        lost="already_claimed" if action == "claim" else "need_changed",
        version=need.version + 1, updated_at=utcnow(), **values,
    )  # fmt: skip
    await need_event(session, need, action, before, actor_id=actor_id, reason=reason)
    return before


async def _begin(
    session: AsyncSession, user: User, need_id: int, action: str
) -> tuple[Need, Pairing | None]:
    """The need and its holding pairing, if ``action`` is allowed now and ``user`` may take it.

    404 outside what the user may see, 409 naming the allowed actions, 403 for the wrong actor.
    """
    need, holder = await get_visible_held(session, user, need_id)
    by = TABLE.check(need.status, action).by
    if need.status not in HELD:
        holder = None
    elif holder is None:  # its pairing has just moved
        raise Conflict(
            "The need was changed by someone else while you were acting; reload it",
            code="need_changed",
        )
    require(user, by, holder_id=holder.donor_id if holder else None)
    return need, holder


async def _begin_held(
    session: AsyncSession, user: User, need_id: int, action: str
) -> tuple[Need, Pairing]:
    need, holder = await _begin(session, user, need_id, action)
    if holder is None:
        raise Conflict("Nobody holds this need", code="need_changed")
    return need, holder


async def review(
    session: AsyncSession, admin: User, need_id: int, decision: str, reason: str | None
) -> Need:
    """Approve (publish) or reject a need that waits for review (township admins and wider)."""
    need, _ = await _begin(session, admin, need_id, decision)
    extra: dict[str, object] = (
        {"published_at": utcnow()} if decision == "approve" else {"closed_reason": reason}
    )
    await move(session, need, decision, actor_id=admin.id, reason=reason, **extra)
    return need


async def claim(
    session: AsyncSession, donor: User, need_id: int, settings: Settings
) -> tuple[Need, Pairing]:
    """First come, first served: exactly one donor wins a published need."""
    need, _ = await _begin(session, donor, need_id, "claim")
    _check_not_paid_with_money(need)
    known = await _check_open_claims(session, donor, settings.max_open_claims)
    probability = await predict(session, donor_id=donor.id, category=need.category, known=known)
    await move(session, need, "claim", actor_id=donor.id)
    await pairings.supersede_proposals(
        session, need.id, actor_id=donor.id, reason="claimed directly"
    )
    pairing = await pairings.start_claim(
        session, need_id=need.id, village_code=need.village_code, county_code=need.county_code,
        donor_id=donor.id, predicted_success=probability,
        hold=dt.timedelta(days=settings.claim_hold_days),
    )  # fmt: skip
    return need, pairing


def _check_not_paid_with_money(need: Need) -> None:
    # The claim's compare-and-set is on the version read here, which marking a need paid with
    # money bumps: a claim racing a crowdfunding's opening loses one way or the other.
    if need.funding_source is not None:
        raise Conflict(
            "Money pays for this need (a crowdfunding or the pool): it is not claimed with goods"
            " or cancelled",
            code="need_funded",
            funding_source=need.funding_source,
        )


async def paid_with_money(session: AsyncSession, need: Need, source: str) -> None:
    """From now on money pays for ``need`` (app/funds): it leaves the claims and the matching.

    A compare-and-set on the published need as it was read, so that of a claim, an accepted
    proposal and a funding at once exactly one wins and the others get 409.
    """
    version = need.version + 1
    result = await session.execute(
        update(Need)
        .where(
            Need.id == need.id, Need.status == "published", Need.version == need.version,
            Need.funding_source.is_(None),
        )
        .values(funding_source=source, version=version, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "The need was changed by someone else while you were acting; reload it",
            code="need_changed",
        )
    set_committed_value(need, "funding_source", source)
    set_committed_value(need, "version", version)


async def no_longer_paid_with_money(session: AsyncSession, need_id: int, source: str) -> None:
    """A crowdfunding expired unfunded: the need is open to donors of goods again."""
    await session.execute(
        update(Need)
        .where(Need.id == need_id, Need.funding_source == source)
        .values(funding_source=None, version=Need.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def settle(session: AsyncSession, need_id: int, source: str, *, actor_id: int) -> None:
    """The village confirmed receipt of what the need's money bought: the need is fulfilled.

    Called by the funding's confirmation (app/funds), itself a compare-and-set, in its
    transaction; the need must still be the published one that money pays for.
    """
    need = await session.get(Need, need_id)
    if need is None or need.funding_source != source:
        raise Conflict(
            "The need was changed by someone else while you were acting; reload it",
            code="need_changed",
        )
    await move(session, need, "settle", actor_id=actor_id, fulfilled_at=utcnow())


_LOCK_DONOR = select(User.id).where(User.id == bindparam("donor_id")).with_for_update()


async def _check_open_claims(session: AsyncSession, donor: User, limit: int) -> Standing:
    """The cap counts the donor's claims not yet delivered; a delivery frees a place. The
    donor's standing, read for the count, is handed on to the prediction."""
    # Lock the donor's row so that two concurrent claims by one donor cannot both pass the
    # count. On SQLite the write transaction is already exclusive, and SQLite has no FOR UPDATE:
    # the statement would only read the id, so it is not sent.
    if session.get_bind().dialect.name != "sqlite":
        await statements.run(session, _LOCK_DONOR, {"donor_id": donor.id})
    known = await standing(session, donor.id)
    held = known.undelivered_claims
    if held >= limit:
        raise Conflict(
            f"You hold {held} claims not yet delivered, the most allowed; "
            "deliver or release one first",
            code="too_many_open_claims",
            limit=limit,
        )
    return known


_NEED = select(*statements.columns(Need)).where(Need.id == bindparam("need_id"))


async def accept_proposal(session: AsyncSession, need_id: int, *, actor_id: int) -> Need:
    """The need side of a donor accepting its proposal: published → claimed."""
    rows = (await statements.run(session, _NEED, {"need_id": need_id})).rows
    if not rows:
        raise Conflict("The need of this proposal is gone", code="need_changed")
    need = statements.entity(session, Need, rows[0])
    _check_not_paid_with_money(need)
    await move(session, need, "accept", actor_id=actor_id)
    return need


async def release(
    session: AsyncSession, donor: User, need_id: int, reason: str | None
) -> tuple[Need, Pairing]:
    """The holding donor gives the need back to the pool."""
    need, pairing = await _begin_held(session, donor, need_id, "release")
    await move(session, need, "release", actor_id=donor.id, reason=reason)
    await pairings.move(session, pairing, "release", actor_id=donor.id, reason=reason, need=need)
    return need, pairing


async def deliver(
    session: AsyncSession, donor: User, need_id: int, note: str | None
) -> tuple[Need, Pairing]:
    """The holding donor says the need is handed over."""
    need, pairing = await _begin_held(session, donor, need_id, "deliver")
    await move(session, need, "deliver", actor_id=donor.id)
    await pairings.move(
        session, pairing, "deliver", actor_id=donor.id, need=need, delivered_at=utcnow(),
        delivery_note=note,
    )  # fmt: skip
    return need, pairing


async def confirm(
    session: AsyncSession, admin: User, need_id: int, thanks: str | None
) -> tuple[Need, Pairing]:
    """An admin in scope confirms receipt, optionally thanking the donor."""
    need, pairing = await _begin_held(session, admin, need_id, "confirm")
    await move(session, need, "confirm", actor_id=admin.id, fulfilled_at=utcnow())
    await pairings.move(session, pairing, "confirm", actor_id=admin.id, thanks=thanks, need=need)
    return need, pairing


async def dispute(
    session: AsyncSession, admin: User, need_id: int, reason: str, settings: Settings
) -> tuple[Need, Pairing]:
    """Not received: back to the donor, with a fresh hold to deliver again."""
    need, pairing = await _begin_held(session, admin, need_id, "dispute")
    await move(session, need, "dispute", actor_id=admin.id, reason=reason)
    await pairings.move(
        session, pairing, "dispute", actor_id=admin.id, reason=reason, need=need, delivered_at=None,
        expires_at=utcnow() + dt.timedelta(days=settings.claim_hold_days),
    )  # fmt: skip
    return need, pairing


async def cancel(
    session: AsyncSession, admin: User, need_id: int, reason: str
) -> tuple[Need, Pairing | None]:
    """Withdraw a need that is no longer wanted; a holder's pairing ends cancelled."""
    need, pairing = await _begin(session, admin, need_id, "cancel")
    _check_not_paid_with_money(need)  # its money would be left in the need's account
    await move(session, need, "cancel", actor_id=admin.id, reason=reason, closed_reason=reason)
    await pairings.supersede_proposals(session, need.id, actor_id=admin.id, reason=reason)
    if pairing is not None:
        await pairings.move(session, pairing, "cancel", actor_id=admin.id, reason=reason, need=need)
    return need, pairing


# -- lapses: steps of the jobs in app/jobs.py ------------------------------------------------

# Looked for every few minutes (every simulated day): built once, the values bound at execution.
_HOLDS_PASSED = (
    select(Need, Pairing)
    .join(Pairing, Pairing.need_id == Need.id)
    .where(Pairing.status == "active", Pairing.expires_at < bindparam("now"))
    .order_by(Pairing.expires_at)
    .limit(bindparam("batch", type_=Integer()))
)
_DEADLINES_PASSED = (
    select(Need)
    # A need paid with money waits for its purchase; an unfunded crowdfunding's expiry gives it
    # back to the deadline.
    .where(
        Need.status == "published",
        Need.deadline < bindparam("today"),
        Need.funding_source.is_(None),
    )
    .order_by(Need.deadline)
    .limit(bindparam("batch", type_=Integer()))
)


async def lapse_claims(session: AsyncSession, now: dt.datetime, *, batch: int = 500) -> int:
    """Return needs whose claim hold has passed to the pool; the pairings end as expired."""
    due = (await session.execute(_HOLDS_PASSED, {"now": now, "batch": batch})).all()

    async def lapse(row: Row[Need, Pairing]) -> None:
        # The compare-and-set on the need decides which runner (or donor) wins.
        need, pairing = row
        await move(session, need, "lapse", actor_id=None, reason=HOLD_PASSED)
        await pairings.move(session, pairing, "lapse", actor_id=None, reason=HOLD_PASSED, need=need)

    return await move_each(session, due, lapse)


async def expire_needs(session: AsyncSession, today: dt.date, *, batch: int = 500) -> int:
    """Close published needs whose deadline has passed."""
    due = (await session.scalars(_DEADLINES_PASSED, {"today": today, "batch": batch})).all()

    async def expire(need: Need) -> None:
        await move(
            session, need, "expire", actor_id=None, reason=DEADLINE_PASSED,
            closed_reason=DEADLINE_PASSED,
        )  # fmt: skip
        await pairings.supersede_proposals(session, need.id, actor_id=None, reason=DEADLINE_PASSED)

    return await move_each(session, due, expire)
