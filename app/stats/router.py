"""Statistics: success rates by cohort, township rankings, calibration (admins); 爱心榜 (anyone)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.accounts.deps import Admin, CurrentUser
from app.core.db import SessionDep
from app.core.openapi import problems
from app.core.types import DIVISION_LENGTHS, CountyCode, Date, Quarter, code
from app.helpers.schemas import Coverage
from app.stats import annual, calibration, coverage, honour, rankings, success
from app.stats.periods import Period
from app.stats.schemas import Calibration, GroupBy, HonourRoll, Ranking, SuccessReport

router = APIRouter(prefix="/stats", tags=["stats"])

RegionCodeOrBlank = Annotated[str, code(*DIVISION_LENGTHS, blank=True)]
ScopeParam = Annotated[
    RegionCodeOrBlank | None,
    Query(
        description="A region code inside your scope (2, 4, 6, 9 or 12 digits; empty for "
        "everywhere); your own scope when omitted",
        examples=["430525"],
    ),
]
From = Annotated[
    Date | None,
    Query(alias="from", description="First day, inclusive, a CST calendar date (YYYY-MM-DD)"),
]
To = Annotated[
    Date | None,
    Query(alias="to", description="Day after the last, exclusive, a CST calendar date"),
]


@router.get("/success", response_model=SuccessReport, responses=problems(404))
async def read_success(
    session: SessionDep,
    admin: Admin,
    scope: ScopeParam = None,
    group_by: Annotated[GroupBy, Query(description="What each group is")] = "township",
    period: Annotated[Period, Query(description="Calendar months or quarters in CST")] = "month",
    date_from: From = None,
    date_to: To = None,
) -> SuccessReport:
    """对接成功率 and the other realised figures by publish cohort: every group × period.

    The range defaults to the twelve months up to the end of the current period; it spans at
    most five years.
    """
    return await success.report(
        session, admin, scope=scope, group_by=group_by, period=period,
        lower=date_from, upper=date_to,
    )  # fmt: skip


@router.get("/rankings", response_model=Ranking, responses=problems(404))
async def read_rankings(
    session: SessionDep,
    admin: Admin,
    scope: Annotated[CountyCode, Query(description="A county's code")],
    quarter: Annotated[
        Quarter, Query(description="A CST quarter, 2000Q1 to 2100Q4", examples=["2026Q3"])
    ],
) -> Ranking:
    """一季度一排名: a county's townships by the quarter's 对接成功率, with each month's figures."""
    return await rankings.report(session, admin, scope, quarter)


@router.get("/calibration", response_model=Calibration, responses=problems(404))
async def read_calibration(
    session: SessionDep,
    admin: Admin,
    scope: ScopeParam = None,
    date_from: From = None,
    date_to: To = None,
) -> Calibration:
    """The predicted success of ended pairings against their outcomes: Brier score and bins."""
    return await calibration.report(session, admin, scope=scope, lower=date_from, upper=date_to)


@router.get("/donors", response_model=HonourRoll, responses=problems(404))
async def read_honour_roll(
    session: SessionDep,
    user: CurrentUser,
    scope: Annotated[
        RegionCodeOrBlank,
        Query(description="A region code; empty for everywhere"),
    ] = "",
    limit: Annotated[int, Query(ge=1, le=100, description="Donors listed (1-100)")] = 20,
) -> HonourRoll:
    """爱心榜: the donors who opted in, by confirmed pairings in the scope; any signed-in user."""
    return await honour.roll(session, scope, limit)


@router.get("/helpers", response_model=Coverage, responses=problems(404))
async def read_helper_coverage(
    session: SessionDep,
    admin: Admin,
    scope: ScopeParam = None,
    on: Annotated[
        Date | None, Query(description="The day of the coverage (CST); today when omitted")
    ] = None,
    date_from: From = None,
    date_to: To = None,
) -> Coverage:
    """户帮户亲帮亲: the share of key households with a helper and a liaison, and with a help act
    in the last 30 days, by township; and the help acts per township and month."""
    return await coverage.report(session, admin, scope=scope, on=on, lower=date_from, upper=date_to)


Year = Annotated[int, Query(ge=2000, le=2100, description="A calendar year (CST)")]


@router.get("/annual", response_model=annual.AnnualSummary, responses=problems(403, 404))
async def read_annual_summary(
    session: SessionDep, admin: Admin, year: Year, scope: ScopeParam = None
) -> annual.AnnualSummary:
    """一年一总结: a county's or township's year: needs and 对接成功率 by township and
    category with each month, the quarterly ranks, donations, 户帮户亲帮亲, programmes and the
    roll of honour."""
    return await annual.report(session, admin, scope, year)


@router.get(
    "/annual.xlsx",
    response_class=Response,
    responses={
        200: {
            "description": "The year's summary as an Excel workbook",
            "content": {annual.XLSX: {"schema": {"type": "string", "format": "binary"}}},
        },
        **problems(403, 404),
    },
)
async def export_annual_summary(
    session: SessionDep, admin: Admin, year: Year, scope: ScopeParam = None
) -> Response:
    """The year's summary as an .xlsx workbook (one sheet per part, headings in Chinese)."""
    summary = await annual.report(session, admin, scope, year)
    filename = f"annual-{summary.scope}-{year}.xlsx"
    return Response(
        annual.workbook(summary),
        media_type=annual.XLSX,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
