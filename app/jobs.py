"""Scheduled work, composed from each domain's own steps: lapses, purges, re-learning,
reminders, digests, the daily matching of each county, and delivering the outbox.

Run by ``aixin worker`` (:func:`worker_loop`), inside ``aixin serve`` unless
``AIXIN_WORKER_IN_PROCESS=false``, and by the ``aixin expire`` and ``aixin model refresh``
commands. Each step is a compare-and-set per record, so any number of runners may work at once:
each need lapses once, with one event. Each scheduled job runs once per period across workers:
a worker first writes the (job, period) row of ``job_runs``, unique, and only the one that wrote
it runs the job. Deliveries are shared with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.db import Database, utcnow
from app.core.idempotency import purge_expired
from app.core.settings import Settings
from app.core.upsert import insert_or_nothing
from app.events import service as events
from app.funds import crowdfunding
from app.inbox.service import CST
from app.matchmaking import learning
from app.matchmaking import service as matchmaking
from app.matchmaking.schemas import RunCreate
from app.needs import lifecycle as needs
from app.needs.models import Need
from app.notifications import delivery, outbox, reminders
from app.notifications.models import JobRun
from app.pairings import service as pairings

# Every event recorded in this process writes its notifications in its own transaction.
events.follow(outbox.from_events)

log = structlog.get_logger("aixin.jobs")


@dataclass(frozen=True, slots=True)
class ExpiryResult:
    lapsed_claims: int
    expired_needs: int
    lapsed_proposals: int = 0
    purged_idempotency_keys: int = 0


Step = Callable[[AsyncSession], Awaitable[int]]


async def _drain(database: Database, step: Step) -> int:
    """Run ``step`` batch after batch, each in its own transaction, until nothing is left."""
    total = 0
    while True:
        async with database.write_sessionmaker.begin() as session:
            done = await step(session)
        total += done
        if done == 0:
            return total


async def run_expiry(database: Database, now: dt.datetime | None = None) -> ExpiryResult:
    """Lapse overdue claims and proposals, close every need past its deadline, and forget
    idempotency keys past their time."""
    moment = now or utcnow()
    return ExpiryResult(
        lapsed_claims=await _drain(database, lambda s: needs.lapse_claims(s, moment)),
        expired_needs=await _drain(database, lambda s: needs.expire_needs(s, moment.date())),
        lapsed_proposals=await _drain(database, lambda s: pairings.lapse_proposals(s, moment)),
        purged_idempotency_keys=await purge_expired(database),
    )


async def refresh_model(database: Database) -> int:
    """Re-learn the success model from the ended pairings (one transaction)."""
    async with database.write_sessionmaker.begin() as session:
        return await learning.refresh(session)


async def expiry_loop(
    database: Database, interval_seconds: float, model_refresh_seconds: float = 0.0
) -> None:
    """Run :func:`run_expiry` every ``interval_seconds`` until cancelled, and re-learn the
    success model every ``model_refresh_seconds`` (0: never)."""
    learned_at: float | None = None
    while True:
        try:
            moment = time.monotonic()
            if model_refresh_seconds and (
                learned_at is None or moment - learned_at >= model_refresh_seconds
            ):
                segments = await refresh_model(database)
                learned_at = moment
                log.info("model_refreshed", segments=segments)
            result = await run_expiry(database)
            if result.lapsed_claims or result.expired_needs or result.lapsed_proposals:
                log.info(
                    "expiry",
                    lapsed_claims=result.lapsed_claims,
                    expired_needs=result.expired_needs,
                    lapsed_proposals=result.lapsed_proposals,
                )
        except asyncio.CancelledError:
            raise
        except Exception:
            # A database outage must not end the loop; the next round tries again.
            log.exception("expiry_failed")
        await asyncio.sleep(interval_seconds)


# -- the worker --------------------------------------------------------------------------------

DIGEST_HOUR = 20  # China Standard Time: the day's digest goes out in the evening
MATCHING_HOUR = 2  # and each county's matching runs at night
JOB_RUNS_KEPT = dt.timedelta(days=30)


def every(seconds: float) -> Callable[[dt.datetime], str | None]:
    """The period of a job that runs every ``seconds``."""
    return lambda now: f"{int(now.timestamp() // seconds)}"


def daily_at(hour: int) -> Callable[[dt.datetime], str | None]:
    """The period (the day, in China Standard Time) of a job due from ``hour`` on."""

    def period(now: dt.datetime) -> str | None:
        local = now.astimezone(CST)
        return local.date().isoformat() if local.hour >= hour else None

    return period


async def claim_period(database: Database, job: str, period: str, now: dt.datetime) -> int | None:
    """Write the (job, period) row; its id if this worker wrote it, None if another did."""
    async with database.write_sessionmaker.begin() as session:
        return await session.scalar(
            insert_or_nothing(database.engine.dialect.name, JobRun, ["job", "period"])
            .values(job=job, period=period, started_at=now)
            .returning(JobRun.id)
        )


async def once_per_period(
    database: Database,
    job: str,
    period: str | None,
    work: Callable[[], Awaitable[object]],
    now: dt.datetime,
) -> bool:
    """Run ``work`` if this period's run of ``job`` is not taken; a failed run is given back."""
    if period is None:
        return False
    run_id = await claim_period(database, job, period, now)
    if run_id is None:
        return False
    try:
        await work()
    except BaseException:
        async with database.write_sessionmaker.begin() as session:
            await session.execute(delete(JobRun).where(JobRun.id == run_id))
        raise
    async with database.write_sessionmaker.begin() as session:
        run = await session.get(JobRun, run_id)
        if run is not None:
            run.finished_at = utcnow()
    return True


