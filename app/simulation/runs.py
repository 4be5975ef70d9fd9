"""Matching runs over the county (the admin's monthly one, or the worker's nightly one), and the
donors' answers to their proposals."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.jobs import match_county
from app.matchmaking import proposals
from app.matchmaking import service as matching_service
from app.matchmaking.models import MatchingRun
from app.matchmaking.schemas import RunCreate
from app.pairings.models import Pairing
from app.simulation.donors import distance, follow
from app.simulation.state import Action, County, Donor, NeedState


async def matching_run(county: County, day: int) -> None:
    """The county admin's run over the county; each proposal accepted, declined or left
    unanswered."""
    async with county.database.write_sessionmaker.begin() as session:
        run, _ = await matching_service.start_run(
            session, county.admins[county.profile.county],
            RunCreate(scope=county.profile.county), county.settings,
        )  # fmt: skip
        run_id = run.id
    county.counters.runs += 1
    await _answer(county, day, run_id)


async def daily_run(county: County, day: int) -> None:
    """The worker's nightly run over the county (`app.jobs.match_county`), answered likewise."""
    code = county.profile.county
    await match_county(county.database, county.settings, code)
    async with county.database.sessionmaker() as session:
        run_id = await session.scalar(
            select(func.max(MatchingRun.id)).where(MatchingRun.scope_code == code)
        )
    county.counters.runs += 1
    if run_id is not None:
        await _answer(county, day, run_id)


async def _answer(county: County, day: int, run_id: int) -> None:
    async with county.database.sessionmaker() as session:
        rows = (
            await session.execute(
                select(Pairing.id, Pairing.need_id, Pairing.donor_id).where(
                    Pairing.run_id == run_id
                )
            )
        ).all()
    donors = {d.user.id: d for d in county.donors}
    for pairing_id, need_id, donor_id in rows:
        county.counters.proposals += 1
        donor, need = donors[donor_id], county.needs[need_id]
        accept = county.profile.truth.accept[distance(donor, need)]
        answer_at = county.at(day, 2.0) + dt.timedelta(hours=county.rng.uniform(1, 60))
        draw = county.rng.random()
        if draw < accept:
            county.schedule(answer_at, _accept_action(county, donor, need, pairing_id))
        elif draw < accept + (1 - accept) / 2:
            county.schedule(answer_at, _decline_action(county, donor, pairing_id))
        else:
            county.counters.unanswered += 1


def _accept_action(county: County, donor: Donor, need: NeedState, pairing_id: int) -> Action:
    async def accept(session: AsyncSession) -> None:
        await proposals.accept(session, donor.user, pairing_id, county.settings)
        county.counters.accepted += 1
        need.status = "claimed"
        follow(county, donor, need, utcnow(), source="match", pairing_id=pairing_id)

    return accept


def _decline_action(county: County, donor: Donor, pairing_id: int) -> Action:
    async def decline(session: AsyncSession) -> None:
        await proposals.decline(session, donor.user, pairing_id, "本月无法安排")
        county.counters.declined += 1

    return decline
