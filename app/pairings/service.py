"""The pairing's life: the one function that moves a pairing, and the queries others use.

Every change of a pairing's status goes through :func:`move` (or :func:`supersede_proposals`,
its set-based form), a compare-and-set on the table of :mod:`app.pairings.states`, and records
its event in the same transaction. The needs and matchmaking services and the lapse jobs call
these functions; none of them writes a pairing's columns itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.accounts.policy import admin_scope, require
from app.core import statements
from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.pagination import page_by_id
from app.core.transitions import compare_and_set, move_each
from app.events import service as events
from app.pairings.models import Pairing
from app.pairings.states import ENDED, HOLDING, TABLE

PROPOSAL_LAPSED = "proposal not answered in time"


def _event(pairing: Pairing, action: str, before: str | None, **fields: Any) -> dict[str, Any]:
    return {
        "entity": "pairing", "entity_id": pairing.id, "need_id": pairing.need_id,
        "action": action, "from_status": before, "to_status": pairing.status,
        "county_code": pairing.county_code, **fields,
    }  # fmt: skip


async def move(
    session: AsyncSession,
    pairing: Pairing,
    action: str,
    *,
    actor_id: int | None,
    reason: str | None = None,
    need: Any = None,
    **values: Any,
) -> str:
    """Apply ``action`` to ``pairing`` if it is still in the state it was read in.

    A pairing that another transaction moved first gets 409 (``pairing_changed``); nothing is
    written. Returns the state it left. ``need``, the pairing's need if the caller holds it,
    goes with the event to its followers (:func:`app.events.service.record`).
    """
    if TABLE.check(pairing.status, action).to in ENDED:
        values["ended_at"] = utcnow()
    before = await compare_and_set(session, pairing, TABLE, action, **values)
    event = _event(pairing, action, before, actor_id=actor_id, reason=reason)
    await events.record(session, **event, need=need, pairing=pairing)
    return before


# The statements of every claim, delivery and confirmation, built once (building one costs
# more than running it); their values are bound at execution.
_SUPERSEDE = (
    update(Pairing)
    .where(
        Pairing.need_id == bindparam("of_need"), Pairing.status == statements.constant("proposed")
    )
    .values(
        status=TABLE.check("proposed", "supersede").to,
        ended_at=bindparam("now", type_=Pairing.__table__.c.ended_at.type),
    )
    .returning(Pairing.id, Pairing.county_code)
    .execution_options(synchronize_session=False)
)
_INSERT_ONE = insert(Pairing).returning(Pairing.id)

_HOLDING = select(Pairing).where(
    Pairing.need_id == bindparam("need_id"), Pairing.status.in_(HOLDING)
)
_OWN = select(*statements.columns(Pairing)).where(
    Pairing.id == bindparam("pairing_id"), Pairing.donor_id == bindparam("donor_id")
)


async def start_claim(
    session: AsyncSession,
    *,
    need_id: int,
    village_code: str,
    county_code: str,
    donor_id: int,
    predicted_success: float,
    hold: dt.timedelta,
) -> Pairing:
    """The active pairing of a direct claim (the need was just moved to claimed)."""
    now = utcnow()
    values = {
        "need_id": need_id, "donor_id": donor_id, "offer_id": None, "run_id": None,
        "source": "claim", "status": "active", "predicted_success": predicted_success,
        "score": None, "village_code": village_code, "county_code": county_code,
        "created_at": now, "expires_at": now + hold, "active_at": now, "delivered_at": None,
        "ended_at": None, "delivery_note": None, "thanks": None,
    }  # fmt: skip
    new_id = (await statements.run(session, _INSERT_ONE, values)).scalar()
    # The row as written, held by the session like one it loaded.
    pairing = statements.hold(session, Pairing, {"id": new_id, **values})
    await events.record(session, **_event(pairing, "claim", None, actor_id=donor_id))
    return pairing


async def propose_many(
    session: AsyncSession, rows: Sequence[dict[str, Any]], *, actor_id: int | None, reason: str
) -> int:
    """Insert proposed pairings (the rows of a matching run) with their events, in bulk."""
    if not rows:
        return 0
    ids = (await session.scalars(insert(Pairing).returning(Pairing.id), list(rows))).all()
    await events.record_many(
        session,
        [
            {
                "entity": "pairing", "entity_id": pairing_id, "need_id": row["need_id"],
                "action": "propose", "from_status": None, "to_status": "proposed",
                "actor_id": actor_id, "county_code": row["county_code"], "reason": reason,
                "at": row["created_at"],
            }
            for pairing_id, row in zip(ids, rows, strict=True)
        ],
    )  # fmt: skip
    return len(ids)


async def supersede_proposals(
    session: AsyncSession, need_id: int, *, actor_id: int | None, reason: str
) -> int:
    """End the open proposals of a need that was settled another way (claimed, cancelled…).

    One conditional UPDATE: a proposal answered at the same moment is left to its answer.
    """
    move_ = TABLE.check("proposed", "supersede")
    now = utcnow()
    ended = (await statements.run(session, _SUPERSEDE, {"of_need": need_id, "now": now})).rows
    await events.record_many(
        session,
        [
            {
                "entity": "pairing", "entity_id": pairing_id, "need_id": need_id,
                "action": "supersede", "from_status": "proposed", "to_status": move_.to,
                "actor_id": actor_id, "county_code": county_code, "reason": reason, "at": now,
            }
            for pairing_id, county_code in ended
        ],
    )  # fmt: skip
    return len(ended)


def holds(need_id: Any) -> ColumnElement[bool]:
    """SQL: the pairing holds the need (a column): it is active or delivered."""
    # The states written into the SQL, not a list expanded at each execution: its SQL is then
    # the same every time, and SQLite plans it once (see statements.constant).
    return and_(
        Pairing.need_id == need_id,
        Pairing.status.in_([statements.constant(state) for state in HOLDING]),
    )


async def holding(session: AsyncSession, need_id: int) -> Pairing | None:
    """The pairing that holds the need (active or delivered), if any."""
    pairing: Pairing | None = await session.scalar(_HOLDING, {"need_id": need_id})
    return pairing


async def delivery_of(session: AsyncSession, need_id: int) -> Pairing | None:
    """The need's delivery: the pairing that holds it (active or delivered) or confirmed it."""
    return await session.scalar(
        select(Pairing)
        .where(Pairing.need_id == need_id, Pairing.status.in_((*HOLDING, "confirmed")))
        .order_by(Pairing.id.desc())
        .limit(1)
    )


