"""A simulated year of a county under each policy, on fresh databases: the mission's comparison.

``python -m benchmarks.simulation [--profile dongkou] [--scale 1] [--seed 1]
[--engines sqlite,postgresql] [--runs 1] [--jobs 1]
[--policies claims,claims+matching,claims+daily,claims+daily+no-effect]``.
Each run is ``aixin simulate`` in its own process on a database built for it (migrations,
bundled regions), so its wall time, CPU time and peak memory are its own. The table gives, per
policy, 对接成功率, needs never served, the median days from publishing to receipt, the spread
of village rates (coefficient of variation and Gini) and the calibration of the learned model
(Brier score against a constant prediction at the observed rate); then the wall time, CPU time
(user and system, all threads) and peak memory of each engine and policy (median of the runs).
``--jobs 2`` runs two simulations at once (faster, but each then shares the machine). Results go
to benchmarks/results/simulation.json. ``--scale 0.05`` runs a twentieth of the profile's
households, needs and donors over the same villages: a quick measure of the same code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from app.core import migrations
from app.core.db import make_engine
from app.regions import loader
from app.simulation import POLICIES
from benchmarks.browse import RESULTS, create_database, drop_database, settings_for

AIXIN = Path(sys.executable).parent / "aixin"


async def prepare(engine_name: str, folder: Path) -> tuple[str, str | None]:
    url, pg_name = await create_database(engine_name, folder)
    engine = make_engine(settings_for(url, folder))
    try:
        await migrations.upgrade(engine)
        async with engine.begin() as connection:
            await loader.upsert_regions(connection, loader.bundled_rows())
    finally:
        await engine.dispose()
    return url, pg_name


def one(
    engine_name: str, policy: str, index: int, url: str, folder: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """One simulation in its own process, on the database prepared for it."""
    output = folder / "summary.json"
    env = {  # development secrets are generated in the run's own folder
        **os.environ,
        "AIXIN_DATABASE_URL": url,
        "AIXIN_DATA_DIR": str(folder),
        "AIXIN_LOG_LEVEL": "WARNING",
    }
    command = [
        str(AIXIN), "simulate", "--profile", args.profile, "--months", str(args.months),
        "--seed", str(args.seed), "--scale", str(args.scale), "--policy", policy,
        "--output", str(output),
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{engine_name} {policy} failed:\n{done.stderr}")
    summary: dict[str, Any] = json.loads(output.read_text())
    summary["wall_seconds"] = round(wall, 1)
    cpu = summary["seconds"].get("cpu")
    print(f"  {engine_name} {policy} run {index + 1}: {wall:.0f} s (CPU {cpu} s)", file=sys.stderr)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="dongkou")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", default="sqlite")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--policies", default=",".join(POLICIES), help="comma-separated, of " + ", ".join(POLICIES)
    )
    args = parser.parse_args()
    policies = [policy for policy in POLICIES if policy in args.policies.split(",")]
    if not policies:
        parser.error(f"--policies: none of {args.policies!r} is one of {', '.join(POLICIES)}")
    jobs = [
        (engine_name, policy, index)
        for engine_name in args.engines.split(",")
        for policy in policies
        for index in range(args.runs)
    ]
    with tempfile.TemporaryDirectory() as workdir:
        # Databases are made here, one after another (asyncio in one thread); the simulations,
        # each its own process, then run `--jobs` at a time.
        prepared = []
        for number, _ in enumerate(jobs):
            folder = Path(workdir) / str(number)
            folder.mkdir()
            prepared.append((folder, *asyncio.run(prepare(jobs[number][0], folder))))
        try:
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                results = list(
                    pool.map(
                        lambda pair: one(
                            pair[0][0], pair[0][1], pair[0][2], pair[1][1], pair[1][0], args
                        ),
                        zip(jobs, prepared, strict=True),
                    )
                )
        finally:
            for _, _, pg_name in prepared:
                if pg_name:
                    asyncio.run(drop_database(pg_name))
    report: dict[str, Any] = {"profile": args.profile, "seed": args.seed, "runs": []}
    for (engine_name, _, _), summary in zip(jobs, results, strict=True):
        report["runs"].append({"engine_name": engine_name, **summary})
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "simulation.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print_report(report, args, policies)


def print_report(report: dict[str, Any], args: argparse.Namespace, policies: list[str]) -> None:
    runs = report["runs"]
    first = {policy: next(r for r in runs if r["policy"] == policy) for policy in policies}
    scale = f" at scale {args.scale:g}" if args.scale != 1 else ""
    print(f"\n{args.profile}{scale}, {args.months} months, seed {args.seed}")
    print(f"  {'':28}" + "".join(f"{policy:>24}" for policy in policies))
    rows = [
        ("needs published", "published"),
        ("needs fulfilled", "fulfilled"),
        ("对接成功率", "success_rate"),
        ("never served (share)", "never_served_share"),
        ("median days to fulfil", "median_days_to_fulfil"),
        ("village rate CV", "village_rate_cv"),
        ("village rate Gini", "village_rate_gini"),
    ]
    for label, key in rows:
        print(f"  {label:28}" + "".join(f"{first[p][key]!s:>24}" for p in policies))
    for label, key in (
        ("Brier (learned model)", "brier"),
        ("Brier (constant rate)", "constant_brier"),
    ):
        print(
            f"  {label:28}" + "".join(f"{first[p]['calibration'].get(key)!s:>24}" for p in policies)
        )
    print("\n  /stats/annual against the months, the quarters and the run:")
    for run in runs:
        year = run["annual"]
        print(
            f"  {run['engine_name']:12} {run['policy']:24} {year['figures_checked']:>6} figures, "
            f"{len(year['disagreements'])} disagree"
        )
        for line in year["disagreements"][:20]:
            print(f"    {line}")
    print(
        "\n  engine       policy                    wall s (median)  CPU s (median)"
        "  peak MiB (median)  runs"
    )
    for engine_name in sorted({r["engine_name"] for r in runs}):
        for policy in policies:
            mine = [r for r in runs if r["engine_name"] == engine_name and r["policy"] == policy]
            wall = statistics.median(r["wall_seconds"] for r in mine)
            cpu = statistics.median(r["seconds"].get("cpu", 0.0) for r in mine)
            memory = statistics.median(r["peak_rss_mib"] for r in mine)
            print(
                f"  {engine_name:12} {policy:24} {wall:>16.0f} {cpu:>15.0f} {memory:>18.0f}"
                f" {len(mine):>5}"
            )


if __name__ == "__main__":
    main()
