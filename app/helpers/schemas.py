"""Requests and responses of helpers, liaisons and help acts.

``HelperSummary`` carries the masked name and phone only; ``HelperRead`` adds the decrypted
name and phone for an admin whose scope covers the household, and each answer that carries it
is written to the household access log. A donor never receives either: a helper who is a donor
records help acts and gets the act back, which names no person.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.types import Date, Id, RegionCode, Text
from app.helpers.vocabulary import ActKind, Role
from app.households.schemas import Phone

PersonName = Annotated[
    str,
    Text(40),
    Field(description="The person's name (stored encrypted)", examples=["王建国"]),
]
ROLE_DOC = (
    "helper 主体帮扶人 (a neighbour or relative), liaison 帮扶联络员 (serves several households)"
)
KIND_DOC = "visit 走访, care 生活照料, production 生产帮扶, schooling 助学, health 健康, other 其他"


class HelperAssign(BaseModel):
    """Assign a household its helper or liaison: a person already registered (``helper_id``),
    or a new one (``name`` and ``phone``). A new assignment of a role replaces the old one from
    now on; the role's current holder named again keeps it as it was."""

    model_config = ConfigDict(extra="forbid")

    role: Role = Field(description=ROLE_DOC)
    helper_id: Id | None = Field(default=None, description="A registered helper or liaison")
    name: PersonName | None = None
    phone: Phone | None = None
    region_code: RegionCode | None = Field(
        default=None,
        description="Where a new person serves: the household's village (the default) or a "
        "wider region holding it, such as the township of a liaison of many households",
    )
    donor_id: Id | None = Field(
        default=None, description="The new person's donor account, through which they record acts"
    )

    @model_validator(mode="after")
    def _one_person(self) -> Self:
        new = (self.name, self.phone, self.region_code, self.donor_id)
        if self.helper_id is not None:
            if any(value is not None for value in new):
                raise ValueError("name a registered helper_id, or a new person, not both")
        elif self.name is None or self.phone is None:
            raise ValueError("a new person needs a name and a phone (or send helper_id)")
        return self


class HelperSummary(BaseModel):
    """A helper or liaison without personal data."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    region_code: str
    county_code: str
    name_masked: str = Field(examples=["王**"])
    phone_masked: str = Field(examples=["139****5678"])
    donor_id: int | None
    created_at: dt.datetime


class HelperListItem(HelperSummary):
    households: int = Field(description="Households the person is helper or liaison of")


class HelperRead(HelperSummary):
    """A helper or liaison with name and phone, for an admin whose scope covers the household."""

    name: str
    phone: str


class AssignmentRead(BaseModel):
    role: Role
    helper: HelperRead
    assigned_by_id: int
    assigned_at: dt.datetime = Field(description="Since when the person holds the role")


class HouseholdHelpers(BaseModel):
    """A household's helper and liaison (null while not assigned)."""

    household_id: int
    key_household: bool
    helper: AssignmentRead | None
    liaison: AssignmentRead | None


class HelpActCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    acted_on: Date = Field(description="The day of the act (CST); not in the future")
    kind: ActKind = Field(description=KIND_DOC)
    note: Annotated[str, Text(500)] = Field(examples=["上门看望，帮助收割稻谷"])
    helper_id: Id | None = Field(
        default=None,
        description="For an admin recording on a helper's behalf: whose act it was (the "
        "household's helper or liaison); a helper recording through a donor account is named "
        "by the account",
    )


class HelpActRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    household_id: int
    helper_id: int | None
    village_code: str
    acted_on: dt.date
    kind: ActKind
    note: str
    recorded_by_id: int
    created_at: dt.datetime


class CoverageFigures(BaseModel):
    key_households: int = Field(description="Key households (重点帮扶对象) of the region")
    with_helper_and_liaison: int = Field(
        description="Key households that had both a helper and a liaison on the day"
    )
    with_recent_act: int = Field(
        description="Key households with a help act in the 30 days up to the day, inclusive"
    )
    helper_and_liaison_share: float | None = Field(
        description="with_helper_and_liaison / key_households; null when there is none"
    )
    recent_act_share: float | None = Field(
        description="with_recent_act / key_households; null when there is none"
    )


class TownshipCoverage(CoverageFigures):
    code: str
    name: str


class MonthActs(BaseModel):
    township: str = Field(description="The township's code")
    month: str = Field(description="2026-07: the CST calendar month of the acts")
    acts: int


class Coverage(BaseModel):
    """户帮户亲帮亲 in figures: who has a helper and a liaison, and the acts recorded."""

    model_config = ConfigDict(populate_by_name=True)

    scope: str
    on: dt.date = Field(description="The day the coverage is taken on (CST)")
    from_: dt.date = Field(alias="from", description="First day (CST) of the acts counted")
    to: dt.date = Field(description="Day (CST) after the acts counted: exclusive")
    totals: CoverageFigures
    townships: list[TownshipCoverage]
    acts: list[MonthActs] = Field(description="Help acts per township and month, with acts only")
