"""`solve`: canonical order, decomposition, block solves and the checked result."""

from __future__ import annotations

import functools
import math
import multiprocessing
import multiprocessing.context
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from matching._assign import BlockSolution, solve_block
from matching._blocks import Block, decompose
from matching._problem import Needs, Offers, Parameters
from matching._success import SuccessModel, band_of_length

IndexArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class BlockStats:
    """Per-block statistics of a run, one entry per independent block.

    Attributes
    ----------
    category : ndarray
        The block's category (blocks never mix categories).
    needs, offers, units : ndarray of int64
        Needs, offers and offer units (total capacity) in the block.
    candidates : ndarray of int64
        Unit-level candidate pairs kept for the solver (after exact pruning).
    path : ndarray of str
        ``"dense"`` (scipy.optimize.linear_sum_assignment on the full matrix) or ``"sparse"``
        (scipy.sparse.csgraph.min_weight_full_bipartite_matching on the candidates).
    matched : ndarray of int64
        Pairs found in the block.
    seconds, solver_seconds : ndarray of float64
        Wall time of the block (candidates, costs and solve) and of the solver call alone.
    """

    category: npt.NDArray[Any]
    needs: IntArray
    offers: IntArray
    units: IntArray
    candidates: IntArray
    path: npt.NDArray[np.str_]
    matched: IntArray
    seconds: FloatArray
    solver_seconds: FloatArray

    def __len__(self) -> int:
        return int(self.needs.shape[0])


@dataclass(frozen=True, slots=True)
class Result:
    """Pairs chosen by `solve`, sorted by need id, and the run's figures.

    Attributes
    ----------
    need_index, offer_index : ndarray of intp
        Positions of the paired need and offer in the `Needs` and `Offers` given to `solve`.
        An offer appears once per need it serves (at most its capacity).
    need_id, offer_id : ndarray
        The same pairs as ids.
    score : ndarray of float64
        ``log(probability) + priority`` of each pair.
    probability : ndarray of float64
        Predicted success probability of each pair (to be stored with the pairing).
    matched : int
        Number of pairs: the largest number of needs that can be served at once.
    objective : float
        Sum of the scores: the largest possible among matchings of that size.
    expected_successes : float
        Sum of the probabilities.
    blocks : BlockStats
        How each independent block was solved.
    """

    need_index: IndexArray
    offer_index: IndexArray
    need_id: npt.NDArray[Any]
    offer_id: npt.NDArray[Any]
    score: FloatArray
    probability: FloatArray
    matched: int
    objective: float
    expected_successes: float
    blocks: BlockStats


def solve(
    needs: Needs,
    offers: Offers,
    params: Parameters | None = None,
    *,
    model: SuccessModel | None = None,
) -> Result:
    """Pair open needs with offers: as many needs as possible, then the best total score.

    Parameters
    ----------
    needs : Needs
        The open needs.
    offers : Offers
        The pool; an offer of capacity c serves up to c needs.
    params : Parameters, optional
        Score weights, probability floor, dense-matrix budget, workers. Default `Parameters()`.
    model : SuccessModel, optional
        Predicts each pair's success probability. Default `SuccessModel()`: no outcome
        history, every new donor at the prior.

    Returns
    -------
    Result
        The pairs, sorted by need id, with per-block statistics.

    Raises
    ------
    TypeError
        If the arguments are not `Needs`, `Offers`, `Parameters` and `SuccessModel`.
    ValueError
        If needs and offers use different kinds of category (integers and strings), or a
        category is unknown to the model.

    Notes
    -----
    A pair (need, offer) is feasible when both have the same category, the need's village
    code starts with the offer's region preference, the need's value is within the offer's
    cap (if any) and the predicted probability is at least ``params.probability_floor``. No
    other pair is ever returned; the result is checked before it is returned.

    The probability is ``model.probability(category, band, successes, failures)`` with the
    band of the offer's preference: for a feasible pair the longest common prefix of the
    village and the preference is the preference itself (see `distance_band`). The score of a
    pair is ``log(probability) + params.priority(needs)``.

    The objective is lexicographic: the largest number of pairs, then the largest total score.
    The feasibility graph is split exactly into connected components (blocks) before any
    matrix is built; each block is an assignment problem solved with
    `scipy.optimize.linear_sum_assignment` when its dense matrix fits
    ``params.memory_budget``, else with `scipy.sparse.csgraph.min_weight_full_bipartite_matching`
    on its candidate pairs. Both give the exact optimum; the module notes of
    ``matching._assign`` give the argument (separable scores, rank weights, cardinality
    first without dummy columns, exact candidate pruning).

    The result depends only on the content of the input, not its order: needs and offers are
    sorted by id inside. When several optima exist (equal scores), the same one is returned
    every time for the same input, but the two solver paths may pick different ones (with the
    same count and objective).

    Examples
    --------
    >>> import matching
    >>> needs = matching.Needs(ids=[1, 2], category=["goods", "goods"],
    ...                        village=["430525101201", "430525101202"])
    >>> offers = matching.Offers(ids=[10], category=["goods"], region=["430525"],
    ...                          capacity=[2])
    >>> result = matching.solve(needs, offers)
    >>> result.matched, result.offer_id.tolist()
    (2, [10, 10])
    """
    params = Parameters() if params is None else params
    model = SuccessModel() if model is None else model
    for name, value, kind in (
        ("needs", needs, Needs),
        ("offers", offers, Offers),
        ("params", params, Parameters),
        ("model", model, SuccessModel),
    ):
        if not isinstance(value, kind):
            raise TypeError(f"{name} must be a {kind.__name__}, got {type(value).__name__}")

    need_order = np.argsort(needs.ids, kind="stable")
    offer_order = np.argsort(offers.ids, kind="stable")
    need_category, offer_category = _joint_categories(
        needs.category[need_order], offers.category[offer_order]
    )
    probability = model.probability(
        offers.category[offer_order],
        band_of_length(offers.region_length[offer_order]),
        offers.donor_successes[offer_order],
        offers.donor_failures[offer_order],
    )
    active = probability >= params.probability_floor
    need_priority = params.priority(needs)[need_order]
    log_probability = np.log(probability)
    blocks: list[Block] = []
    if len(needs) and active.any():
        blocks = decompose(
            need_category,
            needs.village_code[need_order],
            needs.value[need_order],
            need_priority,
            offer_category,
            offers.region_code[offer_order],
            offers.region_length[offer_order],
            offers.value_cap[offer_order],
            offers.capacity[offer_order],
            log_probability,
            active,
        )
    solutions = _solve_blocks(blocks, params)

    need_canonical = np.concatenate([s.needs for s in solutions] + [np.zeros(0, np.intp)])
    offer_canonical = np.concatenate([s.offers for s in solutions] + [np.zeros(0, np.intp)])
    order = np.argsort(need_canonical, kind="stable")
    need_canonical, offer_canonical = need_canonical[order], offer_canonical[order]
    need_index = need_order[need_canonical].astype(np.intp)
    offer_index = offer_order[offer_canonical].astype(np.intp)
    _check(needs, offers, need_index, offer_index, probability[offer_canonical], params)

    score = need_priority[need_canonical] + log_probability[offer_canonical]
    pair_probability = probability[offer_canonical]
    stats = _stats(blocks, solutions, offers.category[offer_order])
    return Result(
        need_index=need_index,
        offer_index=offer_index,
        need_id=needs.ids[need_index],
        offer_id=offers.ids[offer_index],
        score=score,
        probability=pair_probability,
        matched=int(need_index.shape[0]),
        objective=math.fsum(score.tolist()),
        expected_successes=math.fsum(pair_probability.tolist()),
        blocks=stats,
    )


