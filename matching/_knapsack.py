"""The 0-1 knapsack, solved exactly as an integer programme with `scipy.optimize.milp`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class KnapsackResult:
    """The chosen items of a knapsack.

    Attributes
    ----------
    chosen : ndarray of int
        Indices of the chosen items, ascending.
    value : float
        Their total value.
    weight : int
        Their total weight (at most the capacity).
    """

    chosen: NDArray[np.intp]
    value: float
    weight: int


def knapsack(values: ArrayLike, weights: ArrayLike, capacity: int) -> KnapsackResult:
    """Choose items of the largest total value whose total weight fits the capacity.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        The value of each item; finite and non-negative.
    weights : array_like of int, shape (n,)
        The weight of each item (such as an amount in fen); non-negative integers.
    capacity : int
        The most the chosen weights may add up to; non-negative.

    Returns
    -------
    KnapsackResult
        An optimal choice: no other choice within the capacity has a larger total value.
        Items of zero value are never chosen.

    Raises
    ------
    ValueError
        If the arrays differ in length, a value is negative or not finite, a weight is negative
        or not an integer, or the capacity is negative.

    Notes
    -----
    The weights are integers, so the programme is solved with a relative gap of zero and the
    solver's choice is checked in exact integer arithmetic; an item heavier than the capacity,
    or of no value, is left out before the solver sees it.
    """
    v = np.asarray(values, dtype=float)
    w_raw = np.asarray(weights)
    if v.ndim != 1 or w_raw.shape != v.shape:
        raise ValueError("values and weights must be 1-D arrays of one length")
    if not np.all(np.isfinite(v)) or np.any(v < 0):
        raise ValueError("values must be finite and non-negative")
    if w_raw.size and not np.issubdtype(w_raw.dtype, np.integer):
        raise ValueError("weights must be integers")
    w = w_raw.astype(np.int64)
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    if isinstance(capacity, bool) or not isinstance(capacity, int | np.integer) or capacity < 0:
        raise ValueError("capacity must be a non-negative integer")
    candidates = np.flatnonzero((v > 0) & (w <= capacity))
    free = candidates[w[candidates] == 0]
    paid = candidates[w[candidates] > 0]
    chosen = free
    if paid.size:
        chosen = np.union1d(free, paid[_solve(v[paid], w[paid], int(capacity))])
    chosen = np.sort(chosen).astype(np.intp)
    return KnapsackResult(chosen, float(v[chosen].sum()), int(w[chosen].sum()))


def _solve(
    values: NDArray[np.float64], weights: NDArray[np.int64], capacity: int
) -> NDArray[np.intp]:
    if int(weights.sum()) <= capacity:
        return np.arange(values.size)
    fixed, core = _reduce(values, weights, capacity)
    room = capacity - int(weights[fixed].sum())
    if core.size == 0:
        return fixed
    return np.concatenate([fixed, core[_milp(values[core], weights[core], room)]])


def _reduce(
    values: NDArray[np.float64], weights: NDArray[np.int64], capacity: int
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """The items every optimum takes, and the undecided core (Dembo and Hammer's reduction).

    With the items in order of value per weight, the linear relaxation takes those before the
    critical item ``s`` whole and ``s`` in part, at the ratio ``r``. Forcing an item against its
    relaxed value lowers the relaxation's bound by at least ``|v - r w|``; an item whose forced
    bound falls below a known solution's value (the greedy one) is decided as relaxed.
    """
    order = np.lexsort((np.arange(values.size), -values / weights))
    v, w = values[order], weights[order]
    cumulative = np.cumsum(w)
    s = int(np.searchsorted(cumulative, capacity, side="right"))
    ratio = v[s] / w[s]
    taken = int(cumulative[s - 1]) if s else 0
    bound = float(v[:s].sum()) + (capacity - taken) * ratio
    greedy = _greedy(v, w, capacity)
    # Only a clear margin decides an item, so rounding can never decide one wrongly.
    margin = 1e-9 * max(1.0, abs(greedy)) + 1e-9
    loss = np.abs(v - ratio * w)
    decided = bound - loss < greedy - margin
    positions = np.arange(v.size)
    take = decided & (positions < s)
    undecided = ~decided
    undecided[s] = True
    return np.sort(order[take]).astype(np.intp), np.sort(order[undecided]).astype(np.intp)


def _greedy(values: NDArray[np.float64], weights: NDArray[np.int64], capacity: int) -> float:
    """The value of taking each item in the given order while it fits."""
    room, total = capacity, 0.0
    for value, weight in zip(values.tolist(), weights.tolist(), strict=True):
        if weight <= room:
            room -= weight
            total += value
    return total


def _milp(
    values: NDArray[np.float64], weights: NDArray[np.int64], capacity: int
) -> NDArray[np.intp]:
    # Dividing by the weights' common divisor keeps the numbers the solver sees small.
    divisor = math.gcd(*(int(x) for x in weights))
    from scipy.optimize import Bounds, LinearConstraint, milp  # see _blocks.decompose

    result = milp(
        c=-values,
        constraints=LinearConstraint(
            (weights / divisor)[np.newaxis, :], -np.inf, capacity // divisor
        ),
        integrality=np.ones(values.size),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.0},
    )
    if result.x is None:  # pragma: no cover - choosing nothing is always feasible
        raise RuntimeError(f"the knapsack solver failed: {result.message}")
    picked = np.flatnonzero(result.x > 0.5)
    if int(weights[picked].sum()) > capacity:  # pragma: no cover - beyond the solver's tolerance
        raise RuntimeError("the knapsack solver's choice exceeds the capacity")
    return picked
