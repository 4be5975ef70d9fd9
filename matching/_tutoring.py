"""One-to-one programmes (一助一, 云支教): students assigned to volunteers, exactly.

Why the costs below give the lexicographic optimum (most students paired, then the largest
total score)
------------------------------------------------------------------------------------------
A volunteer of capacity ``c`` is ``c`` identical columns (units), so a pairing of students with
volunteers within capacity is a matching of students with units. Scores are small non-negative
integers; with ``R`` the largest score and ``BIG = min(rows, units) * R + 1``, a feasible pair
costs ``-(BIG + score)`` and every other entry 0. Any matching extends to a full assignment of
the smaller side by zero entries, so the assignment minimum is ``-max_M (|M| * BIG + w(M))``:
one more pair is worth at least ``BIG``, more than any difference in ``w`` between matchings,
so the minimum has the most pairs and, among those, the largest total score. Every quantity is
an integer below 2**53, so float64 arithmetic is exact. Zero entries of the result are dropped:
they are not pairs. A volunteer needs no more units than it has feasible students.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from matching._problem import VILLAGE_DIGITS, _codes, _frozen, _integers, _vector

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
REGION_LENGTHS = (0, 2, 4, 6, 9, 12)
MASK_BITS = 62  # masks are non-negative int64


def _masks(name: str, values: npt.ArrayLike, size: int) -> IntArray:
    array = _integers(name, values, size, default=0, low=0, high=2**MASK_BITS - 1)
    return array


class Students:
    """Students to pair, one entry per student.

    Parameters
    ----------
    subjects : array_like of int, shape (n,)
        Bit mask of the subjects the student wants help with.
    band : array_like of int, shape (n,)
        The student's grade band, a bit index (0 to 61).
    slots : array_like of int, shape (n,)
        Bit mask of the weekly time slots the student is free.
    village : array_like of str, shape (n,)
        The student's 12-digit village code.

    Raises
    ------
    ValueError
        If the fields differ in length, a mask is negative or wider than 62 bits, a band is
        outside 0..61, or a village code is not 12 digits.
    """

    __slots__ = ("band", "slots", "subjects", "village", "village_code")

    def __init__(
        self,
        subjects: npt.ArrayLike,
        band: npt.ArrayLike,
        slots: npt.ArrayLike,
        village: npt.ArrayLike,
    ) -> None:
        size = _vector("students.subjects", subjects).shape[0]
        self.subjects = _masks("students.subjects", subjects, size)
        self.band = _integers("students.band", band, size, default=0, low=0, high=MASK_BITS - 1)
        self.slots = _masks("students.slots", slots, size)
        codes = _codes("students.village", village, size, (VILLAGE_DIGITS,))
        self.village = _frozen(np.array(village, dtype=str).reshape(size))
        self.village_code: IntArray = _frozen(codes[:, 0].copy())

    def __len__(self) -> int:
        return int(self.subjects.shape[0])

    def __repr__(self) -> str:
        return f"Students(n={len(self)})"


class Volunteers:
    """Volunteers (tutors or sponsors), one entry per volunteer.

    Parameters
    ----------
    subjects : array_like of int, shape (m,)
        Bit mask of the subjects the volunteer teaches.
    bands : array_like of int, shape (m,)
        Bit mask of the grade bands the volunteer takes.
    slots : array_like of int, shape (m,)
        Bit mask of the weekly time slots the volunteer is free.
    capacity : array_like of int, shape (m,)
        The most students the volunteer takes (0 or more).
    region : array_like of str, shape (m,), optional
        Students must live inside this region: a code of 0 (anywhere), 2, 4, 6, 9 or 12 digits.
    preferred : array_like of str, shape (m,), optional
        Students inside this region score ``preference_weight`` more (0 digits: no preference).

    Raises
    ------
    ValueError
        If the fields differ in length, a mask or capacity is negative, or a region is not a
        code of one of the lengths above.
    """

    __slots__ = ("bands", "capacity", "preferred", "region", "slots", "subjects")

    def __init__(
        self,
        subjects: npt.ArrayLike,
        bands: npt.ArrayLike,
        slots: npt.ArrayLike,
        capacity: npt.ArrayLike,
        region: npt.ArrayLike | None = None,
        preferred: npt.ArrayLike | None = None,
    ) -> None:
        size = _vector("volunteers.subjects", subjects).shape[0]
        self.subjects = _masks("volunteers.subjects", subjects, size)
        self.bands = _masks("volunteers.bands", bands, size)
        self.slots = _masks("volunteers.slots", slots, size)
        self.capacity = _integers("volunteers.capacity", capacity, size, default=1, low=0)
        anywhere = [""] * size
        self.region = _frozen(
            _codes("volunteers.region", anywhere if region is None else region, size,
                   REGION_LENGTHS)
        )  # fmt: skip
        self.preferred = _frozen(
            _codes("volunteers.preferred", anywhere if preferred is None else preferred, size,
                   REGION_LENGTHS)
        )  # fmt: skip

    def __len__(self) -> int:
        return int(self.subjects.shape[0])

    def __repr__(self) -> str:
        return f"Volunteers(m={len(self)})"


@dataclass(frozen=True, slots=True)
class Assignment:
    """Pairs of (student, volunteer) indices, each with its score.

    Attributes
    ----------
    student, volunteer : ndarray of int
        Indices into the inputs, ordered by student.
    score : ndarray of int
        Each pair's score.
    matched : int
        The number of pairs: the largest possible.
    objective : int
        The total score: the largest among pairings of ``matched`` pairs.
    seconds : float
        Wall time of the call.
    """

    student: IntArray
    volunteer: IntArray
    score: IntArray
    matched: int
    objective: int
    seconds: float


def _inside(village_code: IntArray, prefix: IntArray) -> BoolArray:
    """(n, m): student i's village lies inside region j (code, length)."""
    inside = np.ones((village_code.shape[0], prefix.shape[0]), dtype=bool)
    for length in np.unique(prefix[:, 1]).tolist():
        if length == 0:
            continue
        columns = np.flatnonzero(prefix[:, 1] == length)
        head = village_code // 10 ** (VILLAGE_DIGITS - length)
        inside[:, columns] = head[:, None] == prefix[columns, 0][None, :]
    return inside


