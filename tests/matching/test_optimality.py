"""`solve` against integer programming and exhaustive search on random instances.

Seeded (derandomized) hypothesis runs with a bounded number of examples, so the suite is
repeatable and fast.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import matching
from tests.matching import factories, reference

PROPERTY = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def assert_same_optimum(result: matching.Result, optimum: reference.Optimum) -> None:
    assert result.matched == optimum.matched
    assert math.isclose(result.objective, optimum.objective, rel_tol=1e-9, abs_tol=1e-9)


@PROPERTY
@given(factories.instances())
def test_solve_equals_the_milp_optimum(instance: factories.Instance) -> None:
    result = matching.solve(instance.needs, instance.offers, instance.params, model=instance.model)
    pairs = reference.feasible_pairs(
        instance.needs, instance.offers, instance.params, instance.model
    )
    optimum = reference.milp_optimum(pairs, len(instance.needs), instance.offers.capacity)
    assert_same_optimum(result, optimum)


@PROPERTY
@given(factories.instances(max_needs=5, max_offers=3))
def test_solve_equals_exhaustive_search_on_tiny_instances(instance: factories.Instance) -> None:
    result = matching.solve(instance.needs, instance.offers, instance.params, model=instance.model)
    pairs = reference.feasible_pairs(
        instance.needs, instance.offers, instance.params, instance.model
    )
    optimum = reference.exhaustive_optimum(pairs, len(instance.needs), instance.offers.capacity)
    assert_same_optimum(result, optimum)


@PROPERTY
@given(factories.instances())
def test_every_pair_is_feasible_and_capacities_hold(instance: factories.Instance) -> None:
    result = matching.solve(instance.needs, instance.offers, instance.params, model=instance.model)
    pairs = reference.feasible_pairs(
        instance.needs, instance.offers, instance.params, instance.model
    )
    allowed = set(zip(pairs.need.tolist(), pairs.offer.tolist(), strict=True))
    returned = list(zip(result.need_index.tolist(), result.offer_index.tolist(), strict=True))
    assert set(returned) <= allowed
    assert len(set(result.need_index.tolist())) == result.matched
    used = np.bincount(result.offer_index, minlength=len(instance.offers))
    assert (used <= instance.offers.capacity).all()


@PROPERTY
@given(factories.instances())
def test_reported_scores_and_probabilities_are_those_of_the_pairs(
    instance: factories.Instance,
) -> None:
    result = matching.solve(instance.needs, instance.offers, instance.params, model=instance.model)
    needs, offers = instance.needs, instance.offers
    band = matching.distance_band(
        needs.village[result.need_index], offers.region[result.offer_index]
    )
    probability = instance.model.probability(
        offers.category[result.offer_index],
        band,
        offers.donor_successes[result.offer_index],
        offers.donor_failures[result.offer_index],
    )
    np.testing.assert_allclose(result.probability, probability, rtol=1e-12)
    priority = instance.params.priority(needs)[result.need_index]
    np.testing.assert_allclose(result.score, priority + np.log(probability), rtol=1e-12)
    assert result.need_id.tolist() == needs.ids[result.need_index].tolist()
    assert result.offer_id.tolist() == offers.ids[result.offer_index].tolist()
    assert result.need_id.tolist() == sorted(result.need_id.tolist())


@PROPERTY
@given(factories.instances())
def test_dense_and_sparse_paths_reach_the_same_optimum(instance: factories.Instance) -> None:
    def run(budget: int) -> matching.Result:
        params = matching.Parameters(
            urgency_weight=instance.params.urgency_weight,
            waiting_weight=instance.params.waiting_weight,
            key_household_weight=instance.params.key_household_weight,
            probability_floor=instance.params.probability_floor,
            memory_budget=budget,
        )
        return matching.solve(instance.needs, instance.offers, params, model=instance.model)

    dense, sparse = run(2**40), run(1)
    assert set(dense.blocks.path.tolist()) <= {"dense"}
    assert set(sparse.blocks.path.tolist()) <= {"sparse"}
    assert dense.matched == sparse.matched
    assert math.isclose(dense.objective, sparse.objective, rel_tol=1e-12, abs_tol=1e-12)


@PROPERTY
@given(factories.instances())
def test_result_does_not_depend_on_input_order(instance: factories.Instance) -> None:
    rng = np.random.default_rng(len(instance.needs) * 31 + len(instance.offers))
    shuffled = factories.Instance(
        needs=_reorder_needs(instance.needs, rng.permutation(len(instance.needs))),
        offers=_reorder_offers(instance.offers, rng.permutation(len(instance.offers))),
        params=instance.params,
        model=instance.model,
    )
    first = matching.solve(instance.needs, instance.offers, instance.params, model=instance.model)
    second = matching.solve(shuffled.needs, shuffled.offers, shuffled.params, model=shuffled.model)
    assert _id_pairs(first) == _id_pairs(second)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("budget", [1, 2**40])
def test_larger_seeded_instances_equal_the_milp_optimum(seed: int, budget: int) -> None:
    instance = factories.seeded(seed, needs=240, offers=50)
    params = matching.Parameters(probability_floor=0.6, memory_budget=budget)
    result = matching.solve(instance.needs, instance.offers, params, model=instance.model)
    pairs = reference.feasible_pairs(instance.needs, instance.offers, params, instance.model)
    assert_same_optimum(
        result, reference.milp_optimum(pairs, len(instance.needs), instance.offers.capacity)
    )


def test_ties_are_broken_the_same_way_whatever_the_order() -> None:
    # Every need has the same priority and every offer the same probability: many optima.
    rng = np.random.default_rng(7)
    villages = rng.choice(factories.VILLAGES[:4], 60)
    needs = matching.Needs(ids=np.arange(60), category=np.zeros(60, int), village=villages)
    offers = matching.Offers(
        ids=np.arange(20),
        category=np.zeros(20, int),
        region=rng.choice(["430525", "430525101", "430525102"], 20),
        capacity=rng.integers(1, 3, 20),
    )
    baseline = _id_pairs(matching.solve(needs, offers))
    for _ in range(5):
        order_n, order_o = rng.permutation(60), rng.permutation(20)
        again = matching.solve(_reorder_needs(needs, order_n), _reorder_offers(offers, order_o))
        assert _id_pairs(again) == baseline


def _id_pairs(result: matching.Result) -> list[tuple[object, object]]:
    return sorted(zip(result.need_id.tolist(), result.offer_id.tolist(), strict=True))


def _reorder_needs(needs: matching.Needs, order: np.ndarray) -> matching.Needs:
    return matching.Needs(
        ids=needs.ids[order],
        category=needs.category[order],
        village=needs.village[order],
        value=needs.value[order],
        urgency=needs.urgency[order],
        days_waiting=needs.days_waiting[order],
        key_household=needs.key_household[order],
    )


def _reorder_offers(offers: matching.Offers, order: np.ndarray) -> matching.Offers:
    return matching.Offers(
        ids=offers.ids[order],
        category=offers.category[order],
        region=offers.region[order],
        capacity=offers.capacity[order],
        value_cap=offers.value_cap[order],
        donor_successes=offers.donor_successes[order],
        donor_failures=offers.donor_failures[order],
    )
