"""A county-scale matching run through the service: load, solve, write, on both engines.

``python -m benchmarks.matching_service [--needs 50000 --units 20000 --runs 3]``. Each run gets
a fresh database (built by the migrations) holding Dongkou county's real villages, the open
needs, and offers over six categories preferring a township, the county or anywhere; then the
county admin starts one run with POST /api/v1/matching/runs, exactly as a client would. The run
records its own load, solve and write times; the wall time is the request's. A 10 ms ticker on
the same event loop measures the longest stall the run causes (how long any other request
would have waited).
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
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select, text

from app.accounts import service as accounts_service
from app.accounts.models import User
from app.accounts.schemas import AdminCreate
from app.core import migrations
from app.core.db import make_engine
from app.core.vocabulary import CATEGORIES
from app.households.models import Household
from app.main import create_app
from app.needs.models import Need
from app.offers.models import Offer
from app.regions import loader
from app.regions.models import Region
from benchmarks.browse import RESULTS, create_database, drop_database, settings_for

BATCH = 5000


async def seed(engine: Any, needs: int, units: int, rng: random.Random) -> None:
    """Open needs over Dongkou's villages and a pool of offers (bulk set-up, not measured)."""
    now = dt.datetime.now(dt.UTC)
    async with engine.begin() as connection:
        villages = (
            await connection.scalars(
                select(Region.code).where(Region.level == "village", Region.code.like("430525%"))
            )
        ).all()
        townships = sorted({code[:9] for code in villages})
        user_id = (
            await connection.execute(
                insert(User)
                .values(
                    username="seed", password_hash="x", display_name="seed", role="county",
                    scope_code="430525", is_active=True, created_at=now,
                )
                .returning(User.id)
            )
        ).scalar_one()  # fmt: skip
        households = [
            {
                "id": i + 1, "village_code": (v := villages[i % len(villages)]),
                "county_code": v[:6], "head_name_encrypted": b"x", "head_name_masked": "刘**",
                "id_number_encrypted": b"x", "id_number_index": f"{i:064d}",
                "phone_encrypted": b"x", "size": 1 + i % 6, "support_category": "poor",
                "key_household": i % 25 == 0, "version": 1, "created_by_id": user_id,
                "created_at": now, "updated_at": now,
            }
            for i in range(needs)
        ]  # fmt: skip
        for start in range(0, needs, BATCH):
            await connection.execute(insert(Household), households[start : start + BATCH])
        rows = []
        for i in range(needs):
            published = now - dt.timedelta(days=rng.randrange(0, 120))
            rows.append(
                {
                    "household_id": i + 1, "village_code": households[i]["village_code"],
                    "county_code": "430525", "category": CATEGORIES[i % len(CATEGORIES)],
                    "title": "需求", "description": "需求", "urgency": rng.randint(1, 3),
                    "value_fen": rng.randrange(1000, 200_000), "origin": "admin",
                    "deadline": (now + dt.timedelta(days=60)).date(), "status": "published",
                    "version": 1, "created_by_id": user_id, "created_at": published,
                    "updated_at": published, "published_at": published,
                }
            )  # fmt: skip
        for start in range(0, needs, BATCH):
            await connection.execute(insert(Need), rows[start : start + BATCH])
        donors = [
            {
                "username": f"donor{i}", "password_hash": "x", "display_name": f"爱心人士{i}",
                "role": "donor", "donor_kind": "individual", "is_active": True,
                "created_at": now,
            }
            for i in range(2000)
        ]  # fmt: skip
        donor_ids = (await connection.scalars(insert(User).returning(User.id), donors)).all()
        offers, total = [], 0
        while total < units:
            capacity = min(rng.choice((1, 1, 2, 3, 5, 10, 20)), units - total)
            preference = rng.choices((rng.choice(townships), "430525", ""), weights=(5, 3, 2))[0]
            offers.append(
                {
                    "donor_id": rng.choice(donor_ids), "category": rng.choice(CATEGORIES),
                    "title": "捐赠", "description": "捐赠", "capacity": capacity,
                    "capacity_used": 0, "region_preference": preference,
                    "value_cap_fen": rng.choice((None, 100_000, 200_000)), "status": "open",
                    "version": 1, "created_at": now, "updated_at": now,
                }
            )  # fmt: skip
            total += capacity
        for start in range(0, len(offers), BATCH):
            await connection.execute(insert(Offer), offers[start : start + BATCH])
        if connection.dialect.name == "postgresql":
            await connection.execute(text("ANALYZE"))


