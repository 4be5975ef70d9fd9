"""Exports to .xlsx (台账): the household roster, needs, pairings and the quarter's ranking.

Each is read in SQL through the admin's scope. The roster carries the households' personal data,
so each household exported is written to the access log (action ``export``) in the request's
transaction, as every other disclosure is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.accounts.policy import admin_scope
from app.console.households import office, parsed
from app.console.offices import county_of, current_quarter
from app.console.render import (
    CATEGORY_NAMES,
    NEED_STATUS_NAMES,
    PAIRING_STATUS_NAMES,
    SUPPORT_NAMES,
    URGENCY_NAMES,
)
from app.console.session import ConsoleUser
from app.console.spreadsheet import workbook
from app.core.crypto import Vault, VaultDep
from app.core.db import SessionDep, utcnow, writes
from app.core.errors import NotFound
from app.core.logging import current_request_id
from app.core.types import Quarter
from app.households.models import Household, HouseholdAccess
from app.needs.models import Need
from app.pairings.models import Pairing
from app.pairings.states import HOLDING
from app.regions.models import Region
from app.stats import rankings
from app.stats.periods import CST

router = APIRouter()

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(content: bytes, name: str) -> Response:
    disposition = f"attachment; filename=\"export.xlsx\"; filename*=UTF-8''{quote(name)}"
    return Response(content, media_type=XLSX, headers={"content-disposition": disposition})


def _when(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.astimezone(CST).strftime("%Y-%m-%d %H:%M")


async def roster_lines(session: AsyncSession, vault: Vault, admin: User) -> list[list[Any]]:
    """The households of the admin's scope with their personal data; every one logged."""
    rows = (
        await session.execute(
            select(Household, Region.name)
            .join(Region, Region.code == Household.village_code)
            .where(admin_scope(admin).where(Household.village_code))
            .order_by(Household.village_code, Household.id)
        )
    ).all()
    if rows:
        now, request_id = utcnow(), current_request_id()
        await session.execute(
            insert(HouseholdAccess),
            [
                {"household_id": household.id, "actor_id": admin.id, "action": "export",
                 "request_id": request_id, "at": now}
                for household, _ in rows
            ],
        )  # fmt: skip
    return [
        [
            household.id, household.village_code, village,
            vault.decrypt(household.head_name_encrypted),
            vault.decrypt(household.id_number_encrypted),
            vault.decrypt(household.phone_encrypted),
            household.size, SUPPORT_NAMES[household.support_category],
            "是" if household.key_household else "否",
            household.main_helper or "", household.liaison or "",
        ]
        for household, village in rows
    ]  # fmt: skip


@router.get("/exports/roster.xlsx")
@writes  # the export is written to the access log
async def export_roster(session: SessionDep, vault: VaultDep, user: ConsoleUser) -> Response:
    """The household roster (花名册) of the scope, with personal data (logged)."""
    lines = await roster_lines(session, vault, office(user))
    headings = [
        "编号", "村代码", "村", "户主姓名", "身份证号", "联系电话", "家庭人口", "帮扶类别",
        "重点帮扶对象", "帮扶责任人", "联络人",
    ]  # fmt: skip
    content = await asyncio.to_thread(workbook, "受助户花名册", headings, lines)
    return _xlsx(content, "受助户花名册.xlsx")


async def need_lines(session: AsyncSession, admin: User) -> list[list[Any]]:
    """The needs of the scope, each with its status and the donor holding or having met it."""
    holder = (
        select(Pairing.need_id, User.display_name)
        .join(User, User.id == Pairing.donor_id)
        .where(Pairing.status.in_((*HOLDING, "confirmed")))
        .subquery()
    )
    rows = (
        await session.execute(
            select(Need, Region.name, Household.head_name_masked, holder.c.display_name)
            .join(Region, Region.code == Need.village_code)
            .join(Household, Household.id == Need.household_id)
            .outerjoin(holder, holder.c.need_id == Need.id)
            .where(admin_scope(admin).where(Need.village_code))
            .order_by(Need.id)
        )
    ).all()
    return [
        [
            need.id, need.village_code, village, masked, CATEGORY_NAMES[need.category],
            need.title, need.value_fen / 100, URGENCY_NAMES.get(need.urgency, ""),
            need.deadline.isoformat(), NEED_STATUS_NAMES[need.status], donor or "",
            _when(need.published_at), _when(need.fulfilled_at),
        ]
        for need, village, masked, donor in rows
    ]  # fmt: skip


