"""Importing households from the register's .xlsx: a template, a dry run, then the commit.

A dry run checks every row and reports the bad ones by row number and reason; the commit
registers the good rows through the household service (in chunks by
:func:`~app.households.service.register_checked`, one by one by ``create_household`` after a
conflict), one per ID number, so importing the same file again registers nothing (its rows
are already registered).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from app.accounts.models import User
from app.accounts.policy import admin_scope
from app.console import spreadsheet
from app.console.households import office
from app.console.render import page
from app.console.session import ConsoleUser, Csrf
from app.core.crypto import Vault, VaultDep
from app.core.db import SessionDep
from app.core.errors import Conflict, Forbidden, Unprocessable
from app.households import service as households
from app.households.models import Household
from app.regions.models import Region

router = APIRouter()

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 500


@dataclass(slots=True)
class Report:
    """What an import found (and, committed, did): counts, and each bad row's reasons."""

    rows: int = 0
    new: int = 0
    existing: int = 0
    created: int = 0
    committed: bool = False
    problems: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)


async def _villages(session: AsyncSession, admin: User, codes: set[str]) -> dict[str, str]:
    """What is wrong with each village code of the file that is not one of the admin's villages."""
    rows = await session.execute(select(Region.code, Region.level).where(Region.code.in_(codes)))
    found: dict[str, str] = dict(rows.all())
    scope = admin_scope(admin)
    wrong = {}
    for code in codes:
        if found.get(code) != "village":
            wrong[code] = "村代码不是一个村的代码"
        elif not scope.covers(code):
            wrong[code] = "该村不在您的管辖范围内"
    return wrong


async def _registered(session: AsyncSession, indexes: Sequence[str]) -> set[str]:
    """The blind indexes of the ID numbers that are registered already."""
    found: set[str] = set()
    for start in range(0, len(indexes), CHUNK):
        chunk = indexes[start : start + CHUNK]
        found.update(
            await session.scalars(
                select(Household.id_number_index).where(Household.id_number_index.in_(chunk))
            )
        )
    return found


async def check_and_import(
    session: AsyncSession, vault: Vault, admin: User, sheet: spreadsheet.Sheet, *, commit: bool
) -> Report:
    """Check every row; with ``commit``, register the new good ones."""
    report = Report(rows=len(sheet.rows), committed=commit)
    first_row: dict[str, int] = {}
    good: list[spreadsheet.Row] = []
    for row in sheet.rows:
        if row.household is None:
            report.problems.append((row.number, row.reasons))
            continue
        earlier = first_row.setdefault(row.household.id_number, row.number)
        if earlier != row.number:
            report.problems.append((row.number, (f"与第 {earlier} 行的身份证号重复",)))
            continue
        good.append(row)
    wrong = await _villages(
        session, admin, {row.household.village_code for row in good if row.household}
    )
    index_of = {
        row.number: vault.blind_index(row.household.id_number) for row in good if row.household
    }
    registered = await _registered(session, list(index_of.values()))
    new_rows = []
    for row in good:
        assert row.household is not None
        if row.household.village_code in wrong:
            report.problems.append((row.number, (wrong[row.household.village_code],)))
        elif index_of[row.number] in registered:
            report.existing += 1
        else:
            new_rows.append(row)
    report.new = len(new_rows)
    if commit:
        for start in range(0, len(new_rows), CHUNK):
            await _register(session, vault, admin, new_rows[start : start + CHUNK], report)
    report.problems.sort()
    return report


async def _register(
    session: AsyncSession, vault: Vault, admin: User, rows: list[spreadsheet.Row], report: Report
) -> None:
    """Register a chunk of checked rows in two statements; one by one if any of them was
    registered meanwhile (the ID number's unique index decides), through the household service."""
    data = [row.household for row in rows if row.household is not None]
    try:
        async with session.begin_nested():
            await households.register_checked(session, vault, admin, data)
    except IntegrityError:
        for row in rows:
            assert row.household is not None
            try:
                await households.create_household(session, vault, admin, row.household)
            except Conflict:
                report.existing += 1  # registered meanwhile, by another import or page
                continue
            except (Forbidden, Unprocessable):
                report.problems.append((row.number, ("该村不在您的管辖范围内",)))
                continue
            report.created += 1
        return
    report.created += len(data)


@router.get("/households/import")
async def import_form(request: Request, user: ConsoleUser) -> Response:
    """The import page: the template, and a file to check or import."""
    office(user)
    return page(request, "households/import.html", {"report": None, "error": None})


@router.get("/households/import/template.xlsx")
async def import_template(user: ConsoleUser) -> Response:
    """The .xlsx template of the import."""
    office(user)
    content = await asyncio.to_thread(spreadsheet.template)
    disposition = (
        'attachment; filename="households-template.xlsx"; '
        f"filename*=UTF-8''{quote('受助户导入模板.xlsx')}"
    )
    return Response(content, media_type=XLSX, headers={"content-disposition": disposition})


@router.post("/households/import", dependencies=[Csrf])
async def import_file(
    request: Request, session: SessionDep, vault: VaultDep, user: ConsoleUser
) -> Response:
    """Check a file (``mode=dry``) or import its good rows (``mode=commit``)."""
    admin = office(user)
    form = await request.form()
    upload, mode = form.get("file"), form.get("mode")
    if not isinstance(upload, UploadFile) or not upload.filename:
        context = {"report": None, "error": "请选择要导入的 .xlsx 文件。"}
        return page(request, "households/import.html", context, status_code=422)
    content = await upload.read()
    village = admin.scope_code if admin.role == "village" else None
    try:
        sheet = await asyncio.to_thread(spreadsheet.read, content, default_village=village)
    except spreadsheet.SheetError as exc:
        context = {"report": None, "error": str(exc)}
        return page(request, "households/import.html", context, status_code=422)
    report = await check_and_import(session, vault, admin, sheet, commit=mode == "commit")
    return page(request, "households/import.html", {"report": report, "error": None})