def of_donor(donor_id: int) -> Select[int]:
    """SQL: the ids of the donor's pairings, whatever their status."""
    return select(Pairing.id).where(Pairing.donor_id == donor_id)


async def has_pairing(session: AsyncSession, donor_id: int, need_id: int) -> bool:
    """Whether the donor has, or had, a pairing with the need."""
    found = await session.scalar(
        select(Pairing.id).where(Pairing.need_id == need_id, Pairing.donor_id == donor_id).limit(1)
    )
    return found is not None


def proposed_units() -> Select[int | None, int]:
    """Per offer, the units held by open proposals (for the pool's "capacity left")."""
    return (
        select(Pairing.offer_id, func.count().label("n"))
        .where(Pairing.status == "proposed", Pairing.offer_id.is_not(None))
        .group_by(Pairing.offer_id)
    )


def is_proposed(need_id: Any) -> Any:
    """SQL: the need (a column) has an open proposal."""
    return (
        select(Pairing.id).where(Pairing.need_id == need_id, Pairing.status == "proposed").exists()
    )


async def own_pairing(session: AsyncSession, donor: User, pairing_id: int, action: str) -> Pairing:
    """The donor's own pairing, if ``action`` is one its state allows to its holder."""
    rows = (
        await statements.run(session, _OWN, {"pairing_id": pairing_id, "donor_id": donor.id})
    ).rows
    if not rows:
        raise NotFound(f"No pairing {pairing_id}", code="pairing_not_found")
    pairing = statements.entity(session, Pairing, rows[0])
    require(donor, TABLE.check(pairing.status, action).by, holder_id=pairing.donor_id)
    return pairing


_PROPOSALS_PASSED = (
    select(Pairing)
    .where(Pairing.status == "proposed", Pairing.expires_at < bindparam("now"))
    .order_by(Pairing.expires_at)
    .limit(bindparam("batch", type_=Integer()))
)


async def lapse_proposals(session: AsyncSession, now: dt.datetime, *, batch: int = 500) -> int:
    """End the proposals nobody answered in time: one batch, each a compare-and-set."""
    due = (await session.scalars(_PROPOSALS_PASSED, {"now": now, "batch": batch})).all()
    return await move_each(
        session,
        due,
        lambda proposal: move(session, proposal, "lapse", actor_id=None, reason=PROPOSAL_LAPSED),
    )


async def list_pairings(
    session: AsyncSession,
    user: User,
    *,
    statuses: Sequence[str] | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Pairing], str | None]:
    """Newest first, a page at a time: a donor's own, or those in an admin's scope."""
    visible = (
        admin_scope(user).where(Pairing.village_code)
        if user.is_admin
        else Pairing.donor_id == user.id
    )
    statement = select(Pairing).where(visible)
    if statuses:
        statement = statement.where(Pairing.status.in_(statuses))
    return await page_by_id(session, statement, Pairing.id, limit=limit, cursor=cursor)
