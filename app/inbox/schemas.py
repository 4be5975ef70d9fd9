"""What a user reads of their notifications, and the preferences they set."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.types import Id, Text
from app.inbox.models import TYPES, Mode, NotificationType

TimeOfDay = Annotated[str, Text(5, strip=False, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
"""A time of day, HH:MM (24 hours), in China Standard Time."""


class QuietHours(BaseModel):
    """Reminders falling between ``start`` and ``end`` (China Standard Time) wait for ``end``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: TimeOfDay = "22:00"
    end: TimeOfDay = "08:00"


class Preferences(BaseModel):
    """How each type reaches the user: at once, in the daily digest, or not at all."""

    model_config = ConfigDict(frozen=True)  # one instance may serve many answers

    modes: dict[NotificationType, Mode] = Field(
        description="Every type with its mode (immediate unless the user chose otherwise)"
    )
    quiet_hours: QuietHours

    @classmethod
    def default(cls) -> Preferences:
        """What a user who never chose has: every type at once, quiet from 22:00 to 08:00."""
        return cls(modes=dict.fromkeys(TYPES, "immediate"), quiet_hours=QuietHours())


class PreferencesUpdate(BaseModel):
    """The preferences to change; types not named keep theirs."""

    model_config = ConfigDict(extra="forbid")

    modes: dict[NotificationType, Mode] | None = None
    quiet_hours: QuietHours | None = None


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: NotificationType
    data: dict[str, Any] = Field(description="Ids, the need's title, category and village code")
    created_at: dt.datetime
    read: bool


class NotificationPage(BaseModel):
    items: list[NotificationRead]
    next_cursor: str | None
    unread: int


class ReadUpTo(BaseModel):
    """Mark as read every notification up to and including ``up_to_id``."""

    model_config = ConfigDict(extra="forbid")

    up_to_id: Id
