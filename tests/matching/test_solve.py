"""`solve` on hand-made cases: the first-come trap, empty and infeasible input, blocks."""

from __future__ import annotations

import numpy as np

import matching
from tests.matching import factories

TOWNSHIP_1, TOWNSHIP_2 = "430525101201", "430525102201"


def first_come(
    needs: matching.Needs, offers: matching.Offers, model: matching.SuccessModel
) -> list[tuple[object, object]]:
    """Each need in posting order takes the free feasible offer of best probability."""
    band = matching._success.band_of_length(offers.region_length)
    probability = model.probability(
        offers.category, band, offers.donor_successes, offers.donor_failures
    )
    left = offers.capacity.copy()
    pairs = []
    for i in np.argsort(needs.ids).tolist():
        feasible = [
            j
            for j in range(len(offers))
            if left[j] > 0
            and needs.category[i] == offers.category[j]
            and str(needs.village[i]).startswith(str(offers.region[j]))
            and needs.value[i] <= offers.value_cap[j]
        ]
        if feasible:
            j = max(feasible, key=lambda j: probability[j])
            left[j] -= 1
            pairs.append((needs.ids[i].item(), offers.ids[j].item()))
    return pairs


def test_solve_serves_both_needs_where_first_come_wastes_an_offer() -> None:
    # Offer A (county-wide, a donor with a good record) can serve either need; offer B (a
    # donor with failures, township 1 only) just the first. First-come gives A to the first
    # need, and then nothing can serve the second; solve pairs the first with B.
    needs = matching.Needs(ids=[1, 2], category=[0, 0], village=[TOWNSHIP_1, TOWNSHIP_2])
    offers = matching.Offers(
        ids=["A", "B"],
        category=[0, 0],
        region=["430525", "430525101"],
        donor_successes=[10, 0],
        donor_failures=[0, 5],
    )
    model = matching.SuccessModel()
    assert first_come(needs, offers, model) == [(1, "A")]
    result = matching.solve(needs, offers, model=model)
    assert result.matched == 2
    assert list(zip(result.need_id.tolist(), result.offer_id.tolist(), strict=True)) == [
        (1, "B"),
        (2, "A"),
    ]


def test_capacity_serves_several_needs_and_no_more() -> None:
    needs = matching.Needs(ids=range(5), category=[0] * 5, village=[TOWNSHIP_1] * 5)
    offers = matching.Offers(ids=[7], category=[0], region=[""], capacity=[3])
    result = matching.solve(needs, offers)
    assert result.matched == 3
    assert result.offer_id.tolist() == [7, 7, 7]


def test_the_most_urgent_needs_are_served_first_when_units_are_short() -> None:
    needs = matching.Needs(
        ids=range(4),
        category=[0] * 4,
        village=[TOWNSHIP_1] * 4,
        urgency=[1, 3, 2, 3],
        key_household=[False, False, False, True],
    )
    offers = matching.Offers(ids=[1], category=[0], region=["430525"], capacity=[2])
    result = matching.solve(needs, offers)
    assert result.need_id.tolist() == [1, 3]


def test_empty_input_returns_an_empty_result() -> None:
    no_needs = matching.Needs(ids=[], category=[], village=[])
    no_offers = matching.Offers(ids=[], category=[], region=[])
    some_needs = matching.Needs(ids=[1], category=[0], village=[TOWNSHIP_1])
    some_offers = matching.Offers(ids=[1], category=[0], region=[""])
    for needs, offers in [(no_needs, no_offers), (no_needs, some_offers), (some_needs, no_offers)]:
        result = matching.solve(needs, offers)
        assert result.matched == 0
        assert result.objective == 0.0
        assert result.need_index.shape == (0,)
        assert len(result.blocks) == 0


def test_all_infeasible_input_returns_no_pairs() -> None:
    # Other province, a cap below every value, another category.
    needs = matching.Needs(
        ids=[1, 2, 3],
        category=["goods", "goods", "health"],
        village=[TOWNSHIP_1, TOWNSHIP_2, TOWNSHIP_1],
        value=[100, 90_000, 100],
    )
    offers = matching.Offers(
        ids=[1, 2, 3],
        category=["goods", "goods", "schooling"],
        region=["110101", "430525", ""],
        value_cap=[None, 50, None],
    )
    result = matching.solve(needs, offers)
    assert result.matched == 0
    assert len(result.blocks) == 0


def test_offers_below_the_floor_are_never_used() -> None:
    needs = matching.Needs(ids=[1, 2], category=[0, 0], village=[TOWNSHIP_1, TOWNSHIP_1])
    offers = matching.Offers(
        ids=[1, 2], category=[0, 0], region=["", ""], donor_successes=[0, 9], donor_failures=[20, 0]
    )
    result = matching.solve(needs, offers, matching.Parameters(probability_floor=0.5))
    assert result.offer_id.tolist() == [2]
    assert (result.probability >= 0.5).all()


def test_one_sided_input_returns_cleanly() -> None:
    needs = matching.Needs(ids=range(3), category=[0] * 3, village=[TOWNSHIP_1] * 3)
    offers = matching.Offers(ids=[1], category=[0], region=[""], donor_failures=[100])
    result = matching.solve(needs, offers, matching.Parameters(probability_floor=0.5))
    assert result.matched == 0


def test_blocks_split_by_category_and_region() -> None:
    needs = matching.Needs(
        ids=range(4),
        category=["goods", "goods", "goods", "health"],
        village=[TOWNSHIP_1, TOWNSHIP_2, "110101001001", TOWNSHIP_1],
    )
    offers = matching.Offers(
        ids=range(4),
        category=["goods", "goods", "goods", "health"],
        region=["430525101", "430525102", "11", "43"],
    )
    result = matching.solve(needs, offers)
    assert result.matched == 4
    blocks = result.blocks
    assert len(blocks) == 4
    assert sorted(blocks.category.tolist()) == ["goods", "goods", "goods", "health"]
    assert blocks.needs.tolist() == [1, 1, 1, 1]
    assert set(blocks.path.tolist()) == {"dense"}
    assert (blocks.seconds >= blocks.solver_seconds).all()


def test_workers_in_threads_and_processes_give_the_same_pairs() -> None:
    instance = factories.seeded(3, needs=400, offers=90)

    def pairs(**options: object) -> list[tuple[object, object]]:
        params = matching.Parameters(probability_floor=0.6, **options)  # type: ignore[arg-type]
        result = matching.solve(instance.needs, instance.offers, params, model=instance.model)
        return list(zip(result.need_id.tolist(), result.offer_id.tolist(), strict=True))

    sequential = pairs()
    assert pairs(workers=2) == sequential
    assert pairs(workers=2, parallel="processes") == sequential
