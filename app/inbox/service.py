"""The inbox: a user's notifications newest first, what is unread, and the preferences.

The functions taking a :class:`~sqlalchemy.engine.Connection` serve the outbox, which writes in
the flush of the change it tells of (see :mod:`app.notifications.outbox`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.core.pagination import page_by_id
from app.core.upsert import insert_or_nothing
from app.inbox.models import REMINDERS, TYPES, Notification, NotificationSettings
from app.inbox.schemas import (
    NotificationPage,
    NotificationRead,
    Preferences,
    PreferencesUpdate,
    QuietHours,
)

CST = dt.timezone(dt.timedelta(hours=8), "CST")
DEFAULT_QUIET = ("22:00", "08:00")


@dataclass(frozen=True, slots=True)
class Plan:
    """How one user's notifications go out: per type a mode, and the quiet hours."""

    modes: dict[str, str] = field(default_factory=dict)
    quiet: tuple[str, str] = DEFAULT_QUIET

    def mode(self, kind: str) -> str:
        return self.modes.get(kind, "immediate")

    def visible_at(self, kind: str, now: dt.datetime) -> dt.datetime | None:
        """When a notification of ``kind`` made ``now`` shows: now, after the quiet hours (a
        reminder), or None (it waits for the digest)."""
        if self.mode(kind) == "digest" and kind != "digest.daily":
            return None
        if kind in REMINDERS:
            return quiet_end_after(now, *self.quiet)
        return now


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def quiet_end_after(now: dt.datetime, start: str, end: str) -> dt.datetime:
    """``now`` if it is outside the quiet hours (China Standard Time), else when they end."""
    begin, finish = _minutes(start), _minutes(end)
    local = now.astimezone(CST)
    minute = local.hour * 60 + local.minute
    inside = begin <= minute < finish if begin <= finish else minute >= begin or minute < finish
    if begin == finish or not inside:
        return now
    ending = local.replace(hour=finish // 60, minute=finish % 60, second=0, microsecond=0)
    if ending <= local:
        ending += dt.timedelta(days=1)
    return ending.astimezone(dt.UTC)


# Read in the flush of every change that tells someone something: built once.
_PLANS = select(
    NotificationSettings.user_id,
    NotificationSettings.modes,
    NotificationSettings.quiet_start,
    NotificationSettings.quiet_end,
).where(NotificationSettings.user_id.in_(bindparam("ids", expanding=True)))


def plans(connection: Connection, user_ids: Iterable[int]) -> dict[int, Plan]:
    """Each user's plan (users who never set one get the defaults)."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = connection.execute(_PLANS, {"ids": ids}).all()
    found = {
        row.user_id: Plan(dict(row.modes or {}), (row.quiet_start, row.quiet_end)) for row in rows
    }
    return {user_id: found.get(user_id, Plan()) for user_id in ids}


async def _settings(session: AsyncSession, user_id: int) -> NotificationSettings | None:
    return await session.get(NotificationSettings, user_id)


async def preferences(session: AsyncSession, user_id: int) -> Preferences:
    """The user's preferences, every type named."""
    row = await _settings(session, user_id)
    modes = dict(row.modes) if row else {}
    start, end = (row.quiet_start, row.quiet_end) if row else DEFAULT_QUIET
    return Preferences(
        modes={kind: modes.get(kind, "immediate") for kind in TYPES},
        quiet_hours=QuietHours(start=start, end=end),
    )


async def _settings_to_change(session: AsyncSession, user_id: int) -> NotificationSettings:
    """The user's settings row, written first if missing and locked until the request ends.

    The insert writes nothing where the row exists, so two first writes at once both go on to
    change the one row, one after the other, instead of colliding on its key.
    """
    start, end = DEFAULT_QUIET
    await session.execute(
        insert_or_nothing(session.get_bind().dialect.name, NotificationSettings, ["user_id"])
        .values(
            user_id=user_id, modes={}, quiet_start=start, quiet_end=end, read_up_to=0,
            updated_at=utcnow(),
        )
    )  # fmt: skip
    statement = (
        select(NotificationSettings)
        .where(NotificationSettings.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).one()


async def set_preferences(session: AsyncSession, user_id: int, data: PreferencesUpdate) -> None:
    """Change the types and quiet hours named in ``data``."""
    row = await _settings_to_change(session, user_id)
    if data.modes is not None:
        modes: dict[str, str] = {**(row.modes or {}), **dict(data.modes.items())}
        row.modes = {kind: mode for kind, mode in modes.items() if mode != "immediate"}
    if data.quiet_hours is not None:
        row.quiet_start, row.quiet_end = data.quiet_hours.start, data.quiet_hours.end
    row.updated_at = utcnow()
    await session.flush()


def _shown(user_id: int, now: dt.datetime):  # type: ignore[no-untyped-def]
    return (Notification.user_id == user_id, Notification.visible_at <= now)


async def unread_count(session: AsyncSession, user_id: int) -> int:
    """How many of the user's notifications shown so far are not read yet."""
    row = await _settings(session, user_id)
    read_up_to = row.read_up_to if row else 0
    count = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(*_shown(user_id, utcnow()), Notification.id > read_up_to)
    )
    return int(count or 0)


# What the account's own page shows of the inbox, in one statement built once: the unread count
# and the preferences (each a subquery of the user's settings row, absent until first written).
_MINE = NotificationSettings.user_id == bindparam("user_id")
_READ_UP_TO = select(NotificationSettings.read_up_to).where(_MINE).scalar_subquery()
# The unread count and the preferences as four columns of one row: of their own statement
# (:func:`summary`), or of the account's when /me reads both in one round trip.
SUMMARY_COLUMNS = (
    select(func.count())
    .select_from(Notification)
    .where(
        Notification.user_id == bindparam("user_id"),
        Notification.visible_at <= bindparam("now"),
        Notification.id > func.coalesce(_READ_UP_TO, 0),
    )
    .scalar_subquery(),
    select(NotificationSettings.modes).where(_MINE).scalar_subquery(),
    select(NotificationSettings.quiet_start).where(_MINE).scalar_subquery(),
    select(NotificationSettings.quiet_end).where(_MINE).scalar_subquery(),
)
_SUMMARY = select(*SUMMARY_COLUMNS)


async def summary(session: AsyncSession, user_id: int) -> tuple[int, Preferences]:
    """The unread count and the preferences, as :func:`unread_count` and :func:`preferences`."""
    connection = await session.connection()
    parameters = {"user_id": user_id, "now": utcnow()}
    return summary_of(*(await connection.execute(_SUMMARY, parameters)).one())


def summary_of(
    unread: int | None, modes: dict[str, str] | None, start: str | None, end: str | None
) -> tuple[int, Preferences]:
    """The summary from the values of :data:`SUMMARY_COLUMNS` (a user with no settings yet
    has none of the last three)."""
    if start is None or end is None:
        start, end = DEFAULT_QUIET
    return int(unread or 0), _preferences(tuple(sorted((modes or {}).items())), start, end)


@functools.lru_cache(maxsize=1024)
def _preferences(chosen: tuple[tuple[str, str], ...], start: str, end: str) -> Preferences:
    """The preferences of these choices, built once (~8 µs of GET /me's CPU): few accounts
    choose, and most choose alike. The models are frozen, so one instance serves them all."""
    modes = dict(chosen)
    return Preferences(
        modes={kind: modes.get(kind, "immediate") for kind in TYPES},
        quiet_hours=QuietHours(start=start, end=end),
    )


async def page(
    session: AsyncSession, user_id: int, *, cursor: str | None, limit: int
) -> NotificationPage:
    """A page of the user's notifications, newest first."""
    row = await _settings(session, user_id)
    read_up_to = row.read_up_to if row else 0
    statement = select(Notification).where(*_shown(user_id, utcnow()))
    items, next_cursor = await page_by_id(
        session, statement, Notification.id, limit=limit, cursor=cursor
    )
    return NotificationPage(
        items=[
            NotificationRead(
                id=item.id,
                type=item.type,
                data=item.data,
                created_at=item.created_at,
                read=item.id <= read_up_to,
            )
            for item in items
        ],
        next_cursor=next_cursor,
        unread=await unread_count(session, user_id),
    )


async def mark_read(session: AsyncSession, user_id: int, up_to_id: int) -> int:
    """Mark read every notification up to ``up_to_id`` (never moving the mark back); unread."""
    row = await _settings_to_change(session, user_id)
    row.read_up_to = max(row.read_up_to or 0, up_to_id)
    row.updated_at = utcnow()
    await session.flush()
    return await unread_count(session, user_id)
