"""Requests and responses of the fund pool. None carries a household's personal data: a need
is named by its id, category and village."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.types import BigInteger, CountyCode, Date, Id, Text
from app.core.vocabulary import Category

AmountFen = Annotated[BigInteger, Field(ge=1, le=10**10, description="An amount in fen (分)")]
Reason = Annotated[str, Text(500)]
Voucher = Annotated[str, Text(64, pattern=r"^[0-9A-Za-z_-]+$")]
DonationStatus = Literal["pending", "paid", "failed", "closed", "reversed"]
FundingStatus = Literal["open", "funded", "purchased", "completed", "expired"]
AllocationStatus = Literal["proposed", "approved", "rejected", "executed"]


class Target(BaseModel):
    """Where a donation goes: a county's pool, or one crowdfunded need."""

    model_config = ConfigDict(extra="forbid")

    pool: CountyCode | None = Field(default=None, examples=["430525"])
    need_id: Id | None = None

    @model_validator(mode="after")
    def _one(self) -> Target:
        if (self.pool is None) == (self.need_id is None):
            raise ValueError("name either a county's pool or a need, not both")
        return self


class DonationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_fen: AmountFen
    target: Target
    channel: Literal["wechat_pay", "credits"] = Field(
        description="wechat_pay: pay by a WeChat Pay order; credits: from your credits"
    )


class DonationRead(BaseModel):
    id: int
    status: DonationStatus
    channel: str
    amount_fen: int
    to_need_fen: int
    county_code: str
    need_id: int | None
    out_trade_no: str | None
    code_url: str | None = Field(description="The WeChat Pay link to show as a QR code")
    receipt_no: str | None
    paid_at: dt.datetime | None
    created_at: dt.datetime


class OfflineDonationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    county: CountyCode
    voucher_no: Voucher = Field(examples=["XJ2026-0001"])
    amount_fen: AmountFen
    donor_name: Annotated[str, Text(60)] | None = None
    received_on: Date


class ReverseDonation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class Receipt(BaseModel):
    """A donation's receipt (捐赠收据): gapless per county and year."""

    receipt_no: str
    donation_id: int
    amount_fen: int
    channel: str
    county_code: str
    county_name: str
    need_id: int | None
    donor: str | None
    paid_at: dt.datetime
    reversed: bool


class NotifyAnswer(BaseModel):
    """What the channel is told: the notification was taken (it stops sending it)."""

    code: Literal["SUCCESS"] = "SUCCESS"
    message: str
    outcome: str


class FundingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    need_id: Id
    deadline: Date = Field(description="Unfunded by then, the donors' shares become credits")


class FundingRead(BaseModel):
    id: int
    need_id: int
    category: str
    village_code: str
    source: str
    status: FundingStatus
    target_fen: int
    raised_fen: int
    deadline: dt.date | None
    funded_at: dt.datetime | None
    purchased_at: dt.datetime | None
    completed_at: dt.datetime | None
    version: int


class Purchase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    voucher_no: Voucher | None = None
    photo_id: Id | None = Field(default=None, description="A photo of the need: the receipt")
    note: Annotated[str, Text(500)] | None = None


class AllocationWeights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    urgency: Annotated[float, Field(ge=0, le=10)] = 0.5
    key_household: Annotated[float, Field(ge=0, le=10)] = 1.0
    waiting: Annotated[float, Field(ge=0, le=10)] = 0.1


class AllocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    county: CountyCode
    weights: AllocationWeights = AllocationWeights()


class AllocationItemRead(BaseModel):
    need_id: int
    amount_fen: int
    priority: float


class AllocationRead(BaseModel):
    id: int
    county_code: str
    status: AllocationStatus
    pool_fen: int
    total_fen: int
    objective: float
    candidates: int
    solver_seconds: float
    items: list[AllocationItemRead]
    version: int
    created_at: dt.datetime
    decided_at: dt.datetime | None


class DecideAllocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = None


class IncomeRow(BaseModel):
    month: str
    channel: str
    amount_fen: int


class SpendingRow(BaseModel):
    township_code: str
    township_name: str
    category: Category
    allocated_fen: int
    disbursed_fen: int


class Disbursement(BaseModel):
    need_id: int
    category: Category
    village_code: str
    village_name: str
    amount_fen: int
    disbursed_at: dt.datetime


class SponsorshipFigures(BaseModel):
    """一助一 sponsorship money: a sponsor's payment for a student's term, which is not a
    donation and counts in none of the donations' figures. No student or household is named."""

    received_fen: int = Field(description="Received from sponsors")
    disbursed_fen: int = Field(description="Paid out to the sponsored students' households")
    refunded_fen: int = Field(description="Refunded to the sponsors of terminated pairings")


class SponsorshipRow(SponsorshipFigures):
    month: str


class Balances(BaseModel):
    pool_fen: int
    restricted_fen: int = Field(description="Held in needs' accounts, not yet spent")
    credits_fen: int = Field(description="Donors' credits from expired crowdfunding")
    sponsorship_fen: int = Field(
        description="Held for 一助一 pairings: received from sponsors, not yet paid out or refunded"
    )


class DisclosureRead(BaseModel):
    """A county's public disclosure (公示): no household is named."""

    county_code: str
    county_name: str
    period: str
    income: list[IncomeRow]
    spending: list[SpendingRow]
    sponsorship: list[SponsorshipRow] = Field(
        description="一助一 sponsorship money by month: received, paid out and refunded"
    )
    balance: Balances
    disbursements: list[Disbursement]


class FundStats(BaseModel):
    """A county's money as its reports give it: online and offline, all time and this year."""

    county_code: str
    online_fen: int
    offline_fen: int
    online_year_fen: int
    offline_year_fen: int
    pool_fen: int
    sponsorship: SponsorshipFigures = Field(description="一助一 sponsorship money, all time")
    sponsorship_year: SponsorshipFigures = Field(description="一助一 sponsorship money this year")
