"""`pair_students` against integer programming on random instances, and its rules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

import matching

VILLAGES = ("430525101201", "430525101202", "430525102201", "430526101201")
REGIONS = ("", "430525", "430525101", "430525101201", "43")
INSTANCES = 120


def random_instance(rng: np.random.Generator) -> tuple[matching.Students, matching.Volunteers]:
    n, m = int(rng.integers(0, 10)), int(rng.integers(0, 6))
    students = matching.Students(
        subjects=rng.integers(1, 8, n), band=rng.integers(0, 3, n), slots=rng.integers(1, 16, n),
        village=rng.choice(VILLAGES, n).astype(str) if n else np.zeros(0, dtype=str),
    )  # fmt: skip
    volunteers = matching.Volunteers(
        subjects=rng.integers(0, 8, m), bands=rng.integers(0, 8, m), slots=rng.integers(0, 16, m),
        capacity=rng.integers(0, 4, m),
        region=rng.choice(REGIONS, m).astype(str) if m else np.zeros(0, dtype=str),
        preferred=rng.choice(REGIONS, m).astype(str) if m else np.zeros(0, dtype=str),
    )  # fmt: skip
    return students, volunteers


def reference_pairs(
    students: matching.Students, volunteers: matching.Volunteers, weight: int
) -> list[tuple[int, int, int]]:
    """Feasible (student, volunteer, score), judged pair by pair with strings and bit counts."""
    pairs = []
    for i, j in itertools.product(range(len(students)), range(len(volunteers))):
        village = str(students.village[i])
        region = "" if volunteers.region[j, 1] == 0 else str(volunteers.region[j, 0])
        region = region.zfill(int(volunteers.region[j, 1])) if region else ""
        preferred = "" if volunteers.preferred[j, 1] == 0 else str(volunteers.preferred[j, 0])
        subjects = int(students.subjects[i]) & int(volunteers.subjects[j])
        slots = int(students.slots[i]) & int(volunteers.slots[j])
        takes = int(volunteers.bands[j]) >> int(students.band[i]) & 1
        if subjects and slots and takes and village.startswith(region):
            bonus = weight if preferred and village.startswith(preferred) else 0
            pairs.append((i, j, bin(subjects).count("1") + bin(slots).count("1") + bonus))
    return pairs


def milp_optimum(
    pairs: list[tuple[int, int, int]], n: int, capacity: np.ndarray
) -> tuple[int, int]:
    """Most pairs, then the largest score at that count: two integer programs."""
    if not pairs:
        return 0, 0
    k = len(pairs)
    by_student = np.zeros((n, k))
    by_volunteer = np.zeros((capacity.shape[0], k))
    for column, (i, j, _) in enumerate(pairs):
        by_student[i, column] = by_volunteer[j, column] = 1
    constraints = [LinearConstraint(by_student, 0, 1), LinearConstraint(by_volunteer, 0, capacity)]
    options = {"mip_rel_gap": 0.0}
    first = milp(-np.ones(k), constraints=constraints, integrality=np.ones(k),
                 bounds=Bounds(0, 1), options=options)  # fmt: skip
    count = round(-first.fun)
    constraints.append(LinearConstraint(np.ones((1, k)), count, count))
    score = np.array([s for _, _, s in pairs], dtype=float)
    second = milp(-score, constraints=constraints, integrality=np.ones(k), bounds=Bounds(0, 1),
                  options=options)  # fmt: skip
    return count, round(-second.fun)


def test_pair_students_equals_the_milp_optimum_on_random_instances() -> None:
    rng = np.random.default_rng(15)
    for _ in range(INSTANCES):
        students, volunteers = random_instance(rng)
        weight = int(rng.integers(0, 4))
        result = matching.pair_students(students, volunteers, preference_weight=weight)
        pairs = reference_pairs(students, volunteers, weight)
        assert (result.matched, result.objective) == milp_optimum(
            pairs, len(students), volunteers.capacity
        )
        allowed = {(i, j): s for i, j, s in pairs}
        chosen = list(zip(result.student.tolist(), result.volunteer.tolist(), strict=True))
        assert all(
            allowed[pair] == s for pair, s in zip(chosen, result.score.tolist(), strict=True)
        )
        assert len({i for i, _ in chosen}) == len(chosen)
        used = np.bincount(result.volunteer, minlength=len(volunteers))
        assert (used <= volunteers.capacity).all()


def test_a_volunteer_without_a_common_slot_gets_nobody() -> None:
    students = matching.Students(subjects=[1], band=[0], slots=[0b01], village=[VILLAGES[0]])
    volunteers = matching.Volunteers(subjects=[1], bands=[1], slots=[0b10], capacity=[5])
    assert matching.pair_students(students, volunteers).matched == 0


def test_a_sponsors_region_bounds_whom_it_serves_and_a_preference_scores() -> None:
    students = matching.Students(
        subjects=[1, 1], band=[0, 0], slots=[1, 1], village=[VILLAGES[0], VILLAGES[3]]
    )
    inside = matching.Volunteers(
        subjects=[1], bands=[1], slots=[1], capacity=[2], region=["430525"]
    )
    assert matching.pair_students(students, inside).student.tolist() == [0]
    preferring = matching.Volunteers(
        subjects=[1, 1], bands=[1, 1], slots=[1, 1], capacity=[1, 1],
        preferred=["430526", "430525101"],
    )  # fmt: skip
    result = matching.pair_students(students, preferring, preference_weight=3)
    assert sorted(zip(result.student.tolist(), result.volunteer.tolist(), strict=True)) == [
        (0, 1),
        (1, 0),
    ]
    assert result.objective == 2 * (2 + 3)


@pytest.mark.parametrize(
    ("field", "value"),
    [("capacity", [-1]), ("slots", [-2]), ("region", ["43052"]), ("region", ["abc"])],
)
def test_bad_volunteers_are_refused(field: str, value: list[object]) -> None:
    fields: dict[str, object] = {"subjects": [1], "bands": [1], "slots": [1], "capacity": [1]}
    with pytest.raises(ValueError, match=f"volunteers.{field}"):
        matching.Volunteers(**{**fields, field: value})  # type: ignore[arg-type]


def test_students_of_unequal_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="length"):
        matching.Students(subjects=[1, 2], band=[0], slots=[1, 1], village=VILLAGES[:2])