def _joint_categories(
    need_category: npt.NDArray[Any], offer_category: npt.NDArray[Any]
) -> tuple[IndexArray, IndexArray]:
    """Both sides' categories as indices into their sorted union."""
    kinds = {a.dtype.kind.replace("u", "i") for a in (need_category, offer_category) if a.size}
    if len(kinds) > 1:
        raise ValueError("needs and offers must both use integer or both use string categories")
    if not need_category.size or not offer_category.size:
        return (
            np.zeros(need_category.shape[0], dtype=np.intp),
            np.zeros(offer_category.shape[0], dtype=np.intp),
        )
    _, inverse = np.unique(np.concatenate([need_category, offer_category]), return_inverse=True)
    inverse = inverse.astype(np.intp)
    return inverse[: need_category.shape[0]], inverse[need_category.shape[0] :]


def _solve_blocks(blocks: list[Block], params: Parameters) -> list[BlockSolution]:
    """Solve the blocks, largest first when several workers share them."""

    def one(block: Block) -> BlockSolution:
        return solve_block(block, params.memory_budget)

    if params.workers == 1 or len(blocks) < 2:
        return [one(block) for block in blocks]
    size = [b.needs.shape[0] * int(b.offer_units.sum()) for b in blocks]
    largest_first = sorted(range(len(blocks)), key=lambda i: -size[i])
    ordered = [blocks[i] for i in largest_first]
    workers = min(params.workers, len(blocks))
    pool: Executor
    if params.parallel == "processes":
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=_process_context())
    else:
        pool = ThreadPoolExecutor(max_workers=workers)
    with pool:
        solved = pool.map(solve_block, ordered, [params.memory_budget] * len(ordered))
        done = dict(zip(largest_first, solved, strict=True))
    return [done[i] for i in range(len(blocks))]


@functools.cache
def _process_context() -> multiprocessing.context.BaseContext:
    """Forkserver (safe in a threaded process) with the solvers preloaded; else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["matching._assign"])
    return context


def _check(
    needs: Needs,
    offers: Offers,
    need_index: IndexArray,
    offer_index: IndexArray,
    probability: FloatArray,
    params: Parameters,
) -> None:
    """Refuse to return an infeasible pair or an over-used offer (never expected to fire)."""
    scale = 10 ** (12 - offers.region_length[offer_index])
    feasible = (
        (needs.category[need_index] == offers.category[offer_index])
        & (needs.village_code[need_index] // scale == offers.region_code[offer_index])
        & (needs.value[need_index] <= offers.value_cap[offer_index])
        & (probability >= params.probability_floor)
    )
    used = np.bincount(offer_index, minlength=len(offers))
    if not feasible.all() or (used > offers.capacity).any():
        raise RuntimeError("matching produced an infeasible pair; this is a bug")
    if np.unique(need_index).shape[0] != need_index.shape[0]:
        raise RuntimeError("matching paired a need twice; this is a bug")


def _stats(
    blocks: list[Block],
    solutions: list[BlockSolution],
    offer_category: npt.NDArray[Any],
) -> BlockStats:
    def ints(values: list[int]) -> IntArray:
        return np.array(values, dtype=np.int64)

    return BlockStats(
        category=offer_category[[b.offers[0] for b in blocks]] if blocks else offer_category[:0],
        needs=ints([b.needs.shape[0] for b in blocks]),
        offers=ints([b.offers.shape[0] for b in blocks]),
        units=ints([s.units for s in solutions]),
        candidates=ints([s.candidates for s in solutions]),
        path=np.array([s.path for s in solutions], dtype="<U6"),
        matched=ints([s.needs.shape[0] for s in solutions]),
        seconds=np.array([s.seconds for s in solutions], dtype=np.float64),
        solver_seconds=np.array([s.solver_seconds for s in solutions], dtype=np.float64),
    )
