"""Scheduled work, composed from each domain's own steps: lapses, purges, re-learning.

Run by the ``aixin expire`` and ``aixin model refresh`` commands and by a periodic task inside
the service. Each step is a compare-and-set per record, so any number of runners (replicas, a
cron job, the command run by hand) may work at once: each need lapses once, with one event.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database, utcnow
from app.core.idempotency import purge_expired
from app.matchmaking import learning
from app.needs import lifecycle as needs
from app.pairings import service as pairings

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
