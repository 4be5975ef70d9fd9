"""The simulation drives the service layer: its year is recorded as the API would record it."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import simulation
from app.core.db import clock_at, utcnow
from app.events.models import Event
from app.needs.models import Need
from app.pairings.models import Pairing
from app.simulation.summary import gini
from tests.conftest import empty_tables

TINY = dataclasses.replace(
    simulation.PROFILES["small"], households=150, needs_per_year=500, settle_days=20
)
START = dt.date(2026, 1, 1)


async def run(
    app: FastAPI, policy: str, seed: int = 3, profile: simulation.Profile = TINY, months: int = 2
) -> dict:
    return await simulation.simulate(
        app.state.settings, profile, policy=policy, seed=seed, months=months, start=START
    )


async def test_a_simulated_season_is_recorded_as_the_service_records_it(
    app: FastAPI, engine: AsyncEngine
) -> None:
    try:
        postgresql = engine.dialect.name == "postgresql"
        if postgresql:
            async with engine.connect() as connection:
                began = await connection.scalar(text("SELECT now()"))
        summary = await run(app, "claims+matching")
        if postgresql:
            # The tables the run filled were analysed before the summary read them: without
            # statistics (autovacuum off, as on the test server) the county's year is planned
            # as a row or two, and the full county's count by source outlasts the timeout.
            async with engine.connect() as connection:
                analysed = dict(
                    (
                        await connection.execute(
                            text(
                                "SELECT relname, last_analyze FROM pg_stat_user_tables "
                                "WHERE relname IN ('needs', 'pairings', 'users')"
                            )
                        )
                    ).all()
                )
            assert len(analysed) == 3
            assert all(at is not None and at >= began for at in analysed.values()), analysed
        assert summary["published"] > 50
        assert 0 < summary["fulfilled"] <= summary["published"]
        assert summary["actions"]["runs"] >= 2
        assert summary["fulfilled_by_source"].get("match", 0) > 0
        async with app.state.database.sessionmaker() as session:
            end = dt.datetime(2026, 3, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
            published = await session.scalar(
                select(func.count()).where(Need.published_at < end, Need.published_at.is_not(None))
            )
            fulfilled = await session.scalar(
                select(func.count()).where(Need.published_at < end, Need.status == "fulfilled")
            )
            assert (published, fulfilled) == (summary["published"], summary["fulfilled"])
            # Every fulfilled need has its confirmed pairing and its confirm event.
            confirmed = await session.scalar(
                select(func.count()).select_from(Pairing).where(Pairing.status == "confirmed")
            )
            confirms = await session.scalar(
                select(func.count())
                .select_from(Event)
                .where(Event.entity == "need", Event.action == "confirm")
            )
            assert (
                confirmed
                == confirms
                == await session.scalar(select(func.count()).where(Need.status == "fulfilled"))
            )
            # Rows carry simulated time, not the wall clock.
            latest = await session.scalar(select(func.max(Need.published_at)))
            assert latest is not None
            assert latest < end
        assert sum(m["published"] for m in summary["months"]) == summary["published"]
        assert [m["month"] for m in summary["months"]] == ["2026-01", "2026-02"]
        assert summary["calibration"]["pairings"] > 0
    finally:
        await empty_tables(engine)


async def test_the_same_seed_gives_the_same_year(app: FastAPI, engine: AsyncEngine) -> None:
    try:
        first = await run(app, "claims", months=1)
        await empty_tables(engine)
        second = await run(app, "claims", months=1)
        for key in ("published", "fulfilled", "never_served", "months", "actions"):
            assert first[key] == second[key], key
    finally:
        await empty_tables(engine)


async def test_a_database_with_households_is_refused(app: FastAPI, engine: AsyncEngine) -> None:
    try:
        few = dataclasses.replace(TINY, households=5, needs_per_year=20, settle_days=0)
        await run(app, "claims", profile=few, months=1)
        with pytest.raises(simulation.NotEmpty):
            await run(app, "claims", profile=few, months=1)
    finally:
        await empty_tables(engine)


def test_the_clock_is_simulated_only_inside_its_context() -> None:
    moment = dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC)
    with clock_at(moment):
        assert utcnow() == moment
    assert utcnow() > moment + dt.timedelta(days=100)
    with pytest.raises(ValueError, match="aware"), clock_at(dt.datetime(2026, 5, 1)):
        pass


def test_gini_of_equal_and_of_concentrated_rates() -> None:
    assert gini([0.5, 0.5, 0.5]) == 0.0
    assert gini([0.0, 0.0, 1.0]) == pytest.approx(2 / 3)
    assert gini([]) == 0.0