def scores(
    students: Students, volunteers: Volunteers, *, preference_weight: int = 2
) -> tuple[BoolArray, IntArray]:
    """The feasibility and the score of every (student, volunteer) pair, as (n, m) arrays.

    A pair is feasible when they share a subject, the volunteer takes the student's grade band,
    they share a weekly slot, and the student lives inside the volunteer's region. Its score is
    the number of shared subjects plus the number of shared slots, plus ``preference_weight``
    when the student lives inside the volunteer's preferred region.
    """
    if preference_weight < 0:
        raise ValueError(f"preference_weight must be 0 or more, got {preference_weight}")
    subjects = students.subjects[:, None] & volunteers.subjects[None, :]
    slots = students.slots[:, None] & volunteers.slots[None, :]
    takes = ((volunteers.bands[None, :] >> students.band[:, None]) & 1).astype(bool)
    feasible = (subjects != 0) & (slots != 0) & takes
    feasible &= _inside(students.village_code, volunteers.region)
    score = np.bitwise_count(subjects).astype(np.int64) + np.bitwise_count(slots)
    has_preference = volunteers.preferred[:, 1] > 0
    preferred = _inside(students.village_code, volunteers.preferred) & has_preference[None, :]
    score += preference_weight * preferred
    return feasible, np.where(feasible, score, 0)


def pair_students(
    students: Students, volunteers: Volunteers, *, preference_weight: int = 2
) -> Assignment:
    """The most students paired with volunteers within capacity, then the largest total score.

    Parameters
    ----------
    students : Students
    volunteers : Volunteers
    preference_weight : int, optional
        What a student inside a volunteer's preferred region adds to the pair's score.

    Returns
    -------
    Assignment
        The exact lexicographic optimum: no pairing has more pairs, and none with as many pairs
        has a larger total score. Only feasible pairs are returned (see :func:`scores`).

    Examples
    --------
    >>> import matching
    >>> students = matching.Students(subjects=[0b01, 0b10], band=[0, 0], slots=[1, 1],
    ...                              village=["430525101201", "430525101202"])
    >>> volunteers = matching.Volunteers(subjects=[0b11], bands=[1], slots=[1], capacity=[1])
    >>> matching.pair_students(students, volunteers).matched
    1
    """
    started = time.perf_counter()
    feasible, score = scores(students, volunteers, preference_weight=preference_weight)
    units = np.minimum(volunteers.capacity, feasible.sum(axis=0))
    empty = np.zeros(0, dtype=np.int64)
    if int(units.sum()) == 0:
        return Assignment(empty, empty, empty, 0, 0, time.perf_counter() - started)
    column_of_unit = np.repeat(np.arange(units.shape[0]), units)
    rows, unit_count = feasible.shape[0], column_of_unit.shape[0]
    big = min(rows, unit_count) * int(score.max()) + 1
    cost: npt.NDArray[Any] = np.where(feasible, -(big + score), 0).astype(np.float64)
    from scipy.optimize import linear_sum_assignment  # see _blocks.decompose

    row, unit = linear_sum_assignment(cost[:, column_of_unit])
    volunteer = column_of_unit[unit]
    kept = feasible[row, volunteer]
    row, volunteer = row[kept].astype(np.int64), volunteer[kept].astype(np.int64)
    chosen = score[row, volunteer]
    return Assignment(
        student=row,
        volunteer=volunteer,
        score=chosen,
        matched=int(row.shape[0]),
        objective=int(chosen.sum()),
        seconds=time.perf_counter() - started,
    )
