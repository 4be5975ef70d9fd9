"""The predicted probability that a pairing ends in confirmed receipt: the learned model.

The model is `matching.SuccessModel`: a smoothed rate per (category, distance band) learned
from the pairings that have ended, then the donor's own record as a Beta posterior around that
rate, so that a new donor starts at the segment's rate. The segment counts are aggregated in
the database into ``success_segments`` by :func:`refresh` (``aixin model refresh``, and
periodically by the service); a donor's record is counted when it is needed (it changes with
every outcome). Before any refresh every segment is at the prior, Dongkou county's reported
对接成功率.

Outcomes: a pairing succeeded when it ended ``confirmed``; it failed when it ended
``released``, ``expired`` (a lapsed claim or an unanswered proposal) or ``declined``.
Cancelled (the need was withdrawn by its admin) and superseded pairings say nothing about the
donor and are left out. The band of a matched pairing is the level of its offer's region
preference (village 0 ... anywhere 5: ``matching.BANDS``); a direct claim has no preference and
counts in band 5.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import ColumnElement, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.needs.models import CATEGORIES, Need
from app.offers.models import Offer
from app.pairings.models import Pairing, SuccessSegment
from matching import BANDS, DONGKOU_RATE, SuccessModel

PRIOR_RATE = DONGKOU_RATE  # 0.685: 36,459 of 53,299 needs
SEGMENT_STRENGTH = 20.0  # pseudo-outcomes behind the prior of a segment
DONOR_STRENGTH = 10.0  # pseudo-outcomes behind the segment rate of one donor
SUCCESS = ("confirmed",)
FAILURE = ("released", "expired", "declined")
CLAIM_BAND = len(BANDS) - 1  # "farther": a claim has no region preference

# Band of a region-preference length: 12 digits village (0), 9 township, 6 county, 4 city,
# 2 province, "" anywhere (5).
_BAND_OF_LENGTH = {12: 0, 9: 1, 6: 2, 4: 3, 2: 4, 0: 5}


def posterior_mean(successes: float, failures: float, prior: float, strength: float) -> float:
    """Mean of Beta(prior·strength + successes, (1-prior)·strength + failures)."""
    return (prior * strength + successes) / (strength + successes + failures)


def _band() -> ColumnElement[int]:
    length = func.length(func.coalesce(Offer.region_preference, ""))
    return case(
        *((length == n, band) for n, band in _BAND_OF_LENGTH.items() if n),
        else_=CLAIM_BAND,
    )


async def refresh(session: AsyncSession, now: dt.datetime | None = None) -> int:
    """Re-learn the segment counts from every ended pairing (one aggregation in SQL).

    Returns the number of segments with any outcome. Safe to run at any time: the table is
    replaced in the caller's transaction.
    """
    band = _band()
    rows = (
        await session.execute(
            select(
                Need.category,
                band.label("band"),
                func.count(case((Pairing.status.in_(SUCCESS), 1))),
                func.count(case((Pairing.status.in_(FAILURE), 1))),
            )
            .join(Need, Need.id == Pairing.need_id)
            .outerjoin(Offer, Offer.id == Pairing.offer_id)
            .where(Pairing.status.in_(SUCCESS + FAILURE))
            .group_by(Need.category, band)
        )
    ).all()
    moment = now or utcnow()
    await session.execute(delete(SuccessSegment))
    values = [
        {
            "category": category,
            "band": int(band_index),
            "successes": int(s),
            "failures": int(f),
            "rate": posterior_mean(int(s), int(f), PRIOR_RATE, SEGMENT_STRENGTH),
            "refreshed_at": moment,
        }
        for category, band_index, s, f in rows
    ]
    if values:
        await session.execute(insert(SuccessSegment), values)
    return len(values)


async def load_model(session: AsyncSession) -> SuccessModel:
    """The success model as last refreshed (every segment at the prior before any refresh)."""
    labels = list(CATEGORIES)
    successes = np.zeros((len(labels), len(BANDS)))
    failures = np.zeros((len(labels), len(BANDS)))
    row = {label: index for index, label in enumerate(labels)}
    for segment in await session.scalars(select(SuccessSegment)):
        if segment.category in row:
            successes[row[segment.category], segment.band] = segment.successes
            failures[row[segment.category], segment.band] = segment.failures
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


async def predict(session: AsyncSession, *, donor_id: int, category: str) -> float:
    """The probability of success of a direct claim of a need of ``category`` by this donor."""
    model = await load_model(session)
    successes, failures = (await donor_records(session, [donor_id])).get(donor_id, (0, 0))
    probability = model.probability([category], [CLAIM_BAND], [successes], [failures])
    return round(float(probability[0]), 6)
