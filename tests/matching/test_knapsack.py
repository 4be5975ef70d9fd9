"""The allocation's knapsack: exact against brute force, and its arguments checked."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from matching import knapsack


def brute_force(values: np.ndarray, weights: np.ndarray, capacity: int) -> float:
    best = 0.0
    for mask in itertools.product((0, 1), repeat=values.size):
        chosen = np.flatnonzero(mask)
        if weights[chosen].sum() <= capacity:
            best = max(best, float(values[chosen].sum()))
    return best


@pytest.mark.parametrize("seed", range(40))
def test_the_knapsack_equals_brute_force_on_small_instances(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 13))
    weights = rng.integers(0, 5_000, n) * int(rng.choice([1, 100]))
    # Prices of needs and priorities as the allocation makes them: many ties of value per fen.
    values = weights * rng.choice([1.0, 1.5, 2.0, 2.5], n) * (rng.random(n) > 0.1)
    capacity = int(rng.integers(0, max(1, int(weights.sum())) + 1))
    result = knapsack(values, weights, capacity)
    assert result.weight == int(weights[result.chosen].sum()) <= capacity
    assert result.value == pytest.approx(
        brute_force(values, weights, capacity), rel=1e-12, abs=1e-9
    )
    assert np.all(values[result.chosen] > 0)


def test_an_empty_pool_or_no_needs_choose_nothing() -> None:
    assert knapsack([], np.array([], dtype=np.int64), 100).chosen.size == 0
    assert knapsack([3.0, 4.0], [10, 20], 0).chosen.tolist() == []


def test_everything_that_fits_is_taken() -> None:
    assert knapsack([3.0, 4.0, 5.0], [10, 20, 30], 60).chosen.tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    ("values", "weights", "capacity"),
    [
        ([1.0], [1, 2], 3),
        ([-1.0], [1], 3),
        ([float("nan")], [1], 3),
        ([1.0], [1.5], 3),
        ([1.0], [-1], 3),
        ([1.0], [1], -1),
        ([1.0], [1], True),
    ],
)
def test_bad_arguments_are_refused(values: list, weights: list, capacity: int) -> None:
    with pytest.raises(ValueError, match="must"):
        knapsack(values, weights, capacity)
