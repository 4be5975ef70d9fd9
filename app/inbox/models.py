"""Notifications: one row per message, written in the transaction of the change it tells of.

A row is the outbox (webhooks deliver it to the app's backend) and, when it has a recipient,
an entry of that user's inbox. It carries ids, the need's title, category and village code, and
never a household's name, ID number or phone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, UTCDateTime, utcnow
from app.core.vocabulary import sql_in

NotificationType = Literal[
    "need.published",
    "need.claimed",
    "need.released",
    "need.delivered",
    "need.fulfilled",
    "need.lapsed",
    "need.disputed",
    "pairing.proposed",
    "pairing.accepted",
    "pairing.declined",
    "pairing.lapsed",
    "thanks.received",
    "reminder.claim_lapsing",
    "reminder.proposal_waiting",
    "reminder.confirmation_waiting",
    "digest.daily",
]
TYPES: tuple[str, ...] = get_args(NotificationType)
REMINDERS = tuple(kind for kind in TYPES if kind.startswith("reminder."))
# What a user may choose per type: each one at once, gathered into a daily digest, or never.
Mode = Literal["immediate", "digest", "off"]
MODES: tuple[str, ...] = get_args(Mode)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(f"type IN {sql_in(TYPES)}", name="type"),
        Index("ix_notifications_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    # None: for the app's backend only (a need published is news to every donor, not one user).
    user_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("users.id"))
    need_id: Mapped[int | None] = mapped_column(BigIntPK)
    pairing_id: Mapped[int | None] = mapped_column(BigIntPK)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Set on what must be sent once (a reminder per record and due moment, a digest per day).
    key: Mapped[str | None] = mapped_column(String(120), unique=True)
    # When the inbox shows it and webhooks may send it; None while it waits for the digest.
    visible_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationSettings(Base):
    """A user's preferences, and how far the inbox has been read."""

    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("users.id"), primary_key=True)
    # type → mode, only where the user changed the default (immediate).
    modes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Quiet hours for reminders, as "HH:MM" in China Standard Time; equal means none.
    quiet_start: Mapped[str] = mapped_column(String(5), default="22:00")
    quiet_end: Mapped[str] = mapped_column(String(5), default="08:00")
    read_up_to: Mapped[int] = mapped_column(BigIntPK, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
