"""The success model: segment smoothing, the donor's posterior, and distance bands."""

from __future__ import annotations

import numpy as np
import pytest

import matching

VILLAGE = "430525101201"


@pytest.mark.parametrize(
    ("other", "band"),
    [
        ("430525101201", "village"),
        ("430525101", "township"),
        ("430525101202", "township"),
        ("430525", "county"),
        ("430525102201", "county"),
        ("4305", "city"),
        ("430521100201", "city"),
        ("43", "province"),
        ("430722", "province"),
        ("11", "farther"),
        ("110101001001", "farther"),
        ("", "farther"),
    ],
)
def test_distance_band_is_the_level_of_the_common_prefix(other: str, band: str) -> None:
    assert matching.BANDS[int(matching.distance_band(VILLAGE, other))] == band


def test_distance_band_broadcasts() -> None:
    bands = matching.distance_band([VILLAGE], ["430525101", "430525", ""])
    assert bands.tolist() == [1, 2, 5]


def test_no_history_and_a_new_donor_give_the_prior() -> None:
    model = matching.SuccessModel()
    assert model.probability(["goods"], [1], [0], [0]).tolist() == [matching.DONGKOU_RATE]


def test_a_new_donor_starts_at_the_segment_rate() -> None:
    model = matching.SuccessModel(
        segment_successes=[[30, 0, 0, 0, 0, 0]],
        segment_failures=[[10, 0, 0, 0, 0, 0]],
        segment_strength=20,
    )
    expected = (30 + 20 * 0.685) / (30 + 10 + 20)
    assert model.segment_rate([0], [0])[0] == pytest.approx(expected)
    assert model.probability([0], [0], [0], [0])[0] == pytest.approx(expected)


def test_an_empty_segment_sits_at_the_prior_and_large_counts_reach_the_observed_rate() -> None:
    model = matching.SuccessModel(
        segment_successes=[[0, 9_000_000, 0, 0, 0, 0]],
        segment_failures=[[0, 1_000_000, 0, 0, 0, 0]],
    )
    assert model.segment_rate([0], [0])[0] == pytest.approx(0.685)
    assert model.segment_rate([0], [1])[0] == pytest.approx(0.9, abs=1e-5)


def test_counts_smooth_toward_the_prior() -> None:
    # The same observed rate (1.0) moves less far from the prior with fewer outcomes.
    model = matching.SuccessModel(
        segment_successes=[[1, 10, 100, 1000, 0, 0]], segment_failures=[[0, 0, 0, 0, 0, 0]]
    )
    rates = model.segment_rate([0, 0, 0, 0], [0, 1, 2, 3])
    assert (np.diff(rates) > 0).all()
    assert rates[0] > 0.685
    assert rates[-1] < 1.0


def test_more_successes_raise_and_more_failures_lower_the_probability() -> None:
    model = matching.SuccessModel()
    raised = model.probability([0] * 4, [2] * 4, [0, 1, 5, 50], [0, 0, 0, 0])
    lowered = model.probability([0] * 4, [2] * 4, [0, 0, 0, 0], [0, 1, 5, 50])
    assert (np.diff(raised) > 0).all()
    assert (np.diff(lowered) < 0).all()
    assert raised[1] == pytest.approx((1 + 10 * 0.685) / 11)


def test_category_labels_name_the_rows() -> None:
    model = matching.SuccessModel(
        segment_successes=[[10, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]],
        segment_failures=[[0, 0, 0, 0, 0, 0], [10, 0, 0, 0, 0, 0]],
        categories=["goods", "health"],
    )
    goods, health = model.segment_rate(["goods", "health"], [0, 0])
    assert goods > 0.685 > health


def test_solve_uses_the_band_of_the_preference() -> None:
    # One offer per band level; each pair's probability is that band's segment rate.
    successes = np.array([[60, 50, 40, 30, 20, 10]])
    model = matching.SuccessModel(
        segment_successes=successes, segment_failures=100 - successes, donor_strength=1
    )
    regions = ["430525101201", "430525101", "430525", "4305", "43", ""]
    needs = matching.Needs(ids=range(6), category=[0] * 6, village=[VILLAGE] * 6)
    offers = matching.Offers(ids=range(6), category=[0] * 6, region=regions)
    result = matching.solve(needs, offers, model=model)
    assert result.matched == 6
    expected = model.segment_rate([0] * 6, list(range(6)))
    assert np.allclose(np.sort(result.probability), np.sort(expected))
