"""A year of a county in simulation, driven through the service layer (``aixin simulate``)."""

from __future__ import annotations

import datetime as dt
import resource
import time
from typing import Any

from sqlalchemy import func, select

from app.core.db import Database
from app.core.settings import Settings
from app.households.models import Household
from app.simulation import annual
from app.simulation.inline import run_inline
from app.simulation.profiles import PROFILES, Profile, scaled
from app.simulation.state import CST, POLICIES, counters_dict
from app.simulation.summary import analyse, summarise
from app.simulation.world import World

__all__ = ["POLICIES", "PROFILES", "NotEmpty", "Profile", "report", "scaled", "simulate"]


class NotEmpty(RuntimeError):
    """The database already holds households of the profile's county."""


async def simulate(
    settings: Settings,
    profile: Profile,
    *,
    policy: str,
    seed: int,
    months: int,
    start: dt.date,
) -> dict[str, Any]:
    """Run the simulation on the configured (migrated, regions loaded, empty) database."""
    database = Database(settings)
    run_inline(database)
    try:
        async with database.sessionmaker() as session:
            present = await session.scalar(
                select(func.count()).where(Household.county_code == profile.county)
            )
        if present:
            raise NotEmpty(
                f"the database already holds {present} households of county {profile.county}; "
                "simulate on an empty database"
            )
        started, cpu_started = time.perf_counter(), time.process_time()
        world = World(
            database, settings, profile, policy=policy, seed=seed, start=start, months=months
        )
        await world.setup()
        set_up = time.perf_counter()
        counters = await world.run()
        simulated = time.perf_counter()
        end = world.at(world.posting_days())
        await analyse(database.engine)
        async with database.sessionmaker() as session:
            figures = await summarise(session, profile.county, world.start, end)
            year = await annual.check(
                session, world.admins[profile.county], profile.county, figures,
                world.helping.acts, start, end.astimezone(CST).date(),
            )  # fmt: skip
    finally:
        await database.dispose()
    return {
        "profile": profile.name,
        "policy": policy,
        "seed": seed,
        "months": months,
        "start": start.isoformat(),
        "end": end.astimezone(CST).date().isoformat(),
        "engine": database.engine.dialect.name,
        "households": len(world.households),
        "villages": len(world.villages),
        "donors": len(world.donors),
        **figures,
        "annual": year,
        "actions": counters_dict(counters),
        "seconds": {
            "setup": round(set_up - started, 2),
            "simulation": round(simulated - set_up, 2),
            "total": round(time.perf_counter() - started, 2),
            "cpu": round(time.process_time() - cpu_started, 2),  # user + system, all threads
        },
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def report(summary: dict[str, Any]) -> str:
    """The summary as a few readable lines and the monthly table."""
    cal = summary["calibration"]
    lines = [
        f"{summary['profile']} · {summary['policy']} · seed {summary['seed']} · "
        f"{summary['start']}..{summary['end']} · {summary['engine']}",
        f"  households {summary['households']}, villages {summary['villages']}, "
        f"donors {summary['donors']}",
        f"  对接成功率 {summary['fulfilled']}/{summary['published']} = {summary['success_rate']}; "
        f"never served {summary['never_served']} ({summary['never_served_share']}); "
        f"median days to fulfil {summary['median_days_to_fulfil']}",
        f"  village rates: CV {summary['village_rate_cv']}, Gini {summary['village_rate_gini']}; "
        f"fulfilled by source {summary['fulfilled_by_source']}",
    ]
    if cal.get("pairings"):
        lines.append(
            f"  calibration over {cal['pairings']} ended pairings: Brier {cal['brier']} "
            f"(constant {cal['constant_brier']}), predicted {cal['mean_predicted']} "
            f"vs observed {cal['observed_rate']}"
        )
    year = summary["annual"]
    lines.append(
        f"  /stats/annual {', '.join(map(str, year['years']))}: {year['figures_checked']} figures "
        f"checked against the months, the quarters and the run, "
        f"{len(year['disagreements'])} disagree"
    )
    lines.extend(f"    {line}" for line in year["disagreements"])
    lines.append("  month      published  fulfilled  rate")
    for month in summary["months"]:
        lines.append(
            f"  {month['month']}  {month['published']:>9}  {month['fulfilled']:>9}  "
            f"{month['success_rate']}"
        )
    seconds = summary["seconds"]
    lines.append(
        f"  {seconds['total']} s ({seconds['setup']} s set-up; CPU {seconds['cpu']} s), peak RSS "
        f"{summary['peak_rss_mib']} MiB"
    )
    return "\n".join(lines)
