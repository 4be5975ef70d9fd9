"""Requests and responses of the need endpoints.

``NeedPublicRead`` is what a donor (or any signed-in caller outside the admin's scope) may see:
the need, its village, and the household's masked name and size. It has no field through which
personal data could pass; admins get ``NeedRead``, which adds bookkeeping, still no personal data.
Their ``view`` ("public" or "admin") tells them apart, the discriminator of the document.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.types import BigInteger, Date, Id, Integer, Text
from app.core.vocabulary import Category
from app.needs import states
from app.pairings.schemas import PairingRead

# A need's status is a state of its transition table.
Status = states.State
Sort = Literal["newest", "urgent", "deadline"]
Title = Annotated[str, Text(120)]
LongText = Annotated[str, Text(2000)]
Reason = Annotated[str, Text(500)]
ValueFen = Annotated[BigInteger, Field(ge=0, le=10**12, description="Estimated value in fen (分)")]
Urgency = Annotated[Integer, Field(ge=1, le=3, description="1 low, 2 normal, 3 urgent")]


class NeedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    household_id: Id
    category: Category
    title: Title = Field(examples=["冬季棉被两床"])
    description: LongText
    value_fen: ValueFen
    urgency: Urgency = 2
    deadline: Date = Field(description="The date by which the need must be met")
    origin: states.Origin = Field(
        default="admin",
        description="admin: posted by the village admin, published at once; household: the "
        "household's own request relayed by the admin, published after review",
    )


class NeedUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: LongText | None = None
    value_fen: ValueFen | None = None
    urgency: Urgency | None = None
    deadline: Date | None = None


class Review(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    reason: Reason | None = None


class Deliver(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: LongText | None = None


class Confirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thanks: LongText | None = Field(default=None, description="A thank-you the donor sees")


class WithReason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class OptionalReason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = None


class HouseholdBrief(BaseModel):
    masked_name: str = Field(examples=["刘**"])
    size: int
    key_household: bool


class NeedPublicRead(BaseModel):
    view: Literal["public"] = Field(description="Which shape this is: public (a donor's)")
    id: int
    category: Category
    title: str
    description: str
    value_fen: int
    urgency: int
    deadline: dt.date
    status: Status
    version: int
    village_code: str
    village_name: str
    household: HouseholdBrief
    created_at: dt.datetime
    published_at: dt.datetime | None
    funding_source: states.MoneySource | None = Field(
        None,
        description="Set while money pays for the need (a crowdfunding, or an allocation from "
        "the pool): it is given to with a donation, not claimed",
    )


class NeedRead(NeedPublicRead):
    view: Literal["admin"] = Field(  # type: ignore[assignment]
        description="Which shape this is: admin (an admin's in scope)"
    )
    household_id: int
    county_code: str
    origin: str
    created_by_id: int
    updated_at: dt.datetime
    fulfilled_at: dt.datetime | None
    closed_reason: str | None
    allowed_actions: list[str]


# A need as its reader may see it, told apart by ``view``.
AnyNeedRead = Annotated[NeedRead | NeedPublicRead, Field(discriminator="view")]


class NeedPage(BaseModel):
    items: list[AnyNeedRead]
    next_cursor: str | None


class ActionResult(BaseModel):
    need: AnyNeedRead
    pairing: PairingRead | None = None
