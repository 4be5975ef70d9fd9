"""The predicted probability that a pairing ends in confirmed receipt: the learned model.

The model is `matching.SuccessModel`: a smoothed rate per (category, distance band) learned
from the pairings that have ended, then the donor's own record as a Beta posterior around that
rate, so that a new donor starts at the segment's rate. The segment counts are aggregated in
the database into ``success_segments`` by :func:`app.matchmaking.learning.refresh` (``aixin
model refresh``, and periodically by the service), which joins the pairings to their needs and
offers; this module reads only pairings and segments. A donor's record is counted when it is
needed (it changes with every outcome). Before any refresh every segment is at the prior,
Dongkou county's reported 对接成功率.

Outcomes: a pairing succeeded when it ended ``confirmed``; it failed when it ended
``released``, ``expired`` (a lapsed claim or an unanswered proposal) or ``declined``.
Cancelled (the need was withdrawn by its admin) and superseded pairings say nothing about the
donor and are left out. The band of a matched pairing is the level of its offer's region
preference (village 0 ... anywhere 5: ``matching.BANDS``); a direct claim has no preference and
counts in band 5.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from sqlalchemy import and_, bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import statements
from app.core.vocabulary import CATEGORIES
from app.pairings.models import Pairing, SuccessSegment
from matching import BANDS, DONGKOU_RATE, SuccessModel

PRIOR_RATE = DONGKOU_RATE  # 0.685: 36,459 of 53,299 needs
SEGMENT_STRENGTH = 20.0  # pseudo-outcomes behind the prior of a segment
DONOR_STRENGTH = 10.0  # pseudo-outcomes behind the segment rate of one donor
SUCCESS = ("confirmed",)
FAILURE = ("released", "expired", "declined")
CLAIM_BAND = len(BANDS) - 1  # "farther": a claim has no region preference


def posterior_mean(successes: float, failures: float, prior: float, strength: float) -> float:
    """Mean of Beta(prior·strength + successes, (1-prior)·strength + failures)."""
    return (prior * strength + successes) / (strength + successes + failures)


# Every claim reads the model: the segments are read as plain rows (one statement built once),
# and the model built from them is kept while they stay the same (its arrays are read-only).
_SEGMENTS = select(
    SuccessSegment.category, SuccessSegment.band, SuccessSegment.successes, SuccessSegment.failures
).order_by(SuccessSegment.category, SuccessSegment.band)


async def load_model(session: AsyncSession) -> SuccessModel:
    """The success model as last refreshed (every segment at the prior before any refresh)."""
    segments = (await statements.run(session, _SEGMENTS, {})).rows
    return _model(tuple((str(c), int(b), float(s), float(f)) for c, b, s, f in segments))


@functools.lru_cache(maxsize=16)
def _model(segments: tuple[tuple[str, int, float, float], ...]) -> SuccessModel:
    labels = list(CATEGORIES)
    successes = np.zeros((len(labels), len(BANDS)))
    failures = np.zeros((len(labels), len(BANDS)))
    row = {label: index for index, label in enumerate(labels)}
    for category, band, segment_successes, segment_failures in segments:
        if category in row:
            successes[row[category], band] = segment_successes
            failures[row[category], band] = segment_failures
    return SuccessModel(
        prior=PRIOR_RATE,
        segment_strength=SEGMENT_STRENGTH,
        donor_strength=DONOR_STRENGTH,
        segment_successes=successes,
        segment_failures=failures,
        categories=labels,
    )


async def donor_records(
    session: AsyncSession, donors: list[int], chunk: int = 5000
) -> dict[int, tuple[int, int]]:
    """Each donor's ended pairings: (successes, failures)."""
    records: dict[int, tuple[int, int]] = {}
    for start in range(0, len(donors), chunk):
        rows = await session.execute(
            select(
                Pairing.donor_id,
                func.count(case((Pairing.status.in_(SUCCESS), 1))),
                func.count(case((Pairing.status.in_(FAILURE), 1))),
            )
            .where(Pairing.donor_id.in_(donors[start : start + chunk]))
            .group_by(Pairing.donor_id)
        )
        records.update({donor: (int(s), int(f)) for donor, s, f in rows})
    return records


# A claim reads the donor's standing once: its claims not yet delivered (what the open-claim
# cap counts) and its record (what the prediction weighs), in one statement built once.
# Its states are written into its SQL (statements.constant), so that it is the same SQL at every
# execution.
_STANDING = select(
    func.count(case((and_(Pairing.source == "claim", Pairing.status == "active"), 1))),
    func.count(case((Pairing.status.in_([statements.constant(s) for s in SUCCESS]), 1))),
    func.count(case((Pairing.status.in_([statements.constant(s) for s in FAILURE]), 1))),
).where(Pairing.donor_id == bindparam("donor_id"))


@dataclass(frozen=True, slots=True)
class Standing:
    """A donor's direct claims not yet delivered, and its ended pairings' outcomes."""

    undelivered_claims: int
    successes: int
    failures: int


async def standing(session: AsyncSession, donor_id: int) -> Standing:
    """The donor's standing, as :func:`predict` and the open-claim cap read it."""
    undelivered, successes, failures = (
        await statements.run(session, _STANDING, {"donor_id": donor_id})
    ).rows[0]
    return Standing(int(undelivered or 0), int(successes), int(failures))


async def predict(
    session: AsyncSession, *, donor_id: int, category: str, known: Standing | None = None
) -> float:
    """The probability of success of a direct claim of a need of ``category`` by this donor
    (``known``: its standing, if just read)."""
    model = await load_model(session)
    record = known or await standing(session, donor_id)
    return _claim_probability(model, category, record.successes, record.failures)


@functools.lru_cache(maxsize=4096)
def _claim_probability(model: SuccessModel, category: str, successes: int, failures: int) -> float:
    # The model is kept while its segments stay the same (read-only arrays): a claim of the
    # same category by a donor of the same record gets the same answer, computed once.
    probability = model.probability([category], [CLAIM_BAND], [successes], [failures])
    return round(float(probability[0]), 6)
