"""The bridge between the service's rows and the pure ``matching`` engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Candidates:
    """The open needs and the pool of one run, as plain lists (ids in ascending order)."""

    need_ids: list[int]
    need_categories: list[str]
    need_villages: list[str]
    need_values: list[int]
    need_urgency: list[int]
    need_days_waiting: list[int]
    need_key: list[bool]
    offer_ids: list[int]
    offer_donors: list[int]
    offer_categories: list[str]
    offer_preferences: list[str]
    offer_caps: list[int | None]
    offer_capacity: list[int]
    # donor id -> (successes, failures) of its ended pairings
    donor_record: dict[int, tuple[int, int]]
    # (category, length of the offer's region preference) -> (successes, failures)
    segment_counts: dict[tuple[str, int], tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Pair:
    need_id: int
    offer_id: int
    score: float
    probability: float


@dataclass(slots=True)
class Solution:
    pairs: list[Pair]
    objective: float
    expected_successes: float
    blocks: list[dict[str, Any]]
    parameters: dict[str, Any]
    offer_ids: list[int] = field(default_factory=list)
    offer_donors: list[int] = field(default_factory=list)


def solve_candidates(candidates: Candidates) -> Solution:
    """Solve one run's problem with the engine (called in a worker thread)."""
    from app.matchmaking._adapter import solve

    return solve(candidates)
