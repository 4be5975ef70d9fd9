"""Requests and responses of the account endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.accounts import usernames
from app.core.types import Mobile, Text, code
from app.core.vocabulary import AdminRole, DonorKind, Role
from app.inbox.schemas import Preferences, PreferencesUpdate


def _username(value: str) -> str:
    name = usernames.canonical(value)
    if (wrong := usernames.problem(name)) is not None:
        raise PydanticCustomError("username", wrong)
    return name


Username = Annotated[
    str,
    Text(128),
    AfterValidator(_username),
    Field(
        description="2-64 letters of any script (Chinese included), ASCII digits, '_', '.', '-'; "
        "stored in one canonical form (NFKC, case-folded, lookalikes of ASCII letters folded), "
        "so 'ＬｉＨｕａ' is 'lihua'; a mobile number is not a username",
        examples=["lihua", "张小三"],
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


Phone = Annotated[
    Mobile, Field(description="A mainland mobile number (11 digits)", examples=["13912345678"])
]


class SmsSend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Phone


class PhoneRegister(BaseModel):
    """A donor account signed in to by mobile number, proven by the code sent to it."""

    model_config = ConfigDict(extra="forbid")

    phone: Phone
    code: Annotated[
        str,
        Text(6, strip=False, pattern=r"^[0-9]{6}$"),
        Field(description="The 6-digit code sent to the number"),
    ]
    password: Password
    display_name: DisplayName
    kind: DonorKind = Field(
        description="individual 爱心人士, enterprise 爱心企业, organization 社会组织"
    )


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Annotated[str, Text(128, strip=False)]
    new_password: Password


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token stays valid")
    refresh_token: str
    refresh_expires_in: int = Field(description="Seconds the refresh token stays valid")


RefreshTokenText = Annotated[str, Text(200, strip=False)]


class Refresh(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: RefreshTokenText


class Logout(BaseModel):
    """Which session ends: the refresh token's, or without one, the bearer token's."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: RefreshTokenText | None = None


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
    unread_notifications: int = Field(default=0, description="Notifications not read yet")
    notifications: Preferences = Field(
        default_factory=Preferences.default,
        description="How each notification type reaches the account",
    )

    @field_validator("honour_roll")
    @classmethod
    def _donors_only(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        return value if info.data.get("role") == "donor" else None


class MeUpdate(BaseModel):
    """The settings a user changes on their own account."""

    model_config = ConfigDict(extra="forbid")

    honour_roll: StrictBool | None = Field(
        default=None,
        description="A donor's: true: list me on the roll of honour (爱心榜) with my display "
        "name and my confirmed pairings; false: never list me",
    )
    notifications: PreferencesUpdate | None = Field(
        default=None, description="Per type immediate, daily digest or off; quiet hours"
    )

    @model_validator(mode="after")
    def _changes_something(self) -> MeUpdate:
        if self.honour_roll is None and self.notifications is None:
            raise ValueError("name a setting to change: honour_roll or notifications")
        return self


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
    next_cursor: str | None = Field(
        description="Pass as cursor to get the next page; null on the last page"
    )
