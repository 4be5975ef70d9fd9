"""一年一总结: a county's or a township's year, joined from every room of the house.

For a calendar year (CST) it gives the needs published, matched and fulfilled and 对接成功率 by
township and by category, each with its twelve months (the monthly figures are the same cohorts
as ``GET /stats/success``, so the year is their sum); the monthly assessment (一月一考核) and the
quarterly ranks (一季度一排名) of the townships; the donations online and offline that the
county's fund pool took in; the coverage of 户帮户亲帮亲 at each month's end (today for the month
under way, as in the monthly assessment of ``GET /stats/rankings``) and the help acts per
township and month; the programme pairings begun in the year and their success; and the donors
on the roll of honour. Every figure is an aggregate in SQL; no household is named.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from openpyxl import Workbook
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.errors import Forbidden, Unprocessable
from app.core.scope import Scope
from app.funds import disclosure
from app.helpers.schemas import MonthActs
from app.programmes import service as programmes
from app.regions.models import LEVEL_LENGTHS, Region
from app.stats import coverage, honour, periods, rankings, success
from app.stats.common import region_in_scope
from app.stats.schemas import CoverageOn, HonourEntry, SuccessGroup

SUMMARISERS = ("county", "township", "platform")
LEVELS = (LEVEL_LENGTHS["county"], LEVEL_LENGTHS["township"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Rank(BaseModel):
    quarter: str
    township: str
    name: str
    rank: int = Field(description="Among the county's townships (see /stats/rankings)")
    published: int
    fulfilled: int
    success_rate: float | None


class MonthCoverage(CoverageOn):
    """A township's 户帮户亲帮亲 in a month, as in the month's figures of the ranking."""

    month: str
    township: str
    help_acts: int = Field(description="Help acts of the township dated in the month")


class Donations(BaseModel):
    online_fen: int = Field(description="Online donations to the county's pool in the year")
    offline_fen: int = Field(description="Offline donations recorded by the county office")
    by_month: dict[str, dict[str, int]] = Field(description="month → channel → fen")


class ProgrammeFigures(BaseModel):
    kind: str
    started: int = Field(description="Pairings begun in the year")
    ongoing: int
    completed: int
    terminated: int
    sessions_planned: int
    sessions_held: int
    success: float | None = Field(description="Tutoring: sessions held / planned")


class AnnualSummary(BaseModel):
    scope: str
    name: str
    year: int
    needs_by_township: list[SuccessGroup] = Field(description="Totals and each month")
    needs_by_category: list[SuccessGroup]
    ranks: list[Rank] = Field(description="Each quarter's rank of the scope's townships")
    donations: Donations | None = Field(
        description="The county pool's income; null for a scope wider than one county"
    )
    coverage: list[MonthCoverage] = Field(
        description="户帮户亲帮亲 at each month's end so far (today for the month under way), for "
        "the townships with key households"
    )
    help_acts: list[MonthActs]
    programmes: list[ProgrammeFigures]
    honour_roll: list[HonourEntry]


def _check(admin: User, code: str) -> None:
    if admin.role not in SUMMARISERS:
        raise Forbidden("The year's summary is for township and county offices", code="not_allowed")
    if len(code) not in LEVELS:
        raise Unprocessable(
            "The year's summary is of a county or a township", code="scope_level_mismatch"
        )


async def _ranks(session: AsyncSession, code: str, year: int) -> list[Rank]:
    found = []
    county = code[:6]
    for number in range(1, 5):
        quarter = f"{year}Q{number}"
        lower, upper = periods.quarter_range(quarter)
        statement = rankings.ranking_statement(
            county, periods.midnight(lower), periods.midnight(upper)
        )
        for row in await session.execute(statement):
            if Scope(code).covers(row.code):
                found.append(
                    Rank(
                        quarter=quarter, township=row.code, name=row.name, rank=row.rank,
                        published=row.published, fulfilled=row.fulfilled,
                        success_rate=row.success_rate,
                    )
                )  # fmt: skip
    return found


async def _donations(session: AsyncSession, code: str, year: int) -> Donations:
    disclosed = await disclosure.disclose(session, code[:6], str(year))
    by_month: dict[str, dict[str, int]] = {}
    online = offline = 0
    for row in disclosed.income:
        by_month.setdefault(row.month, {})[row.channel] = row.amount_fen
        if row.channel == "offline":
            offline += row.amount_fen
        else:
            online += row.amount_fen
    return Donations(online_fen=online, offline_fen=offline, by_month=by_month)


def _coverage(helped: coverage.Months) -> list[MonthCoverage]:
    return [
        MonthCoverage(
            month=month, township=township, help_acts=helped.help_acts(township, month),
            **figures.model_dump(),
        )
        for (township, month), figures in helped.counted.items()
    ]  # fmt: skip


async def report(session: AsyncSession, admin: User, scope: str | None, year: int) -> AnnualSummary:
    """The year's summary of a county or a township of the admin's scope."""
    code = await region_in_scope(session, admin, scope)
    _check(admin, code)
    region = await session.get(Region, code)
    assert region is not None
    lower, upper = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    by_township = await success.report(
        session, admin, scope=code, group_by="township", period="month", lower=lower, upper=upper
    )
    by_category = await success.report(
        session, admin, scope=code, group_by="category", period="month", lower=lower, upper=upper
    )
    helped = await coverage.months(session, code, lower, upper)
    roll = await honour.roll(session, code, 100)
    return AnnualSummary(
        scope=code,
        name=region.name,
        year=year,
        needs_by_township=by_township.groups,
        needs_by_category=by_category.groups,
        ranks=await _ranks(session, code, year),
        donations=await _donations(session, code, year),
        coverage=_coverage(helped),
        help_acts=[
            MonthActs(township=t, month=m, acts=n) for (t, m), n in sorted(helped.acts.items())
        ],
        programmes=[
            ProgrammeFigures(**row) for row in await programmes.figures(session, code, lower, upper)
        ],
        honour_roll=roll.items,
    )


# -- the workbook -----------------------------------------------------------------------------


def _sheet(book: Any, title: str, header: list[str], rows: list[list[object]]) -> None:
    sheet = book.create_sheet(title)
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    sheet.freeze_panes = "A2"


def _needs_rows(groups: list[SuccessGroup]) -> list[list[object]]:
    rows: list[list[object]] = []
    for group in groups:
        for figures in [*group.periods, group.totals]:
            period = getattr(figures, "period", "全年")
            rows.append(
                [group.key, group.name, period, figures.published, figures.matched,
                 figures.fulfilled, figures.success_rate]
            )  # fmt: skip
    return rows


def workbook(summary: AnnualSummary) -> bytes:
    """The summary as an .xlsx workbook, one sheet per part, headings in Chinese."""
    book = Workbook()
    cover = book.active
    assert cover is not None
    cover.title = "概况"
    cover.append(["地区代码", "地区", "年度"])
    cover.append([summary.scope, summary.name, summary.year])
    needs = ["代码", "名称", "月份", "发布需求", "对接需求", "完成需求", "对接成功率"]
    _sheet(book, "需求对接（乡镇）", needs, _needs_rows(summary.needs_by_township))
    _sheet(book, "需求对接（类别）", needs, _needs_rows(summary.needs_by_category))
    _sheet(
        book, "季度排名",
        ["季度", "乡镇代码", "乡镇", "排名", "发布需求", "完成需求", "对接成功率"],
        [[r.quarter, r.township, r.name, r.rank, r.published, r.fulfilled, r.success_rate]
         for r in summary.ranks],
    )  # fmt: skip
    money = summary.donations
    _sheet(
        book, "捐赠", ["月份", "渠道", "金额（分）"],
        [] if money is None else
        [[month, channel, fen] for month, row in sorted(money.by_month.items())
         for channel, fen in sorted(row.items())],
    )  # fmt: skip
    _sheet(
        book, "户帮户亲帮亲",
        ["月份", "统计日", "乡镇代码", "重点户", "有帮扶人和联络员", "帮扶人和联络员覆盖率",
         "近30天有帮扶记录", "近30天帮扶覆盖率", "当月帮扶次数"],
        [[c.month, c.on, c.township, c.key_households, c.with_helper_and_liaison,
          c.helper_and_liaison_share, c.with_recent_act, c.recent_act_share, c.help_acts]
         for c in summary.coverage],
    )  # fmt: skip
    _sheet(
        book, "帮扶记录", ["月份", "乡镇代码", "帮扶次数"],
        [[a.month, a.township, a.acts] for a in summary.help_acts],
    )  # fmt: skip
    _sheet(
        book, "结对项目",
        ["类型", "新结对", "进行中", "已完成", "已终止", "计划课时", "已上课时", "完成率"],
        [[p.kind, p.started, p.ongoing, p.completed, p.terminated, p.sessions_planned,
          p.sessions_held, p.success] for p in summary.programmes],
    )  # fmt: skip
    _sheet(
        book, "爱心榜", ["名次", "爱心人士", "类型", "完成对接"],
        [[e.rank, e.display_name, e.kind, e.fulfilled] for e in summary.honour_roll],
    )  # fmt: skip
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
