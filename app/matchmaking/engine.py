"""The bridge between the service's rows and the pure ``matching`` engine.

A large run is solved in a separate worker process: the sparse assignment solver holds the
GIL for seconds at county scale (measured: the event loop stalled 2.1 s on 50,000 needs when
solving in a thread), and the service must keep answering while a run works. Small runs, the
daily case of one township, are solved in a thread, where they take milliseconds.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import functools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matching import Needs, Offers, Parameters, SuccessModel, solve


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
    # the success model as last learned (segment rates; donors' records are above)
    model: SuccessModel = field(default_factory=SuccessModel)


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


def solve_candidates(candidates: Candidates, params: Parameters | None = None) -> Solution:
    """Solve one run's problem with the engine (called in a worker thread)."""
    params = params or Parameters()
    needs = Needs(
        ids=np.array(candidates.need_ids, dtype=np.int64),
        category=np.array(candidates.need_categories, dtype=str),
        village=np.array(candidates.need_villages, dtype=str),
        value=np.array(candidates.need_values, dtype=np.int64),
        urgency=np.array(candidates.need_urgency, dtype=np.int64),
        days_waiting=np.array(candidates.need_days_waiting, dtype=np.int64),
        key_household=np.array(candidates.need_key, dtype=bool),
    )
    records = [candidates.donor_record.get(donor, (0, 0)) for donor in candidates.offer_donors]
    offers = Offers(
        ids=np.array(candidates.offer_ids, dtype=np.int64),
        category=np.array(candidates.offer_categories, dtype=str),
        region=np.array(candidates.offer_preferences, dtype=str),
        capacity=np.array(candidates.offer_capacity, dtype=np.int64),
        value_cap=list(candidates.offer_caps),
        donor_successes=np.array([s for s, _ in records], dtype=np.int64),
        donor_failures=np.array([f for _, f in records], dtype=np.int64),
    )
    model = candidates.model
    result = solve(needs, offers, params, model=model)
    pairs = [
        Pair(int(need), int(offer), float(score), float(probability))
        for need, offer, score, probability in zip(
            result.need_id.tolist(),
            result.offer_id.tolist(),
            result.score.tolist(),
            result.probability.tolist(),
            strict=True,
        )
    ]
    stats = result.blocks
    blocks = [
        {
            "category": str(stats.category[i]),
            "needs": int(stats.needs[i]),
            "offers": int(stats.offers[i]),
            "offer_units": int(stats.units[i]),
            "candidates": int(stats.candidates[i]),
            "path": str(stats.path[i]),
            "matched": int(stats.matched[i]),
            "seconds": round(float(stats.seconds[i]), 6),
            "solver_seconds": round(float(stats.solver_seconds[i]), 6),
        }
        for i in range(len(stats))
    ]
    parameters: dict[str, Any] = dataclasses.asdict(params) | {
        "prior": model.prior,
        "segment_strength": model.segment_strength,
        "donor_strength": model.donor_strength,
    }
    return Solution(
        pairs=pairs,
        objective=float(result.objective),
        expected_successes=float(result.expected_successes),
        blocks=blocks,
        parameters=parameters,
        offer_ids=list(candidates.offer_ids),
        offer_donors=list(candidates.offer_donors),
    )


@functools.cache
def _pool() -> ProcessPoolExecutor:
    """One worker process per service process, started on first use (forkserver: safe from a
    threaded server, with numpy, scipy and the engine preloaded)."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        context.set_forkserver_preload(["app.matchmaking.engine"])
    pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
    atexit.register(pool.shutdown, wait=False, cancel_futures=True)
    return pool


def shutdown() -> None:
    """Stop the worker process, if one was started (the service calls this on shutdown)."""
    if _pool.cache_info().currsize:
        _pool().shutdown(wait=True, cancel_futures=True)
        _pool.cache_clear()


async def solve_off_loop(candidates: Candidates, inline_max_needs: int) -> Solution:
    """Solve without blocking the event loop: in a thread when small, else in the worker."""
    if len(candidates.need_ids) <= inline_max_needs:
        return await asyncio.to_thread(solve_candidates, candidates)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(), solve_candidates, candidates)
