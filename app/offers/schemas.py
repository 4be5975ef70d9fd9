"""Requests and responses of the offer endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.types import DIVISION_LENGTHS, BigInteger, DateTime, Integer, Text, code
from app.core.vocabulary import Category

OfferStatus = Literal["open", "withdrawn", "exhausted", "expired"]


class OfferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    title: Annotated[str, Text(120)]
    description: Annotated[str, Text(2000)]
    capacity: Annotated[
        Integer, Field(ge=1, le=10_000, description="How many needs the offer can serve")
    ]
    region_preference: Annotated[str, code(*DIVISION_LENGTHS, blank=True)] = Field(
        default="",
        description="A region code the donor wants to help inside ('' for anywhere)",
    )
    value_cap_fen: BigInteger | None = Field(
        default=None, ge=0, le=10**12, description="The most one need may be worth, in fen"
    )
    available_until: DateTime | None = Field(
        default=None, description="When the offer lapses (with a time zone)"
    )


class OfferRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    donor_id: int
    category: Category
    title: str
    description: str
    capacity: int
    capacity_used: int
    region_preference: str
    value_cap_fen: int | None
    available_until: dt.datetime | None
    status: OfferStatus
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class OfferPage(BaseModel):
    items: list[OfferRead]
    next_cursor: str | None
