"""Importing the register's spreadsheet through the console: 5,000 households from one .xlsx.

Run with ``make bench`` (or ``python -m benchmarks.console_import --rows 5000``). Each engine gets
a fresh database built by the migrations; a county admin of Dongkou signs in to the console and
posts one .xlsx of ``--rows`` households spread over the county's real villages, through the
ASGI app, as the browser would. Measured, each the median of ``--runs`` runs on an emptied
households table:

- the dry run (every row read and checked, nothing written);
- the commit (every row registered through the household service: encrypted, blind-indexed,
  written to the access log), the whole request in one transaction;
- the same file again (every row found registered: nothing written).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from openpyxl import Workbook  # type: ignore[import-untyped]
from sqlalchemy import delete, select

from app.accounts import service as accounts_service
from app.accounts.schemas import AdminCreate
from app.core import migrations
from app.core.db import make_engine
from app.core.idcard import check_digit
from app.households.models import Household, HouseholdAccess
from app.main import create_app
from app.regions import loader
from app.regions.models import Region
from benchmarks.browse import RESULTS, create_database, drop_database, settings_for

COUNTY = "430525"
PASSWORD = "benchmark password"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COUNT = re.compile(r'data-count="(\w+)">(\d+)<')
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
HEADINGS = ["村代码", "户主姓名", "身份证号", "联系电话", "家庭人口", "帮扶类别", "重点帮扶对象"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("秀英", "建国", "桂兰", "志强", "春花", "德华", "玉梅", "国庆")


def id_number(serial: int) -> str:
    """A valid ID number, distinct for serials below 21,000 (birth date and sequence vary)."""
    born = f"19{50 + serial % 50:02d}{1 + serial % 12:02d}{1 + serial % 28:02d}"
    first17 = f"{COUNTY}{born}{serial % 1000:03d}"
    return first17 + check_digit(first17)


def spreadsheet(rows: int, villages: list[str]) -> bytes:
    """An .xlsx in the import template's shape: ``rows`` distinct households."""
    book = Workbook()
    sheet = book.active
    sheet.append(
        ["村代码", "户主姓名", "身份证号", "联系电话", "家庭人口", "帮扶类别", "重点帮扶对象"]
    )
    categories = ("建档立卡", "低保", "特困", "边缘易致贫")
    for n in range(rows):
        sheet.append([
            villages[n % len(villages)],
            SURNAMES[n % len(SURNAMES)] + GIVEN[n % len(GIVEN)],
            id_number(n),
            f"139{n:08d}",
            1 + n % 6,
            categories[n % len(categories)],
            "是" if n % 7 == 0 else "否",
        ])  # fmt: skip
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def counts(page: str) -> dict[str, int]:
    return {name: int(value) for name, value in COUNT.findall(page)}


async def post_file(
    http: httpx.AsyncClient, content: bytes, mode: str
) -> tuple[float, dict[str, int]]:
    form = await http.get("/console/households/import")
    token = TOKEN.findall(form.text)[0]
    started = time.perf_counter()
    answer = await http.post(
        "/console/households/import",
        data={"csrf_token": token, "mode": mode},
        files={"file": ("register.xlsx", content, XLSX)},
    )
    seconds = time.perf_counter() - started
    assert answer.status_code == 200, answer.text[:500]
    return seconds, counts(answer.text)


async def run_engine(engine_name: str, rows: int, runs: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="aixin-import-"))
    url, created = await create_database(engine_name, workdir)
    settings = settings_for(url, workdir)
    engine = make_engine(settings)
    try:
        await migrations.upgrade(engine)
        async with engine.begin() as connection:
            await loader.upsert_regions(connection, loader.bundled_rows())
            villages = list(
                (
                    await connection.scalars(
                        select(Region.code)
                        .where(Region.level == "village", Region.code.like(f"{COUNTY}%"))
                        .order_by(Region.code)
                    )
                ).all()
            )
        app = create_app(settings)
        async with app.state.database.sessionmaker.begin() as session:
            data = AdminCreate(
                username="county-bench", password=PASSWORD, role="county", scope=COUNTY
            )
            admin = await accounts_service.create_admin(session, app.state.passwords, None, data)
        content = spreadsheet(rows, villages)
        transport = httpx.ASGITransport(app=app)
        timings: dict[str, list[float]] = {"dry_run": [], "commit": [], "again": []}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=600
        ) as http:
            login = await http.get("/console/login")
            await http.post(
                "/console/login",
                data={"username": admin.username, "password": PASSWORD,
                      "csrf_token": TOKEN.findall(login.text)[0]},
            )  # fmt: skip
            for _ in range(runs):
                async with engine.begin() as connection:
                    await connection.execute(delete(HouseholdAccess))
                    await connection.execute(delete(Household))
                seconds, found = await post_file(http, content, "dry")
                assert found["new"] == rows, found
                timings["dry_run"].append(seconds)
                seconds, found = await post_file(http, content, "commit")
                assert found["created"] == rows, found
                timings["commit"].append(seconds)
                seconds, found = await post_file(http, content, "commit")
                assert (found["created"], found["existing"]) == (0, rows), found
                timings["again"].append(seconds)
        await app.state.database.dispose()
    finally:
        await engine.dispose()
        if created:
            await drop_database(created)
    return {
        "rows": rows,
        "file_bytes": len(content),
        "runs": runs,
        **{f"{name}_seconds": [round(t, 2) for t in values] for name, values in timings.items()},
        **{
            f"{name}_median_seconds": round(statistics.median(values), 2)
            for name, values in timings.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    report = {}
    for engine_name in args.engines.split(","):
        report[engine_name] = asyncio.run(run_engine(engine_name, args.rows, args.runs))
        print(engine_name, json.dumps(report[engine_name], ensure_ascii=False), file=sys.stderr)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "console_import.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