async def tick(gaps: list[float], period: float = 0.01) -> None:
    """Record how late each 10 ms tick of the event loop is: the stalls a run causes."""
    last = time.perf_counter()
    while True:
        await asyncio.sleep(period)
        now = time.perf_counter()
        gaps.append(now - last - period)
        last = now


async def one_run(engine_name: str, needs: int, units: int, workdir: Path, seed_: int) -> dict:
    url, pg_name = await create_database(engine_name, workdir / f"{seed_}")
    settings = settings_for(url, workdir)
    engine = make_engine(settings)
    try:
        await migrations.upgrade(engine)
        async with engine.begin() as connection:
            await loader.upsert_regions(connection, loader.bundled_rows())
        await seed(engine, needs, units, random.Random(seed_))
        app = create_app(settings)
        async with app.state.database.sessionmaker.begin() as session:
            await accounts_service.create_admin(
                session, app.state.passwords, None,
                AdminCreate(username="county", password="benchmark-pass", role="county",
                            scope="430525"),
            )  # fmt: skip
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b", timeout=600) as http:
            token = (
                await http.post(
                    "/api/v1/auth/token", data={"username": "county", "password": "benchmark-pass"}
                )
            ).json()["access_token"]
            gaps: list[float] = []
            ticker = asyncio.create_task(tick(gaps))
            started = time.perf_counter()
            response = await http.post(
                "/api/v1/matching/runs", json={"scope": "430525"},
                headers={"Authorization": f"Bearer {token}"},
            )  # fmt: skip
            wall = time.perf_counter() - started
            ticker.cancel()
        response.raise_for_status()
        run = response.json()
        await app.state.database.dispose()
        return {
            "wall_seconds": wall, "load_seconds": run["load_seconds"],
            "solve_seconds": run["solve_seconds"], "write_seconds": run["write_seconds"],
            "pairs_proposed": run["pairs_proposed"], "needs": run["needs_considered"],
            "offer_units": run["offer_units"], "blocks": len(run["blocks"]),
            "max_loop_stall_seconds": max(gaps, default=0.0),
        }  # fmt: skip
    finally:
        await engine.dispose()
        if pg_name:
            await drop_database(pg_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--needs", type=int, default=50_000)
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="postgresql,sqlite")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    report: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as workdir:
        for engine_name in args.engines.split(","):
            runs = []
            for i in range(args.runs):
                print(f"service matching: {engine_name} run {i + 1}", file=sys.stderr)
                (Path(workdir) / str(i)).mkdir(exist_ok=True)
                runs.append(
                    asyncio.run(one_run(engine_name, args.needs, args.units, Path(workdir), i))
                )
            summary = {"engine": engine_name, "needs": args.needs, "units": args.units}
            for key in runs[0]:
                summary[key] = round(statistics.median(r[key] for r in runs), 3)
            report.append(summary)
    (RESULTS / "matching_service.json").write_text(json.dumps(report, indent=2))
    print(f"\nmatching through the service (median of {args.runs} runs, fresh database each)")
    keys = [k for k in report[0] if k != "engine"]
    print(f"{'engine':12}" + "".join(f"{k:>16}" for k in keys))
    for row in report:
        print(f"{row['engine']:12}" + "".join(f"{row[k]:>16}" for k in keys))


if __name__ == "__main__":
    main()
