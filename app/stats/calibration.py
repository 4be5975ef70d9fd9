"""Calibration: the predicted success of ended pairings against what became of them.

The Brier score and ten reliability bins, aggregated in SQL over the pairings that ended with
an outcome.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float, Row, Subquery, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.errors import Unprocessable
from app.core.scope import Scope
from app.pairings.models import Pairing
from app.pairings.prediction import FAILURE, SUCCESS
from app.stats import periods
from app.stats.common import region_in_scope
from app.stats.schemas import Calibration, CalibrationBin

BINS = 10

CALIBRATION_DEFINITIONS = {
    "pairings": "Pairings of the scope that ended with an outcome, by ended_at in CST: "
    "confirmed (outcome 1), or released, expired or declined (outcome 0); cancelled and "
    "superseded pairings say nothing of the donor and are left out",
    "brier": "Mean of (predicted_success - outcome)²; lower is better",
    "observed_rate": "Mean outcome: the share confirmed",
    "mean_predicted": "Mean predicted_success",
    "reference_brier": "Brier score of always predicting observed_rate, r(1 - r): "
    "a useful model scores below it",
    "bins": "[0, 0.1), [0.1, 0.2), …, [0.9, 1.0] by predicted_success",
}


def _outcomes(scope: str, lower: dt.date | None, upper: dt.date | None) -> Subquery:
    """The ended pairings of the scope with an outcome: predicted, outcome (1/0), bin."""
    predicted = Pairing.predicted_success
    conditions = [Scope(scope).where(Pairing.village_code), Pairing.status.in_(SUCCESS + FAILURE)]
    if lower is not None:
        conditions.append(Pairing.ended_at >= periods.midnight(lower))
    if upper is not None:
        conditions.append(Pairing.ended_at < periods.midnight(upper))
    bin_index = case(
        *((predicted < (index + 1) / BINS, index) for index in range(BINS - 1)), else_=BINS - 1
    )
    return (
        select(
            predicted.label("predicted"),
            cast(case((Pairing.status.in_(SUCCESS), 1), else_=0), Float).label("outcome"),
            bin_index.label("bin"),
        )
        .where(*conditions)
        .subquery("outcomes")
    )


async def report(
    session: AsyncSession,
    admin: User,
    *,
    scope: str | None,
    lower: dt.date | None,
    upper: dt.date | None,
) -> Calibration:
    """Predicted against realised: the Brier score and ten reliability bins, in SQL."""
    code = await region_in_scope(session, admin, scope)
    if lower is not None and upper is not None and lower >= upper:
        raise Unprocessable(f"from ({lower}) must come before to ({upper})", code="invalid_range")
    return await calibration_of(session, code, lower, upper)


async def calibration_of(
    session: AsyncSession, code: str, lower: dt.date | None = None, upper: dt.date | None = None
) -> Calibration:
    """The calibration of the pairings of region ``code`` (no access check: callers do it)."""
    outcomes = _outcomes(code, lower, upper)
    error = outcomes.c.predicted - outcomes.c.outcome
    totals = (
        await session.execute(
            select(
                func.count().label("count"),
                func.avg(error * error).label("brier"),
                func.avg(outcomes.c.outcome).label("observed_rate"),
                func.avg(outcomes.c.predicted).label("mean_predicted"),
            )
        )
    ).one()
    by_bin = {
        row.bin: row
        for row in await session.execute(
            select(
                outcomes.c.bin,
                func.count().label("count"),
                func.avg(outcomes.c.predicted).label("mean_predicted"),
                func.avg(outcomes.c.outcome).label("observed_rate"),
            ).group_by(outcomes.c.bin)
        )
    }
    rate = totals.observed_rate
    return Calibration(
        scope=code,
        from_=lower,
        to=upper,
        definitions=CALIBRATION_DEFINITIONS,
        count=totals.count,
        brier=totals.brier,
        observed_rate=rate,
        mean_predicted=totals.mean_predicted,
        reference_brier=None if rate is None else rate * (1 - rate),
        bins=[_bin(index, by_bin.get(index)) for index in range(BINS)],
    )


def _bin(index: int, row: Row[Any] | None) -> CalibrationBin:
    return CalibrationBin(
        lower=index / BINS,
        upper=(index + 1) / BINS,
        count=row.count if row else 0,
        mean_predicted=row.mean_predicted if row else None,
        observed_rate=row.observed_rate if row else None,
    )
