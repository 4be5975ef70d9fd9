"""The problem description: needs, offers and parameters, validated on construction."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

NO_CAP = np.iinfo(np.int64).max
"""The value of ``Offers.value_cap`` for an offer without a cap (the largest int64)."""

VILLAGE_DIGITS = 12
PREFERENCE_LENGTHS = (0, 2, 4, 6, 9, 12)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _frozen(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.flags.writeable = False
    return array


def _vector(name: str, values: npt.ArrayLike) -> npt.NDArray[Any]:
    array = np.array(values, copy=True)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _ids(name: str, values: npt.ArrayLike) -> npt.NDArray[Any]:
    array = _vector(name, values)
    if array.size and array.dtype.kind not in "iuU":
        raise ValueError(f"{name} must be integers or strings, got dtype {array.dtype}")
    if array.size != np.unique(array).size:
        raise ValueError(f"{name} must be unique")
    return _frozen(array)


def _labels(name: str, values: npt.ArrayLike, size: int) -> npt.NDArray[Any]:
    array = _vector(name, values)
    _check_length(name, array, size)
    if array.size and array.dtype.kind not in "iuU":
        raise ValueError(f"{name} must be small integers or strings, got dtype {array.dtype}")
    return _frozen(array)


def _integers(
    name: str,
    values: npt.ArrayLike | None,
    size: int,
    *,
    default: int,
    low: int,
    high: int | None = None,
) -> IntArray:
    if values is None:
        return _frozen(np.full(size, default, dtype=np.int64))
    array = _vector(name, values)
    _check_length(name, array, size)
    if array.size == 0:
        return _frozen(np.zeros(0, dtype=np.int64))
    if array.dtype.kind not in "iu":
        raise ValueError(f"{name} must be integers, got dtype {array.dtype}")
    if array.dtype.kind == "u" and array.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name} does not fit in int64")
    result = array.astype(np.int64)
    if result.min() < low:
        raise ValueError(f"{name} must be at least {low}, got {result.min()}")
    if high is not None and result.max() > high:
        raise ValueError(f"{name} must be at most {high}, got {result.max()}")
    return _frozen(result)


def _flags(name: str, values: npt.ArrayLike | None, size: int) -> BoolArray:
    if values is None:
        return _frozen(np.zeros(size, dtype=np.bool_))
    array = _vector(name, values)
    _check_length(name, array, size)
    if array.dtype.kind == "b":
        return _frozen(array)
    if array.size and (array.dtype.kind not in "iu" or not np.isin(array, (0, 1)).all()):
        raise ValueError(f"{name} must be booleans (or 0/1)")
    return _frozen(array.astype(np.bool_))


def _check_length(name: str, array: npt.NDArray[Any], size: int) -> None:
    if array.shape[0] != size:
        raise ValueError(f"{name} has length {array.shape[0]}, expected {size} (one per id)")


def _codes(name: str, values: npt.ArrayLike, size: int, lengths: tuple[int, ...]) -> IntArray:
    """Region codes as strings of digits, checked and returned as ``(value, length)`` rows."""
    array = _vector(name, values)
    _check_length(name, array, size)
    if array.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if array.dtype.kind != "U":
        raise ValueError(f"{name} must be strings of digits, got dtype {array.dtype}")
    length = np.char.str_len(array)
    bad_length = ~np.isin(length, lengths)
    bad_digits = (length > 0) & ~np.char.isdigit(array)
    bad = bad_length | bad_digits
    if bad.any():
        first = str(array[np.flatnonzero(bad)[0]])
        allowed = " or ".join(str(n) for n in lengths)
        raise ValueError(f"{name} must be strings of {allowed} digits, got {first!r}")
    digits = np.where(length > 0, array, "0").astype(np.int64)
    return np.stack([digits, length.astype(np.int64)], axis=1)


class Needs:
    """Open needs of poor households, one entry per need.

    Parameters
    ----------
    ids : array_like of int or str, shape (n,)
        Unique identifiers; pairs are reported with them and the solver orders needs by them.
    category : array_like of int or str, shape (n,)
        Need category; a need and an offer can pair only within one category.
    village : array_like of str, shape (n,)
        The household's 12-digit village code.
    value : array_like of int, shape (n,), optional
        Estimated value in integer fen (default 0).
    urgency : array_like of int, shape (n,), optional
        1 (normal) to 3 (most urgent); default 1.
    days_waiting : array_like of int, shape (n,), optional
        Whole days since the need was published; default 0.
    key_household : array_like of bool, shape (n,), optional
        Whether the household is a key household (重点帮扶对象); default False.

    Raises
    ------
    ValueError
        If a field has another length than ``ids``, ids repeat, a village code is not 12
        digits, a value or waiting time is negative, or urgency is outside 1..3.

    Notes
    -----
    The arrays are copied and made read-only; ``village`` is kept as given (strings) and
    ``village_code`` holds the same codes as int64.
    """

    __slots__ = (
        "category",
        "days_waiting",
        "ids",
        "key_household",
        "urgency",
        "value",
        "village",
        "village_code",
    )

    ids: npt.NDArray[Any]
    category: npt.NDArray[Any]
    village: npt.NDArray[np.str_]
    village_code: IntArray
    value: IntArray
    urgency: IntArray
    days_waiting: IntArray
    key_household: BoolArray

    def __init__(
        self,
        ids: npt.ArrayLike,
        category: npt.ArrayLike,
        village: npt.ArrayLike,
        value: npt.ArrayLike | None = None,
        urgency: npt.ArrayLike | None = None,
        days_waiting: npt.ArrayLike | None = None,
        key_household: npt.ArrayLike | None = None,
    ) -> None:
        self.ids = _ids("needs.ids", ids)
        size = self.ids.shape[0]
        self.category = _labels("needs.category", category, size)
        codes = _codes("needs.village", village, size, (VILLAGE_DIGITS,))
        self.village = _frozen(np.array(village, dtype=str).reshape(size))
        self.village_code = _frozen(codes[:, 0].copy())
        self.value = _integers("needs.value", value, size, default=0, low=0)
        self.urgency = _integers("needs.urgency", urgency, size, default=1, low=1, high=3)
        self.days_waiting = _integers("needs.days_waiting", days_waiting, size, default=0, low=0)
        self.key_household = _flags("needs.key_household", key_household, size)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def __repr__(self) -> str:
        return f"Needs(n={len(self)})"


class Offers:
    """Donors' offers in the pool, one entry per offer (an offer may serve several needs).

    Parameters
    ----------
    ids : array_like of int or str, shape (m,)
        Unique identifiers; the solver orders offers by them.
    category : array_like of int or str, shape (m,)
        Offer category, compared with the needs' categories.
    region : array_like of str, shape (m,)
        Region preference: ``""`` for anywhere, or a province (2 digits), city (4), county (6),
        township (9) or village (12) code. A need qualifies if its village code starts with it.
    capacity : array_like of int, shape (m,)
        How many needs the offer can serve, at least 1.
    value_cap : array_like of int or None, shape (m,), optional
        Largest need value (fen) the offer accepts; ``None`` (per entry, or for the whole
        argument) for no cap. Stored as int64 with `NO_CAP` where there is none.
    donor_successes, donor_failures : array_like of int, shape (m,), optional
        Ended pairings of the offer's donor that were fulfilled / that failed; default 0
        (a new donor).

    Raises
    ------
    ValueError
        If a field has another length than ``ids``, ids repeat, a region preference is not
        0, 2, 4, 6, 9 or 12 digits, a capacity is below 1, or a cap or count is negative.
    """

    __slots__ = (
        "capacity",
        "category",
        "donor_failures",
        "donor_successes",
        "ids",
        "region",
        "region_code",
        "region_length",
        "value_cap",
    )

    ids: npt.NDArray[Any]
    category: npt.NDArray[Any]
    region: npt.NDArray[np.str_]
    region_code: IntArray
    region_length: IntArray
    capacity: IntArray
    value_cap: IntArray
    donor_successes: IntArray
    donor_failures: IntArray

    def __init__(
        self,
        ids: npt.ArrayLike,
        category: npt.ArrayLike,
        region: npt.ArrayLike,
        capacity: npt.ArrayLike | None = None,
        value_cap: npt.ArrayLike | Sequence[int | None] | None = None,
        donor_successes: npt.ArrayLike | None = None,
        donor_failures: npt.ArrayLike | None = None,
    ) -> None:
        self.ids = _ids("offers.ids", ids)
        size = self.ids.shape[0]
        self.category = _labels("offers.category", category, size)
        codes = _codes("offers.region", region, size, PREFERENCE_LENGTHS)
        self.region = _frozen(np.array(region, dtype=str).reshape(size))
        self.region_code = _frozen(codes[:, 0].copy())
        self.region_length = _frozen(codes[:, 1].copy())
        self.capacity = _integers("offers.capacity", capacity, size, default=1, low=1)
        self.value_cap = _caps(value_cap, size)
        self.donor_successes = _integers(
            "offers.donor_successes", donor_successes, size, default=0, low=0
        )
        self.donor_failures = _integers(
            "offers.donor_failures", donor_failures, size, default=0, low=0
        )

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def units(self) -> int:
        """Total capacity: how many needs the offers could serve together."""
        return int(self.capacity.sum())

    def __repr__(self) -> str:
        return f"Offers(m={len(self)}, units={self.units})"


def _caps(values: npt.ArrayLike | Sequence[int | None] | None, size: int) -> IntArray:
    if values is None:
        return _frozen(np.full(size, NO_CAP, dtype=np.int64))
    array = _vector("offers.value_cap", values)  # type: ignore[arg-type]
    _check_length("offers.value_cap", array, size)
    if array.dtype.kind == "O":
        missing = np.array([entry is None for entry in array], dtype=bool)
        present = array[~missing]
        if present.size and not all(isinstance(e, int | np.integer) for e in present):
            raise ValueError("offers.value_cap must be integers (fen) or None")
        array = np.where(missing, NO_CAP, array).astype(np.int64)
    return _integers("offers.value_cap", array, size, default=NO_CAP, low=0)


@dataclass(frozen=True, slots=True)
class Parameters:
    """Weights and limits of a matching run (recorded with the run by the service).

    Parameters
    ----------
    urgency_weight : float, default 0.5
        Score per urgency level (1..3).
    waiting_weight : float, default 0.5
        Score per unit of ``log1p(weeks waiting)``; see `waiting_unit_days`.
    key_household_weight : float, default 1.0
        Score added for a key household.
    waiting_unit_days : int, default 7
        Waiting time counts in whole units of this many days (a week by default), so that a
        day's difference does not reorder two needs. Coarser units give fewer distinct
        priority levels, which the assignment solvers handle much faster.
    probability_floor : float, default 0.0
        Pairs whose predicted success probability is below this are infeasible; in [0, 1).
    memory_budget : int, default 1 MiB
        Largest dense cost matrix (bytes, float64) a block may use; a larger block is solved
        on its sparse candidate pairs instead. The default is small on purpose: on realistic
        blocks the sparse solver on exactly pruned candidates was 2-5 times faster than the
        dense one from about 0.5 MiB up (benchmarks/matching.py), and it needs far less memory.
    workers : int, default 1
        Independent blocks solved at once, largest first.
    parallel : {"threads", "processes"}, default "threads"
        How extra workers run. Threads are cheap to start, but the sparse solver holds the
        GIL, so they overlap little. Processes (forkserver, with numpy and scipy preloaded;
        safe from a threaded server) overlap fully at a start-up cost of about a second on
        the first run of a process and tens of milliseconds after.

    Raises
    ------
    ValueError
        If a weight is negative or not finite, the floor is outside [0, 1), the budget,
        workers or waiting unit is below 1, or `parallel` is neither "threads" nor "processes".
    """

    urgency_weight: float = 0.5
    waiting_weight: float = 0.5
    key_household_weight: float = 1.0
    waiting_unit_days: int = 7
    probability_floor: float = 0.0
    memory_budget: int = 2**20
    workers: int = 1
    parallel: str = "threads"

    def __post_init__(self) -> None:
        for name in ("urgency_weight", "waiting_weight", "key_household_weight"):
            weight = getattr(self, name)
            if not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {weight!r}")
        floor = self.probability_floor
        if not isinstance(floor, int | float) or not 0.0 <= floor < 1.0:
            raise ValueError(f"probability_floor must lie in [0, 1), got {floor!r}")
        for name in ("waiting_unit_days", "memory_budget", "workers"):
            count = getattr(self, name)
            if not isinstance(count, int | np.integer) or isinstance(count, bool) or count < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {count!r}")
        if self.parallel not in ("threads", "processes"):
            raise ValueError(f'parallel must be "threads" or "processes", got {self.parallel!r}')

    def priority(self, needs: Needs) -> FloatArray:
        """The need's part of the score: urgency, waiting and key-household terms.

        Parameters
        ----------
        needs : Needs

        Returns
        -------
        ndarray of float64, shape (n,)
            ``urgency_weight * urgency + waiting_weight * log1p(days // waiting_unit_days)
            + key_household_weight * key_household``.
        """
        weeks = needs.days_waiting // self.waiting_unit_days
        result: FloatArray = (
            self.urgency_weight * needs.urgency.astype(np.float64)
            + self.waiting_weight * np.log1p(weeks.astype(np.float64))
            + self.key_household_weight * needs.key_household.astype(np.float64)
        )
        return result
