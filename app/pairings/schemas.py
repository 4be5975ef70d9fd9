"""What a pairing looks like to its donor and to admins in scope."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

from app.pairings import states

# A pairing's status is a state of its transition table.
PairingStatus = states.State


class PairingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    need_id: int
    donor_id: int
    offer_id: int | None
    source: Literal["claim", "match"]
    status: PairingStatus
    predicted_success: float
    village_code: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    delivered_at: dt.datetime | None
    ended_at: dt.datetime | None
    delivery_note: str | None
    thanks: str | None


class PairingPage(BaseModel):
    items: list[PairingRead]
    next_cursor: str | None
