"""Matching donors' offers to poor households' needs (爱心对接): arrays in, pairs out.

Pure computation on numpy arrays with scipy's assignment solvers: no database, no web
framework. The service loads the open needs and the pool of a scope, calls `solve` (in a
worker thread), and records the returned pairs.

Public names
------------
Needs, Offers
    The problem: one array entry per need / per offer, validated on construction.
Parameters
    Score weights, probability floor, dense-matrix memory budget, workers.
SuccessModel
    Predicted success probability from outcome counts (segment rates, donor posterior).
distance_band, BANDS
    The distance band of two region codes, from their longest common prefix.
solve, Result, BlockStats
    The exact lexicographic optimum (most needs served, then the largest total score).
knapsack, KnapsackResult
    The exact 0-1 knapsack (the allocation of a county's pool among open needs).
NO_CAP, DONGKOU_RATE
    Constants: "no value cap", and the default prior success rate (0.685).
Students, Volunteers, pair_students, Assignment, scores
    One-to-one programmes (一助一, 云支教): students paired with volunteers within capacity on
    a shared subject, grade band and weekly slot; the exact optimum (most pairs, then score).
"""

from matching._knapsack import KnapsackResult, knapsack
from matching._problem import NO_CAP, Needs, Offers, Parameters
from matching._solve import BlockStats, Result, solve
from matching._success import BANDS, DONGKOU_RATE, SuccessModel, distance_band
from matching._tutoring import Assignment, Students, Volunteers, pair_students, scores

__all__ = [
    "BANDS",
    "DONGKOU_RATE",
    "NO_CAP",
    "Assignment",
    "BlockStats",
    "KnapsackResult",
    "Needs",
    "Offers",
    "Parameters",
    "Result",
    "Students",
    "SuccessModel",
    "Volunteers",
    "distance_band",
    "knapsack",
    "pair_students",
    "scores",
    "solve",
]
