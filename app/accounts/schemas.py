"""Requests and responses of the account endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)

from app.core.types import Text, code
from app.core.vocabulary import AdminRole, DonorKind, Role


def _lower(value: object) -> object:
    # pydantic checks ``pattern`` before applying ``to_lower``: lower-case first, so that "LiHua"
    # is accepted as "lihua" rather than rejected by the lower-case pattern. ASCII only, so that
    # no other character (the Kelvin sign lower-cases to "k") turns into an accepted one.
    return value.lower() if isinstance(value, str) and value.isascii() else value


Username = Annotated[
    str,
    Text(64, min_length=3, pattern=r"^[a-z0-9][a-z0-9_.\-]*$"),
    BeforeValidator(_lower),
    Field(
        description="3-64 characters: letters, digits, '_', '.', '-'; case-insensitive",
        examples=["lihua"],
    ),
]
Password = Annotated[
    str, Text(128, min_length=8, strip=False), Field(description="8-128 characters")
]
DisplayName = Annotated[
    str,
    Text(100),
    Field(examples=["李华"]),
]
ScopeCode = Annotated[
    str,
    code(6, 9, 12, blank=True),
    Field(
        description="The region code the admin acts in: 6 digits for a county admin, "
        "9 for a township, 12 for a village, empty for the platform admin",
        examples=["430525101"],
    ),
]


class Register(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Password
    display_name: DisplayName
    kind: DonorKind = Field(
        description="individual 爱心人士, enterprise 爱心企业, organization 社会组织"
    )


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token stays valid")
    refresh_token: str
    refresh_expires_in: int = Field(description="Seconds the refresh token stays valid")


class Refresh(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: Annotated[str, Text(200, strip=False)]


class Me(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    kind: DonorKind | None = Field(validation_alias="donor_kind")
    scope: str | None = Field(
        validation_alias="scope_code", description="The admin's region-code prefix; null for donors"
    )
    honour_roll: bool | None = Field(
        default=None,
        description="A donor's consent to be listed on the roll of honour (爱心榜); "
        "null for admins",
    )
    created_at: dt.datetime

    @field_validator("honour_roll")
    @classmethod
    def _donors_only(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        return value if info.data.get("role") == "donor" else None


class MeUpdate(BaseModel):
    """The settings a donor changes on their own account."""

    model_config = ConfigDict(extra="forbid")

    honour_roll: StrictBool = Field(
        description="true: list me on the roll of honour (爱心榜) with my display name and my "
        "confirmed pairings; false: never list me"
    )


class AdminCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Password
    role: AdminRole
    scope: ScopeCode
    display_name: DisplayName | None = None


class AdminRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: AdminRole
    scope: str = Field(validation_alias="scope_code")
    is_active: bool
    created_at: dt.datetime


class AdminList(BaseModel):
    items: list[AdminRead]
    total: int
