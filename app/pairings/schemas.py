"""What a pairing looks like to its donor and to admins in scope."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.vocabulary import Category
from app.pairings import states

# A pairing's status is a state of its transition table.
PairingStatus = states.State


class PairingNeed(BaseModel):
    """What a donor needs to decide on a proposal, of its need: no household's data."""

    title: str
    category: Category
    village_name: str
    value_fen: int = Field(description="Estimated value in fen (分)")
    urgency: int = Field(description="1 low, 2 normal, 3 urgent")
    deadline: dt.date


class PairingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    need_id: int
    donor_id: int
    offer_id: int | None
    source: states.Source
    status: PairingStatus
    predicted_success: float
    village_code: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    delivered_at: dt.datetime | None
    ended_at: dt.datetime | None
    delivery_note: str | None
    thanks: str | None
    need: PairingNeed

    @classmethod
    def of(cls, pairing: Any, need: PairingNeed) -> PairingRead:
        """The pairing (an ORM row) with its need's summary."""
        fields = {name: getattr(pairing, name) for name in cls.model_fields if name != "need"}
        return cls(**fields, need=need)


class PairingPage(BaseModel):
    items: list[PairingRead]
    next_cursor: str | None
