"""Matching runs: load the open needs and the pool of a scope, solve, propose, record.

The run holds its scope's lock for its whole transaction (PostgreSQL advisory locks: one per
county, and a shared platform-wide lock that runs wider than a county take exclusively; SQLite
has a single writer), so two runs on overlapping scopes never propose the same need twice nor
count the same unit of capacity twice. The engine runs in a worker thread, so the event loop
keeps serving while it works.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.accounts.policy import admin_scope
from app.core.db import utcnow
from app.core.errors import Forbidden, NotFound
from app.core.pagination import page_by_id
from app.core.scope import Scope
from app.core.settings import Settings
from app.core.vocabulary import CATEGORIES
from app.matchmaking.engine import Candidates, Solution, solve_off_loop
from app.matchmaking.models import MatchingRun
from app.matchmaking.schemas import RunCreate
from app.needs import browse as needs
from app.offers import service as offers
from app.pairings import prediction
from app.pairings import service as pairings
from app.pairings.models import Pairing
from app.regions import service as regions_service
from app.regions.models import LEVEL_LENGTHS

RUN_ROLES = ("platform", "county", "township")
GLOBAL_LOCK = 0x41_58_49_4E  # "AXIN": held shared by county runs, exclusively by wider ones
CHUNK = 5000


def _check_scope(admin: User, scope_code: str) -> None:
    if admin.role not in RUN_ROLES:
        raise Forbidden("Only county, township or platform admins run matching", code="not_allowed")
    if not admin_scope(admin).covers(scope_code):
        raise NotFound(f"No region {scope_code!r} in your scope", code="region_not_found")


async def _lock_scope(session: AsyncSession, scope_code: str) -> None:
    """Serialise runs on overlapping scopes (PostgreSQL; SQLite's writer lock already does)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    if len(scope_code) >= LEVEL_LENGTHS["county"]:
        await session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": GLOBAL_LOCK})
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int(scope_code[:6])})
    else:
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": GLOBAL_LOCK})


async def _load(
    session: AsyncSession, scope: Scope, categories: Sequence[str], now: dt.datetime
) -> Candidates:
    need_rows = await needs.open_for_matching(session, scope, categories)
    offer_rows = await offers.open_for_matching(session, scope, categories, now)
    donors = sorted({row.donor_id for row in offer_rows})
    return Candidates(
        need_ids=[r.id for r in need_rows],
        need_categories=[r.category for r in need_rows],
        need_villages=[r.village_code for r in need_rows],
        need_values=[r.value_fen for r in need_rows],
        need_urgency=[r.urgency for r in need_rows],
        need_days_waiting=[max((now - r.published_at).days, 0) for r in need_rows],
        need_key=[bool(r.key_household) for r in need_rows],
        offer_ids=[r.id for r in offer_rows],
        offer_donors=[r.donor_id for r in offer_rows],
        offer_categories=[r.category for r in offer_rows],
        offer_preferences=[r.region_preference for r in offer_rows],
        offer_caps=[r.value_cap_fen for r in offer_rows],
        offer_capacity=[int(r.left) for r in offer_rows],
        donor_record=await prediction.donor_records(session, donors),
        model=await prediction.load_model(session),
    )


async def _propose(
    session: AsyncSession,
    run: MatchingRun,
    solution: Solution,
    candidates: Candidates,
    settings: Settings,
    now: dt.datetime,
) -> int:
    open_ids = await needs.lock_published(session, [pair.need_id for pair in solution.pairs])
    village = dict(zip(candidates.need_ids, candidates.need_villages, strict=True))
    donor = dict(zip(candidates.offer_ids, candidates.offer_donors, strict=True))
    expires = now + dt.timedelta(hours=settings.proposal_hold_hours)
    rows = [
        {
            "need_id": pair.need_id, "donor_id": donor[pair.offer_id], "offer_id": pair.offer_id,
            "run_id": run.id, "source": "match", "status": "proposed",
            "predicted_success": pair.probability, "score": pair.score,
            "village_code": village[pair.need_id], "county_code": village[pair.need_id][:6],
            "created_at": now, "expires_at": expires,
        }
        for pair in solution.pairs
        if pair.need_id in open_ids
    ]  # fmt: skip
    proposed = 0
    for start in range(0, len(rows), CHUNK):
        proposed += await pairings.propose_many(
            session, rows[start : start + CHUNK], actor_id=run.created_by_id,
            reason=f"matching run {run.id}",
        )  # fmt: skip
    return proposed


async def start_run(
    session: AsyncSession, admin: User, data: RunCreate, settings: Settings
) -> tuple[MatchingRun, Solution]:
    """Run the engine over a scope and record the run and its proposals in this transaction."""
    _check_scope(admin, data.scope)
    if data.scope:
        await regions_service.get_region(session, data.scope)
    categories = list(data.categories or CATEGORIES)
    started, now = time.perf_counter(), utcnow()
    await _lock_scope(session, data.scope)
    candidates = await _load(session, Scope(data.scope), categories, now)
    loaded = time.perf_counter()
    solution = await solve_off_loop(candidates, settings.matching_inline_max_needs)
    solved = time.perf_counter()
    run = MatchingRun(
        scope_code=data.scope, categories=categories, dry_run=data.dry_run,
        parameters=solution.parameters, status="completed",
        needs_considered=len(candidates.need_ids), offers_considered=len(candidates.offer_ids),
        offer_units=sum(candidates.offer_capacity), objective=solution.objective,
        expected_successes=solution.expected_successes, blocks=solution.blocks,
        load_seconds=round(loaded - started, 4), solve_seconds=round(solved - loaded, 4),
        created_by_id=admin.id, started_at=now,
    )  # fmt: skip
    session.add(run)
    await session.flush()
    run.pairs_proposed = (
        0 if data.dry_run else await _propose(session, run, solution, candidates, settings, now)
    )
    run.write_seconds = round(time.perf_counter() - solved, 4)
    run.finished_at = utcnow()
    await session.flush()
    return run, solution


def _runs_in(scope: Scope) -> ColumnElement[bool]:
    return and_(scope.where(MatchingRun.scope_code))


async def get_run(session: AsyncSession, scope: Scope, run_id: int) -> MatchingRun:
    run = await session.scalar(select(MatchingRun).where(MatchingRun.id == run_id, _runs_in(scope)))
    if run is None:
        raise NotFound(f"No matching run {run_id}", code="run_not_found")
    return run


async def list_runs(
    session: AsyncSession, scope: Scope, *, limit: int, cursor: str | None
) -> tuple[Sequence[MatchingRun], str | None]:
    statement = select(MatchingRun).where(_runs_in(scope))
    return await page_by_id(session, statement, MatchingRun.id, limit=limit, cursor=cursor)


async def run_pairings(
    session: AsyncSession, scope: Scope, run_id: int, *, limit: int, cursor: str | None
) -> tuple[list[tuple[Pairing, str]], str | None]:
    await get_run(session, scope, run_id)
    pairings, next_cursor = await page_by_id(
        session, select(Pairing).where(Pairing.run_id == run_id), Pairing.id,
        limit=limit, cursor=cursor, newest_first=False,
    )  # fmt: skip
    donors = {pairing.donor_id for pairing in pairings}
    rows = await session.execute(select(User.id, User.display_name).where(User.id.in_(donors)))
    names: dict[int, str] = dict(rows.all())
    return [(pairing, names[pairing.donor_id]) for pairing in pairings], next_cursor
