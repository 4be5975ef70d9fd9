"""Learning the success model: the ended pairings counted per (category, distance band).

The band of a matched pairing is the level of its offer's region preference (village 0 ...
anywhere 5: ``matching.BANDS``); a direct claim has no preference and counts in band 5. The
counts are smoothed toward the prior and written to ``success_segments``, which
:mod:`app.pairings.prediction` reads.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.needs.models import Need
from app.offers.models import Offer
from app.pairings.models import Pairing, SuccessSegment
from app.pairings.prediction import (
    CLAIM_BAND,
    FAILURE,
    PRIOR_RATE,
    SEGMENT_STRENGTH,
    SUCCESS,
    posterior_mean,
)

# Band of a region-preference length: 12 digits village (0), 9 township, 6 county, 4 city,
# 2 province, "" anywhere (5).
_BAND_OF_LENGTH = {12: 0, 9: 1, 6: 2, 4: 3, 2: 4, 0: 5}


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