async def send_reminders(database: Database, now: dt.datetime | None = None) -> int:
    """Write the reminders due (each once)."""
    async with database.write_sessionmaker.begin() as session:
        return await reminders.send_reminders(session, now)


async def send_digests(database: Database, now: dt.datetime | None = None) -> int:
    """Gather each user's held notifications into the day's digest."""
    async with database.write_sessionmaker.begin() as session:
        return await reminders.send_digests(session, now)


async def run_fund_deadlines(
    database: Database, settings: Settings, now: dt.datetime | None = None
) -> tuple[int, int]:
    """Crowdfundings past their deadline into credits, and credits past theirs into the pools."""
    moment = now or utcnow()
    expired = await _drain(
        database,
        lambda s: crowdfunding.expire_fundings(s, moment.date(), settings.credits_days),
    )
    lapsed = await _drain(database, lambda s: crowdfunding.lapse_credits(s, moment))
    return expired, lapsed


async def counties_to_match(database: Database, settings: Settings) -> list[str]:
    """Counties with published needs whose daily matching is on."""
    if not settings.daily_matching:
        return []
    async with database.sessionmaker() as session:
        codes = await session.scalars(
            select(Need.county_code).where(Need.status == "published").distinct()
        )
        return sorted(set(codes) - set(settings.daily_matching_off))


async def match_county(database: Database, settings: Settings, county: str) -> int:
    """One matching run over ``county``, in the name of its county admin; pairs proposed."""
    async with database.write_sessionmaker.begin() as session:
        admin = await session.scalar(
            select(User)
            .where(User.role == "county", User.scope_code == county, User.is_active.is_(True))
            .order_by(User.id)
            .limit(1)
        )
        if admin is None:
            log.warning("daily_matching_without_admin", county=county)
            return 0
        run, _ = await matchmaking.start_run(session, admin, RunCreate(scope=county), settings)
        return run.pairs_proposed or 0


async def run_scheduled(
    database: Database, settings: Settings, now: dt.datetime | None = None
) -> list[str]:
    """Run every scheduled job whose period at ``now`` no worker has taken; the jobs run."""
    moment = now or utcnow()
    interval = settings.expiry_interval_seconds
    jobs: list[tuple[str, str | None, Callable[[], Awaitable[object]]]] = [
        ("lapses", every(interval)(moment), lambda: _expire_and_forget(database, moment)),
        ("reminders", every(interval)(moment), lambda: send_reminders(database, moment)),
        ("digests", daily_at(DIGEST_HOUR)(moment), lambda: send_digests(database, moment)),
        (
            "fund_deadlines",
            every(interval)(moment),
            lambda: run_fund_deadlines(database, settings, moment),
        ),
    ]
    if settings.model_refresh_seconds:
        refresh = every(settings.model_refresh_seconds)(moment)
        jobs.append(("model_refresh", refresh, lambda: refresh_model(database)))
    day = daily_at(MATCHING_HOUR)(moment)
    if day is not None:
        for county in await counties_to_match(database, settings):
            jobs.append((f"matching:{county}", day, _matcher(database, settings, county)))
    done = []
    for name, period, work in jobs:
        try:
            if await once_per_period(database, name, period, work, moment):
                done.append(name)
        except Exception:
            log.exception("job_failed", job=name)
    return done


def _matcher(database: Database, settings: Settings, county: str) -> Callable[[], Awaitable[int]]:
    return lambda: match_county(database, settings, county)


async def _expire_and_forget(database: Database, moment: dt.datetime) -> None:
    result = await run_expiry(database, moment)
    async with database.write_sessionmaker.begin() as session:
        await session.execute(delete(JobRun).where(JobRun.started_at < moment - JOB_RUNS_KEPT))
    if result.lapsed_claims or result.expired_needs or result.lapsed_proposals:
        log.info(
            "expiry",
            lapsed_claims=result.lapsed_claims,
            expired_needs=result.expired_needs,
            lapsed_proposals=result.lapsed_proposals,
        )


async def worker_loop(
    database: Database, settings: Settings, stop: asyncio.Event | None = None
) -> None:
    """Deliver the outbox and run the scheduled jobs until ``stop`` is set (or cancelled).

    Scheduled jobs are looked at every ``expiry_interval_seconds`` (0: none in this process);
    deliveries every ``worker_poll_seconds``, at once again while there is more to send.
    """
    stop = stop or asyncio.Event()
    interval = settings.expiry_interval_seconds
    jobs_due = time.monotonic()
    while not stop.is_set():
        sent = 0
        try:
            if interval and time.monotonic() >= jobs_due:
                jobs_due = time.monotonic() + min(interval, 60.0)
                await run_scheduled(database, settings)
            sent = await delivery.deliver_due(database, settings)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A database outage must not end the loop; the next round tries again.
            log.exception("worker_round_failed")
        if not sent:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.worker_poll_seconds)
