"""Browse on 100,000 needs: page latency, cursor stability, and the PostgreSQL query plan.

Run with ``make bench`` (or ``python -m benchmarks.browse --needs 100000``). Each engine gets a
fresh database built by the migrations; the needs are spread over Dongkou county's 364 real
villages. Requests go through the ASGI app as a signed-in donor, as the mobile app's would.

Measured, each the median of ``--runs`` runs:
- first page and deep pages (keyset cursor) of GET /api/v1/needs in each sort order;
- the same depth by OFFSET in raw SQL, the baseline keyset pagination replaces;
- GET /api/v1/me, a trivial authenticated endpoint on the same stack, as the floor;
and checked: paging through while new needs arrive returns no need twice and misses none.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.accounts.models import User
from app.core import migrations
from app.core.db import make_engine
from app.core.settings import Settings
from app.core.vocabulary import CATEGORIES
from app.households.models import Household
from app.main import create_app
from app.needs.models import Need
from app.regions import loader
from app.regions.models import Region

POSTGRES_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).parent / "results"


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="test",
        database_url=url,
        data_dir=data_dir,
        secret_key="benchmark-secret-key-of-sufficient-length",
        data_key="benchmark-data-key-of-sufficient-length!!",
        index_key="benchmark-index-key-of-sufficient-length!",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        log_level="WARNING",
    )


async def create_database(engine_name: str, workdir: Path) -> tuple[str, str | None]:
    if engine_name == "sqlite":
        return f"sqlite+aiosqlite:///{workdir / 'browse.db'}", None
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"aixin_bench_{uuid.uuid4().hex[:10]}"
    server = create_async_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    async with server.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await server.dispose()
    return POSTGRES_SERVER.rsplit("/", 1)[0] + f"/{name}", name


async def drop_database(name: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    server = create_async_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    async with server.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await server.dispose()


async def seed(engine: AsyncEngine, needs: int, rng: random.Random) -> None:
    """Households and needs written in bulk (the set-up, not what is measured)."""
    async with engine.begin() as connection:
        villages = (
            await connection.scalars(
                select(Region.code).where(Region.level == "village", Region.code.like("430525%"))
            )
        ).all()
        admin_id = (
            await connection.execute(
                insert(User)
                .values(
                    username="bench-admin",
                    password_hash="x",
                    display_name="县办",
                    role="county",
                    scope_code="430525",
                    is_active=True,
                    created_at=dt.datetime.now(dt.UTC),
                )
                .returning(User.id)
            )
        ).scalar_one()
        households = needs // 2
        now = dt.datetime.now(dt.UTC)
        rows = [
            {
                "id": i + 1,
                "village_code": (v := villages[i % len(villages)]),
                "county_code": v[:6],
                "head_name_encrypted": b"x",
                "head_name_masked": "刘**",
                "id_number_encrypted": b"x",
                "id_number_index": f"{i:064d}",
                "phone_encrypted": b"x",
                "size": 1 + i % 6,
                "support_category": "poor",
                "key_household": i % 25 == 0,
                "version": 1,
                "created_by_id": admin_id,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(households)
        ]
        for start in range(0, len(rows), 5000):
            await connection.execute(insert(Household), rows[start : start + 5000])
        start_time = now - dt.timedelta(days=365)
        need_rows = []
        for i in range(needs):
            household = i % households
            created = start_time + dt.timedelta(seconds=i * 300 + rng.randrange(300))
            need_rows.append(
                {
                    "household_id": household + 1,
                    "village_code": rows[household]["village_code"],
                    "county_code": "430525",
                    # Two needs per household, of different categories.
                    "category": CATEGORIES[(i // households + household) % len(CATEGORIES)],
                    "title": f"需求{i} 冬季棉被",
                    "description": "家中老人需要过冬的棉被",
                    "value_fen": rng.randrange(1000, 300_000),
                    "urgency": rng.randint(1, 3),
                    "deadline": (now + dt.timedelta(days=rng.randrange(10, 200))).date(),
                    "origin": "admin",
                    "status": "published" if rng.random() < 0.7 else "fulfilled",
                    "version": 1,
                    "created_by_id": admin_id,
                    "created_at": created,
                    "updated_at": created,
                    "published_at": created,
                }
            )
        for start in range(0, len(need_rows), 5000):
            await connection.execute(insert(Need), need_rows[start : start + 5000])
        if connection.dialect.name == "postgresql":
            await connection.execute(text("ANALYZE"))


async def timed_pages(
    http: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any], pages: int
) -> list[float]:
    """Latency of each of ``pages`` consecutive pages, in milliseconds."""
    latencies, cursor = [], None
    for _ in range(pages):
        started = time.perf_counter()
        response = await http.get(
            "/api/v1/needs",
            params={**params, **({"cursor": cursor} if cursor else {})},
            headers=headers,
        )
        latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    return latencies


async def offset_baseline(engine: AsyncEngine, offset: int) -> float:
    """The same page fetched by OFFSET in raw SQL (what keyset pagination avoids), ms."""
    statement = text(
        "SELECT id FROM needs WHERE status = 'published' "
        "ORDER BY created_at DESC, id DESC LIMIT 21 OFFSET :offset"
    )
    async with engine.connect() as connection:
        started = time.perf_counter()
        await connection.execute(statement, {"offset": offset})
        return (time.perf_counter() - started) * 1000


async def stability(
    http: httpx.AsyncClient, donor: dict[str, str], admin: dict[str, str], household_ids: list[int]
) -> dict[str, Any]:
    """Page through the needs of one village while new needs arrive between pages."""
    seen: list[int] = []
    params: dict[str, Any] = {"region": "430525101201", "limit": 20}
    first = await http.get("/api/v1/needs", params=params, headers=donor)
    page = first.json()
    expected = await _count(http, donor, params)
    posted = 0
    while True:
        seen += [item["id"] for item in page["items"]]
        if posted < len(household_ids):
            response = await http.post(
                "/api/v1/needs",
                headers=admin,
                json={
                    "household_id": household_ids[posted],
                    # A category the seeded household has no open need in.
                    "category": CATEGORIES[(household_ids[posted] + 2) % len(CATEGORIES)],
                    "title": "新需求",
                    "description": "浏览时新发布",
                    "value_fen": 100,
                    "deadline": "2099-01-01",
                },
            )
            response.raise_for_status()
            posted += 1
        if page["next_cursor"] is None:
            break
        page = (
            await http.get(
                "/api/v1/needs", params={**params, "cursor": page["next_cursor"]}, headers=donor
            )
        ).json()
    return {
        "pages": len(seen) // 20 + 1,
        "seen": len(seen),
        "distinct": len(set(seen)),
        "published_before": expected,
        "new_while_paging": posted,
        "stable": len(seen) == len(set(seen)) and len(set(seen)) >= expected,
    }


async def _count(http: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any]) -> int:
    total, cursor = 0, None
    while True:
        page = (
            await http.get(
                "/api/v1/needs",
                params={**params, **({"cursor": cursor} if cursor else {})},
                headers=headers,
            )
        ).json()
        total += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return total


async def explain(
    engine: AsyncEngine,
    app: Any,
    http: httpx.AsyncClient,
    headers: dict[str, str],
    params: dict[str, Any],
) -> str:
    """EXPLAIN ANALYZE of the browse query exactly as the service sends it."""
    captured: list[tuple[str, Any]] = []

    def capture(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if "FROM needs" in statement and "ORDER BY" in statement:
            captured.append((statement, parameters))

    sync_engine = app.state.database.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", capture)
    try:
        (await http.get("/api/v1/needs", params=params, headers=headers)).raise_for_status()
    finally:
        event.remove(sync_engine, "before_cursor_execute", capture)
    statement, parameters = captured[-1]
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        rows = await driver.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *parameters)
    return "\n".join(row[0] for row in rows)


async def run_engine(engine_name: str, needs: int, runs: int, workdir: Path) -> dict[str, Any]:
    url, pg_name = await create_database(engine_name, workdir)
    settings = settings_for(url, workdir)
    engine = make_engine(settings)
    try:
        await migrations.upgrade(engine)
        async with engine.begin() as connection:
            await loader.upsert_regions(connection, loader.bundled_rows())
        started = time.perf_counter()
        await seed(engine, needs, random.Random(7))
        seed_seconds = time.perf_counter() - started
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            donor, admin, household_ids = await _accounts(http, app)
            results: dict[str, Any] = {
                "engine": engine_name,
                "needs": needs,
                "seed_seconds": round(seed_seconds, 1),
            }
            cases = {
                "newest": {"sort": "newest"},
                "urgent": {"sort": "urgent"},
                "deadline": {"sort": "deadline"},
                "township_goods": {"region": "430525101", "category": "goods"},
            }
            for name, params in cases.items():
                first, deep = [], []
                for _ in range(runs):
                    latencies = await timed_pages(http, donor, {**params, "limit": 20}, 200)
                    first.append(latencies[0])
                    deep.append(statistics.median(latencies[-50:]))
                results[f"{name}_first_page_ms"] = round(statistics.median(first), 2)
                results[f"{name}_page_200_ms"] = round(statistics.median(deep), 2)
            floor = []
            for _ in range(runs * 20):
                started = time.perf_counter()
                (await http.get("/api/v1/me", headers=donor)).raise_for_status()
                floor.append((time.perf_counter() - started) * 1000)
            results["me_ms"] = round(statistics.median(floor), 2)
            results["offset_page_200_sql_ms"] = round(
                statistics.median([await offset_baseline(engine, 199 * 20) for _ in range(runs)]), 2
            )
            results["offset_page_3000_sql_ms"] = round(
                statistics.median([await offset_baseline(engine, 3000 * 20) for _ in range(runs)]),
                2,
            )
            results["newest_page_ratio_to_me"] = round(
                results["newest_page_200_ms"] / results["me_ms"], 2
            )
            results["stability"] = await stability(http, donor, admin, household_ids)
            if engine_name == "postgresql":
                results["explain_newest"] = await explain(
                    engine, app, http, donor, {"sort": "newest", "limit": 20}
                )
                results["explain_township_goods"] = await explain(
                    engine, app, http, donor, {"region": "430525101", "category": "goods"}
                )
        await app.state.database.dispose()
        return results
    finally:
        await engine.dispose()
        if pg_name:
            await drop_database(pg_name)


async def _accounts(
    http: httpx.AsyncClient, app: Any
) -> tuple[dict[str, str], dict[str, str], list[int]]:
    from app.accounts import service
    from app.accounts.schemas import AdminCreate

    register = {
        "username": "bench-donor",
        "password": "benchmark-pass",
        "display_name": "爱心人士",
        "kind": "individual",
    }
    (await http.post("/api/v1/auth/register", json=register)).raise_for_status()
    token = (
        await http.post(
            "/api/v1/auth/token", data={"username": "bench-donor", "password": "benchmark-pass"}
        )
    ).json()["access_token"]
    async with app.state.database.sessionmaker.begin() as session:
        await service.create_admin(
            session,
            app.state.passwords,
            None,
            AdminCreate(
                username="bench-village",
                password="benchmark-pass",
                role="village",
                scope="430525101201",
            ),
        )
    admin_token = (
        await http.post(
            "/api/v1/auth/token", data={"username": "bench-village", "password": "benchmark-pass"}
        )
    ).json()["access_token"]
    admin = {"Authorization": f"Bearer {admin_token}"}
    async with app.state.database.sessionmaker() as session:
        ids = (
            await session.scalars(
                select(Household.id).where(Household.village_code == "430525101201").limit(20)
            )
        ).all()
    return {"Authorization": f"Bearer {token}"}, admin, list(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--needs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="postgresql,sqlite")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    report = []
    with tempfile.TemporaryDirectory() as workdir:
        for engine_name in args.engines.split(","):
            print(f"browse benchmark: {engine_name}, {args.needs} needs …", file=sys.stderr)
            report.append(
                asyncio.run(run_engine(engine_name, args.needs, args.runs, Path(workdir)))
            )
    (RESULTS / "browse.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    for result in report:
        print(f"\n== {result['engine']}: {result['needs']} needs (median of {args.runs} runs) ==")
        for key, value in result.items():
            if not key.startswith("explain") and key not in ("engine", "needs"):
                print(f"  {key:32} {value}")
        for key in ("explain_newest", "explain_township_goods"):
            if key in result:
                print(
                    f"\n  {key}:\n" + "\n".join("    " + line for line in result[key].splitlines())
                )


if __name__ == "__main__":
    main()
