"""Reminders and daily digests: notifications the clock sends, each once.

- a claim 48 hours before it lapses, to its donor;
- a proposal 24 hours before it lapses, to its donor;
- a delivery awaiting confirmation for 3 days, to the village's admins.

Each carries a key of (kind, pairing, due moment, recipient), unique in the table, so any number
of runs (workers, restarts) send it once; a claim renewed or a proposal made again is due at
another moment and is reminded again.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.inbox.models import Notification
from app.inbox.service import CST
from app.needs.models import Need
from app.notifications import outbox
from app.notifications.outbox import Message, need_data
from app.pairings.models import Pairing

CLAIM_AHEAD = dt.timedelta(hours=48)
PROPOSAL_AHEAD = dt.timedelta(hours=24)
CONFIRMATION_AFTER = dt.timedelta(days=3)
DIGEST_LIST = 100


def _key(kind: str, pairing_id: int, due: dt.datetime, user_id: int) -> str:
    return f"{kind}:{pairing_id}:{due.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%S')}:{user_id}"


def _message(kind: str, row: Any, due: dt.datetime, user_id: int) -> Message:
    data = {**need_data(row), "need_id": row.need_id, "pairing_id": row.pairing_id,
            "recipient_id": user_id, "due_at": due.isoformat()}  # fmt: skip
    return Message(
        kind, user_id, row.need_id, row.pairing_id, data, _key(kind, row.pairing_id, due, user_id)
    )


def _pairings(*where: Any):  # type: ignore[no-untyped-def]
    return select(
        Pairing.id.label("pairing_id"), Pairing.need_id, Pairing.donor_id, Pairing.expires_at,
        Pairing.delivered_at, Need.id, Need.title, Need.category, Need.village_code,
    ).join(Need, Need.id == Pairing.need_id).where(*where)  # fmt: skip


async def send_reminders(session: AsyncSession, now: dt.datetime | None = None) -> int:
    """Write the reminders due at ``now`` that were not sent yet; how many were written."""
    now = now or utcnow()
    messages: list[Message] = []
    for kind, status, ahead in (
        ("reminder.claim_lapsing", "active", CLAIM_AHEAD),
        ("reminder.proposal_waiting", "proposed", PROPOSAL_AHEAD),
    ):
        rows = await session.execute(
            _pairings(
                Pairing.status == status,
                Pairing.expires_at > now,
                Pairing.expires_at <= now + ahead,
            )
        )
        messages += [_message(kind, row, row.expires_at, row.donor_id) for row in rows]
    waiting = (
        await session.execute(
            _pairings(
                Pairing.status == "delivered", Pairing.delivered_at <= now - CONFIRMATION_AFTER
            )
        )
    ).all()
    if waiting:
        admins = await session.run_sync(
            lambda s: outbox.village_admins(s.connection(), (r.village_code for r in waiting))
        )
        messages += [
            _message(
                "reminder.confirmation_waiting", row, row.delivered_at + CONFIRMATION_AFTER, admin
            )
            for row in waiting
            for admin in admins.get(row.village_code, [])
        ]
    return await session.run_sync(lambda s: outbox.emit(s.connection(), messages, now))


async def send_digests(session: AsyncSession, now: dt.datetime | None = None) -> int:
    """Gather each user's held notifications into one daily digest; how many digests."""
    now = now or utcnow()
    held = (
        await session.execute(
            select(Notification.id, Notification.user_id, Notification.type)
            .where(Notification.visible_at.is_(None), Notification.user_id.is_not(None))
            .order_by(Notification.id)
        )
    ).all()
    by_user: dict[int, list[Any]] = defaultdict(list)
    for row in held:
        by_user[row.user_id].append(row)
    day = now.astimezone(CST).date().isoformat()
    messages = [
        Message(
            "digest.daily", user_id, None, None,
            {"recipient_id": user_id, "day": day,
             "counts": dict(Counter(row.type for row in rows)),
             "notification_ids": [row.id for row in rows][:DIGEST_LIST]},
            f"digest.daily:{user_id}:{day}",
        )
        for user_id, rows in by_user.items()
    ]  # fmt: skip
    written = await session.run_sync(lambda s: outbox.emit(s.connection(), messages, now))
    if held:
        # Released into the inbox behind the digest that names them.
        await session.execute(
            update(Notification)
            .where(Notification.id.in_([row.id for row in held]), Notification.visible_at.is_(None))
            .values(visible_at=now)
        )
    return written
