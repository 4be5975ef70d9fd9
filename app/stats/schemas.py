"""Responses of the statistics endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.vocabulary import DonorKind
from app.helpers.schemas import CoverageFigures
from app.stats.periods import Period

GroupBy = Literal["township", "village", "category", "source", "donor_kind"]
Rate = float | None


class Figures(BaseModel):
    """The figures of one publish cohort (or of a group's cohorts over the whole range)."""

    published: int
    matched: int
    fulfilled: int
    success_rate: Rate = Field(description="对接成功率: fulfilled / published; null when 0")
    proposals: int
    accepted: int
    acceptance_rate: Rate = Field(description="accepted / proposals; null when 0")
    pairings_ended: int
    pairings_confirmed: int
    fulfilment_rate: Rate = Field(description="pairings_confirmed / pairings_ended; null when 0")
    median_days_to_fulfil: float | None = Field(
        description="Median days from publish to fulfil of the fulfilled needs; null when none"
    )


class PeriodFigures(Figures):
    period: str = Field(description="2026-03 (a month) or 2026Q1 (a quarter), in CST")


class SuccessGroup(BaseModel):
    key: str = Field(description="A region code, a category, a source or a donor kind")
    name: str = Field(description="The region's name; the key itself for other groupings")
    totals: Figures = Field(description="The group's figures over the whole range")
    periods: list[PeriodFigures] = Field(description="Every period of the range, oldest first")


class SuccessReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    scope: str
    group_by: GroupBy
    period: Period
    from_: dt.date = Field(alias="from", description="First day (CST) of the range, inclusive")
    to: dt.date = Field(description="Day (CST) after the range: exclusive")
    definitions: dict[str, str]
    groups: list[SuccessGroup]


class CoverageOn(CoverageFigures):
    """户帮户亲帮亲 coverage of a township at a month's end."""

    on: dt.date = Field(
        description="The day counted (CST): the month's last day, or today for the month under way"
    )


class MonthFigures(BaseModel):
    period: str = Field(description="2026-07: a CST calendar month")
    published: int
    fulfilled: int
    success_rate: Rate
    help_acts: int = Field(description="户帮户亲帮亲 help acts of the township dated in the month")
    coverage: CoverageOn | None = Field(
        description="户帮户亲帮亲 coverage at the month's end (today for the month under way); "
        "null for a month not begun"
    )


class TownshipRank(BaseModel):
    rank: int = Field(description="1-based; distinct even on ties (see tie_rule)")
    code: str
    name: str
    published: int
    fulfilled: int
    success_rate: Rate = Field(description="The quarter's 对接成功率; null with no published need")
    months: list[MonthFigures] = Field(description="The quarter's three months (一月一考核)")


class Ranking(BaseModel):
    scope: str = Field(description="The county's code")
    name: str = Field(description="The county's name")
    quarter: str
    tie_rule: str
    definitions: dict[str, str]
    townships: list[TownshipRank]


class CalibrationBin(BaseModel):
    lower: float
    upper: float = Field(description="Exclusive, except 1.0 for the last bin")
    count: int
    mean_predicted: float | None
    observed_rate: float | None


class Calibration(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    scope: str
    from_: dt.date | None = Field(alias="from", description="Pairings ended on or after (CST)")
    to: dt.date | None = Field(description="Pairings ended before (CST)")
    definitions: dict[str, str]
    count: int
    brier: float | None = Field(description="Mean of (predicted_success - outcome)²")
    observed_rate: float | None
    mean_predicted: float | None
    reference_brier: float | None = Field(
        description="Brier score of always predicting observed_rate: r(1 - r)"
    )
    bins: list[CalibrationBin]


class HonourEntry(BaseModel):
    rank: int
    donor_id: int
    display_name: str
    kind: DonorKind
    fulfilled: int = Field(description="Confirmed pairings in the scope")


class HonourRoll(BaseModel):
    scope: str
    definition: str
    items: list[HonourEntry]