@router.get("/exports/needs.xlsx")
async def export_needs(session: SessionDep, user: ConsoleUser) -> Response:
    """The needs of the scope with status and donor (no personal data)."""
    lines = await need_lines(session, office(user))
    headings = [
        "编号", "村代码", "村", "户主", "类别", "标题", "估价（元）", "紧急程度", "截止日期",
        "状态", "捐赠方", "发布时间", "完成时间",
    ]  # fmt: skip
    content = await asyncio.to_thread(workbook, "需求台账", headings, lines)
    return _xlsx(content, "需求台账.xlsx")


async def pairing_lines(session: AsyncSession, admin: User) -> list[list[Any]]:
    rows = (
        await session.execute(
            select(Pairing, Need.title, Need.category, Region.name, User.display_name)
            .join(Need, Need.id == Pairing.need_id)
            .join(Region, Region.code == Pairing.village_code)
            .join(User, User.id == Pairing.donor_id)
            .where(admin_scope(admin).where(Pairing.village_code))
            .order_by(Pairing.id)
        )
    ).all()
    return [
        [
            pairing.id, pairing.need_id, title, CATEGORY_NAMES[category], village, donor,
            "认领" if pairing.source == "claim" else "匹配推荐",
            PAIRING_STATUS_NAMES[pairing.status], pairing.predicted_success,
            _when(pairing.created_at), _when(pairing.delivered_at), _when(pairing.ended_at),
        ]
        for pairing, title, category, village, donor in rows
    ]  # fmt: skip


@router.get("/exports/pairings.xlsx")
async def export_pairings(session: SessionDep, user: ConsoleUser) -> Response:
    """The pairings of the scope: need, donor, how they came about and how they stand."""
    lines = await pairing_lines(session, office(user))
    headings = [
        "编号", "需求编号", "需求", "类别", "村", "捐赠方", "来源", "状态", "预测成功率",
        "开始时间", "送达时间", "结束时间",
    ]  # fmt: skip
    content = await asyncio.to_thread(workbook, "对接台账", headings, lines, percent_columns=(8,))
    return _xlsx(content, "对接台账.xlsx")


def ranking_lines(townships: Sequence[Any]) -> list[list[Any]]:
    lines = []
    for township in townships:
        line = [
            township.rank, township.code, township.name, township.published,
            township.fulfilled, township.success_rate,
        ]  # fmt: skip
        for month in township.months:
            line += [month.published, month.fulfilled, month.success_rate]
        lines.append(line)
    return lines


@router.get("/exports/ranking.xlsx")
async def export_ranking(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """The quarter's ranking of the county's townships (一季度一排名), each month's figures."""
    admin = office(user)
    quarter, ok = parsed(Quarter, request.query_params.get("quarter", ""))
    quarter = quarter if ok and quarter else current_quarter()
    county = county_of(request, admin)
    if county is None:
        raise NotFound("Choose a county to rank", code="region_not_found")
    ranking = await rankings.report(session, admin, county, quarter)
    months = ranking.townships[0].months if ranking.townships else []
    headings = ["排名", "乡镇代码", "乡镇", "发布", "完成", "对接成功率"]
    for month in months:
        headings += [f"{month.period} 发布", f"{month.period} 完成", f"{month.period} 成功率"]
    percents = (5, *(8 + 3 * i for i in range(len(months))))
    content = await asyncio.to_thread(
        workbook, f"{quarter} 排名", headings, ranking_lines(ranking.townships),
        percent_columns=percents,
    )  # fmt: skip
    return _xlsx(content, f"{ranking.name}{quarter}乡镇排名.xlsx")
