"""The predicted probability that a pairing ends in confirmed receipt.

A smoothed rate from the ended pairings of the same category (shrunk toward a county-wide
prior), then the donor's own record as a Beta posterior around that rate, so that a new donor
starts at the segment's rate and a donor's history moves it by the evidence it carries.
"""

from __future__ import annotations

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.needs.models import Need
from app.pairings.models import Pairing

# Dongkou county's reported 对接成功率 (36,459 of 53,299 needs): the prior before any outcome.
PRIOR_RATE = 0.685
SEGMENT_STRENGTH = 20.0  # pseudo-outcomes behind the prior of a segment
DONOR_STRENGTH = 10.0  # pseudo-outcomes behind the segment rate of one donor
SUCCESS = ("confirmed",)
FAILURE = ("released", "expired", "declined")


def posterior_mean(successes: float, failures: float, prior: float, strength: float) -> float:
    """Mean of Beta(prior·strength + successes, (1-prior)·strength + failures)."""
    return (prior * strength + successes) / (strength + successes + failures)


OUTCOMES = select(
    func.count(case((Pairing.status.in_(SUCCESS), 1))),
    func.count(case((Pairing.status.in_(FAILURE), 1))),
)


async def _counts(session: AsyncSession, statement: Select[int, int]) -> tuple[int, int]:
    successes, failures = (await session.execute(statement)).one()
    return int(successes), int(failures)


async def predict(
    session: AsyncSession, *, donor_id: int, category: str, county_code: str
) -> float:
    """The probability of success of a new pairing of this donor with a need of ``category``."""
    segment = await _counts(
        session,
        OUTCOMES.join(Need, Need.id == Pairing.need_id).where(
            Pairing.county_code == county_code, Need.category == category
        ),
    )
    segment_rate = posterior_mean(*segment, PRIOR_RATE, SEGMENT_STRENGTH)
    donor = await _counts(session, OUTCOMES.where(Pairing.donor_id == donor_id))
    return round(posterior_mean(*donor, segment_rate, DONOR_STRENGTH), 6)
