"""Bad input is refused up front with a precise ValueError (or TypeError for wrong types)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import matching

VILLAGE = "430525101201"


def needs(**overrides: object) -> matching.Needs:
    fields: dict[str, object] = {
        "ids": [1, 2],
        "category": [0, 0],
        "village": [VILLAGE, VILLAGE],
        "value": [100, 200],
        "urgency": [1, 3],
        "days_waiting": [0, 10],
        "key_household": [False, True],
        **overrides,
    }
    return matching.Needs(**fields)  # type: ignore[arg-type]


def offers(**overrides: object) -> matching.Offers:
    fields: dict[str, object] = {
        "ids": [10],
        "category": [0],
        "region": ["430525"],
        "capacity": [2],
        "value_cap": [None],
        "donor_successes": [0],
        "donor_failures": [0],
        **overrides,
    }
    return matching.Offers(**fields)  # type: ignore[arg-type]


def test_valid_input_is_accepted_and_frozen() -> None:
    made = needs()
    assert len(made) == 2
    assert made.village_code.tolist() == [430525101201, 430525101201]
    with pytest.raises(ValueError, match="read-only"):
        made.value[0] = 5
    assert offers().value_cap.tolist() == [matching.NO_CAP]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("category", [0], "needs.category has length 1, expected 2"),
        ("village", [VILLAGE], "needs.village has length 1"),
        ("value", [1, 2, 3], "needs.value has length 3"),
        ("village", [VILLAGE, "43052510120"], "12 digits, got '43052510120'"),
        ("village", [VILLAGE, "4305251012O1"], "12 digits"),
        ("village", [430525101201, 430525101201], "strings of digits"),
        ("value", [100, -1], "needs.value must be at least 0"),
        ("value", [1.5, 2.0], "needs.value must be integers"),
        ("urgency", [1, 4], "needs.urgency must be at most 3"),
        ("urgency", [0, 1], "needs.urgency must be at least 1"),
        ("days_waiting", [-3, 0], "days_waiting must be at least 0"),
        ("key_household", [0, 2], "booleans"),
        ("ids", [1, 1], "needs.ids must be unique"),
        ("ids", [1.0, 2.0], "integers or strings"),
        ("category", [0.5, 1.5], "small integers or strings"),
    ],
)
def test_bad_needs_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        needs(**{field: value})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("capacity", [0], "offers.capacity must be at least 1"),
        ("capacity", [1, 2], "offers.capacity has length 2, expected 1"),
        ("region", ["430"], "0 or 2 or 4 or 6 or 9 or 12 digits, got '430'"),
        ("region", ["43ab25"], "digits"),
        ("value_cap", [-5], "value_cap must be at least 0"),
        ("value_cap", [2.5], "integers"),
        ("donor_successes", [-1], "donor_successes must be at least 0"),
        ("ids", [[1, 2]], "one-dimensional"),
    ],
)
def test_bad_offers_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        offers(**{field: value})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"urgency_weight": math.nan}, "urgency_weight must be a finite number"),
        ({"waiting_weight": math.inf}, "waiting_weight must be a finite number"),
        ({"key_household_weight": -1.0}, "key_household_weight must be a finite number >= 0"),
        ({"probability_floor": 1.0}, r"probability_floor must lie in \[0, 1\)"),
        ({"probability_floor": -0.1}, "probability_floor"),
        ({"probability_floor": math.nan}, "probability_floor"),
        ({"memory_budget": 0}, "memory_budget must be an integer >= 1"),
        ({"workers": 0}, "workers must be an integer >= 1"),
        ({"waiting_unit_days": 1.5}, "waiting_unit_days must be an integer"),
        ({"parallel": "gpu"}, "parallel must be"),
    ],
)
def test_bad_parameters_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        matching.Parameters(**overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prior": 1.0}, r"prior must lie in \(0, 1\)"),
        ({"prior": 0.0}, "prior"),
        ({"segment_strength": 0}, "segment_strength must be a finite number > 0"),
        ({"donor_strength": math.nan}, "donor_strength"),
        ({"segment_successes": np.zeros((2, 6))}, "both"),
        (
            {"segment_successes": np.zeros((2, 5)), "segment_failures": np.zeros((2, 5))},
            r"shape \(categories, 6\)",
        ),
        (
            {"segment_successes": -np.ones((1, 6)), "segment_failures": np.zeros((1, 6))},
            "counts >= 0",
        ),
        (
            {"segment_successes": np.zeros((2, 6)), "segment_failures": np.zeros((3, 6))},
            "differ in shape",
        ),
        (
            {
                "segment_successes": np.zeros((2, 6)),
                "segment_failures": np.zeros((2, 6)),
                "categories": ["goods"],
            },
            "1 labels for 2 rows",
        ),
        ({"categories": ["goods", "goods"]}, "must not repeat"),
    ],
)
def test_bad_success_models_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        matching.SuccessModel(**kwargs)  # type: ignore[arg-type]


def test_mixed_category_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="both use integer or both use string"):
        matching.solve(needs(), offers(category=["goods"]))


def test_unknown_category_for_the_model_is_refused() -> None:
    model = matching.SuccessModel(
        segment_successes=np.zeros((1, 6)),
        segment_failures=np.zeros((1, 6)),
        categories=["goods"],
    )
    with pytest.raises(ValueError, match="unknown category 'health'"):
        matching.solve(needs(category=["goods", "goods"]), offers(category=["health"]), model=model)


def test_category_index_outside_the_segment_counts_is_refused() -> None:
    model = matching.SuccessModel(
        segment_successes=np.zeros((1, 6)), segment_failures=np.zeros((1, 6))
    )
    with pytest.raises(ValueError, match="category index out of range"):
        matching.solve(needs(category=[3, 3]), offers(category=[3]), model=model)


def test_wrong_argument_types_are_refused() -> None:
    with pytest.raises(TypeError, match="needs must be a Needs"):
        matching.solve({"ids": [1]}, offers())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="params must be a Parameters"):
        matching.solve(needs(), offers(), {"workers": 2})  # type: ignore[arg-type]


def test_bad_bands_and_counts_for_the_model_are_refused() -> None:
    model = matching.SuccessModel()
    with pytest.raises(ValueError, match=r"band must be integers in 0\.\.5"):
        model.probability([0], [6], [0], [0])
    with pytest.raises(ValueError, match="finite counts >= 0"):
        model.probability([0], [1], [-1], [0])
    with pytest.raises(ValueError, match="at most 12 digits"):
        matching.distance_band(["4305251012011"], [""])
