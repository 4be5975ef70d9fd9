"""What an event looks like to a caller."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    entity: str
    entity_id: int
    action: str
    from_status: str | None
    to_status: str | None
    actor_id: int | None
    reason: str | None
    at: dt.datetime


class EventList(BaseModel):
    items: list[EventRead]
