"""Webhook endpoints and their deliveries, as a platform admin sees them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.core.types import Text
from app.inbox.models import NotificationType
from app.notifications.states import State


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Text(2000, strip=False)] = Field(
        description="https://… (http only to loopback outside production); never a private "
        "address unless the service allows it"
    )
    events: list[NotificationType] = Field(min_length=1, max_length=32)
    description: Annotated[str, Text(500, min_length=0)] | None = None


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    events: list[NotificationType]
    description: str | None
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    disabled_reason: str | None


class WebhookCreated(WebhookRead):
    secret: str = Field(description="whsec_ + base64: verifies webhook-signature; shown once")


class WebhookList(BaseModel):
    items: list[WebhookRead]


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    at: dt.datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    webhook_id: str = Field(description="The webhook-id header: the same on every attempt")
    notification_id: int
    type: NotificationType
    status: State
    attempts: list[AttemptRead]
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None
