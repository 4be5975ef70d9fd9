"""Requests and responses of the household endpoints.

``HouseholdSummary`` carries no personal data (the masked name only) and is what lists return;
``HouseholdRead`` adds the decrypted name, ID number and phone, and every response that carries it
is written to the access log. Neither is ever shown to a donor.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

from app.core.idcard import normalize_id_number
from app.core.types import Integer, Text, VillageCode

SupportCategory = Literal["poor", "dibao", "tekun", "edge", "other"]

_PHONE = re.compile(r"1[3-9]\d{9}|0\d{2,3}-?\d{7,8}", re.ASCII)


def _id_number(value: str) -> str:
    return normalize_id_number(value)


def _phone(value: str) -> str:
    if not _PHONE.fullmatch(value):
        raise ValueError(
            "a phone number is a mainland mobile (11 digits, 13x-19x) "
            "or a landline with its area code, such as 0739-7221234"
        )
    return value


HeadName = Annotated[
    str,
    Text(40),
    Field(description="The head of household's name (stored encrypted)", examples=["刘德华"]),
]
IdNumber = Annotated[
    str,
    Text(32),
    AfterValidator(_id_number),
    Field(
        description="Resident ID number: 18 characters, ASCII digits with a valid check digit "
        "(stored encrypted; a trailing x is read as X)",
        examples=["430525198001011233"],
    ),
]
Phone = Annotated[
    str,
    Text(20),
    AfterValidator(_phone),
    Field(
        description="A mainland mobile or a landline with area code (stored encrypted)",
        examples=["13912345678"],
    ),
]
Size = Annotated[Integer, Field(ge=1, le=30, description="People in the household")]
Helper = Annotated[str, Text(100)]
CATEGORY_DOC = "poor 建档立卡, dibao 低保, tekun 五保/特困, edge 边缘易致贫, other"


class HouseholdCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    village_code: VillageCode = Field(examples=["430525101201"])
    head_name: HeadName
    id_number: IdNumber
    phone: Phone
    size: Size
    support_category: SupportCategory = Field(description=CATEGORY_DOC)
    key_household: StrictBool = Field(default=False, description="重点帮扶对象")
    main_helper: Helper | None = Field(default=None, description="The main helper (帮扶责任人)")
    liaison: Helper | None = Field(default=None, description="The liaison (联络人)")


# Fields that may be left out of a PATCH but never set to null.
_NOT_NULL = ("head_name", "phone", "size", "support_category", "key_household")


class HouseholdUpdate(BaseModel):
    """A partial update: only the fields sent change; main_helper and liaison may be null."""

    model_config = ConfigDict(extra="forbid")

    head_name: HeadName | None = None
    phone: Phone | None = None
    size: Size | None = None
    support_category: SupportCategory | None = Field(default=None, description=CATEGORY_DOC)
    key_household: StrictBool | None = None
    main_helper: Helper | None = None
    liaison: Helper | None = None

    @model_validator(mode="after")
    def _something_valid_to_change(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("nothing to change: send at least one field")
        sent = self.model_fields_set
        nulls = [name for name in _NOT_NULL if name in sent and getattr(self, name) is None]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self


class HouseholdSummary(BaseModel):
    """A household without personal data."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    village_code: str
    head_name_masked: str = Field(examples=["刘**"])
    size: int
    support_category: SupportCategory
    key_household: bool
    main_helper: str | None
    liaison: str | None
    version: int
    created_at: dt.datetime


class HouseholdRead(HouseholdSummary):
    """A household with its personal data, for an admin whose scope covers it."""

    village_name: str = Field(examples=["江口村"])
    county_code: str
    head_name: str
    id_number: str
    phone: str
    created_by_id: int
    updated_at: dt.datetime


class AccessLogEntry(BaseModel):
    """One disclosure of a household's personal data: who, when, which household, how."""

    id: int
    household_id: int
    village_code: str
    head_name_masked: str = Field(examples=["刘**"])
    actor_id: int
    actor_username: str
    actor_display_name: str
    actor_role: str
    action: str = Field(
        description="create, read, update, lookup (found by ID number) or replay (a creation "
        "replayed to a retry with the same Idempotency-Key)"
    )
    request_id: str | None
    at: dt.datetime
