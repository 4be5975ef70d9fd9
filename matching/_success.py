"""The success model: smoothed segment rates and the donor's Beta posterior."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

BANDS = ("village", "township", "county", "city", "province", "farther")
"""Distance bands, by index: the level of the longest common prefix of two region codes."""

DONGKOU_RATE = 0.685
"""对接成功率 reported by Dongkou county (36,459 of 53,299 needs): the default prior."""

# Code lengths of the levels, nearest first: a common prefix of at least 12 digits is the same
# village, of at least 9 the same township, and so on; shorter than 2 digits is "farther".
_LEVEL_LENGTHS = np.array([12, 9, 6, 4, 2], dtype=np.int64)


def band_of_length(length: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """The band of a common prefix of ``length`` digits (0 = village ... 5 = farther)."""
    lengths = np.asarray(length, dtype=np.int64)
    below = _LEVEL_LENGTHS[None, :] > lengths.reshape(-1, 1)
    bands: npt.NDArray[np.int8] = below.sum(axis=1).astype(np.int8).reshape(lengths.shape)
    return bands


def distance_band(codes: npt.ArrayLike, others: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """Distance band between pairs of region codes, from their longest common prefix.

    Parameters
    ----------
    codes, others : array_like of str
        Region codes or prefixes (up to 12 digits; ``""`` means anywhere), broadcast against
        each other. For a need and an offer: the need's village code and the offer's region
        preference.

    Returns
    -------
    ndarray of int8
        Index into `BANDS`: 0 same village (12 common digits), 1 same township (9), 2 same
        county (6), 3 same city (4), 4 same province (2), 5 farther (fewer, or an "anywhere"
        preference).

    Raises
    ------
    ValueError
        If a code is not a string of at most 12 digits.

    Examples
    --------
    >>> distance_band(["430525101201", "430525101201", "430525101201"],
    ...               ["430525101", "430521", ""]).tolist()
    [1, 3, 5]
    """
    left, right = np.broadcast_arrays(np.asarray(codes), np.asarray(others))
    shape = left.shape
    width = 12
    if left.size == 0:
        return np.zeros(shape, dtype=np.int8)
    chars = []
    for name, array in (("codes", left), ("others", right)):
        if array.size and array.dtype.kind != "U":
            raise ValueError(f"{name} must be strings of digits, got dtype {array.dtype}")
        flat = array.reshape(-1).astype(f"<U{width + 1}")
        lengths = np.char.str_len(flat)
        if flat.size and (
            (lengths > width).any() or ((lengths > 0) & ~np.char.isdigit(flat)).any()
        ):
            raise ValueError(f"{name} must be strings of at most {width} digits")
        # Pad with distinct non-digits so that padding never counts as a common character.
        padded = np.char.ljust(flat, width, "a" if name == "codes" else "b")
        chars.append(padded.astype(f"<U{width}").view(np.uint32).reshape(-1, width))
    same = np.cumprod(chars[0] == chars[1], axis=1)
    common = same.sum(axis=1)
    return band_of_length(common).reshape(shape)


class SuccessModel:
    """Predicted success probability of a pairing, from outcome counts.

    Two stages of smoothing, both posterior means of a Beta prior:

    1. Segment rate, by (category, distance band)::

           rate[c, b] = (S[c, b] + k_s * prior) / (S[c, b] + F[c, b] + k_s)

       the segment's successes S and failures F smoothed toward ``prior`` with the weight of
       ``k_s = segment_strength`` pseudo-outcomes (a segment without history is at the prior).
    2. Donor, around the segment rate m::

           p = (s + k_d * m) / (s + f + k_d)

       the posterior mean of Beta(k_d m, k_d (1 - m)) after the donor's own s successes and f
       failures, ``k_d = donor_strength``: a new donor starts at the segment rate, and each
       success raises (each failure lowers) the estimate.

    Parameters
    ----------
    prior : float, default 0.685
        Rate every segment is smoothed toward; by default Dongkou county's reported
        对接成功率 (`DONGKOU_RATE`). In (0, 1).
    segment_strength, donor_strength : float, default 20 and 10
        Pseudo-counts of the two priors; > 0.
    segment_successes, segment_failures : array_like of int or float, shape (C, 6), optional
        Ended pairings per (category index, band); both or neither. Omitted: no history, every
        segment at the prior.
    categories : sequence of int or str, optional
        Category labels naming the rows of the segment arrays (e.g. the service's category
        names). Without it, categories are the row indices themselves.

    Raises
    ------
    ValueError
        For a prior outside (0, 1), a strength that is not a positive number, segment arrays
        of the wrong shape or with negative or non-finite counts, or repeated labels.

    Examples
    --------
    >>> model = SuccessModel()
    >>> float(model.probability([0], [2], [0], [0])[0])
    0.685
    """

    __slots__ = (
        "_index",
        "categories",
        "donor_strength",
        "prior",
        "segment_failures",
        "segment_strength",
        "segment_successes",
    )

    prior: float
    segment_strength: float
    donor_strength: float
    segment_successes: npt.NDArray[np.float64] | None
    segment_failures: npt.NDArray[np.float64] | None
    categories: tuple[Any, ...] | None

    def __init__(
        self,
        prior: float = DONGKOU_RATE,
        segment_strength: float = 20.0,
        donor_strength: float = 10.0,
        segment_successes: npt.ArrayLike | None = None,
        segment_failures: npt.ArrayLike | None = None,
        categories: npt.ArrayLike | None = None,
    ) -> None:
        if not isinstance(prior, int | float) or not 0.0 < prior < 1.0:
            raise ValueError(f"prior must lie in (0, 1), got {prior!r}")
        for name, strength in (
            ("segment_strength", segment_strength),
            ("donor_strength", donor_strength),
        ):
            if not isinstance(strength, int | float) or not (
                math.isfinite(strength) and strength > 0
            ):
                raise ValueError(f"{name} must be a finite number > 0, got {strength!r}")
        self.prior = float(prior)
        self.segment_strength = float(segment_strength)
        self.donor_strength = float(donor_strength)
        if (segment_successes is None) != (segment_failures is None):
            raise ValueError("give both segment_successes and segment_failures, or neither")
        self.segment_successes = _counts("segment_successes", segment_successes)
        self.segment_failures = _counts("segment_failures", segment_failures)
        if (
            self.segment_successes is not None
            and self.segment_failures is not None
            and self.segment_successes.shape != self.segment_failures.shape
        ):
            raise ValueError("segment_successes and segment_failures differ in shape")
        self.categories = None
        self._index: dict[Any, int] | None = None
        if categories is not None:
            labels = np.asarray(categories)
            if labels.ndim != 1 or labels.dtype.kind not in "iuU":
                raise ValueError("categories must be a sequence of integers or strings")
            if np.unique(labels).size != labels.size:
                raise ValueError("categories must not repeat")
            rows = self.segment_successes.shape[0] if self.segment_successes is not None else None
            if rows is not None and rows != labels.size:
                raise ValueError(
                    f"categories has {labels.size} labels for {rows} rows of segment counts"
                )
            self.categories = tuple(labels.tolist())
            self._index = {label: row for row, label in enumerate(self.categories)}

    def __repr__(self) -> str:
        history = "none" if self.segment_successes is None else str(self.segment_successes.shape)
        return (
            f"SuccessModel(prior={self.prior}, segment_strength={self.segment_strength}, "
            f"donor_strength={self.donor_strength}, segments={history})"
        )

    def category_index(self, category: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Rows of the segment arrays for category labels (or indices without labels).

        Raises
        ------
        ValueError
            For a label not in `categories`, or an index outside the segment arrays.
        """
        values = np.asarray(category)
        if self._index is not None:
            index = self._index
            try:
                rows = np.array([index[v] for v in values.reshape(-1).tolist()], dtype=np.intp)
            except KeyError as missing:
                raise ValueError(f"unknown category {missing.args[0]!r}") from None
            return rows.reshape(values.shape)
        if values.size and values.dtype.kind not in "iu":
            raise ValueError(
                "categories are strings but the model has no category labels: "
                "pass categories=... to SuccessModel"
            )
        rows = values.astype(np.intp)
        limit = None if self.segment_successes is None else self.segment_successes.shape[0]
        if rows.size and (rows.min() < 0 or (limit is not None and rows.max() >= limit)):
            raise ValueError(f"category index out of range 0..{limit}")
        return rows

    def segment_rate(self, category: npt.ArrayLike, band: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Smoothed success rate of the (category, band) segments.

        Parameters
        ----------
        category : array_like of int or str
            Category labels (or row indices when the model has no labels).
        band : array_like of int
            Distance bands, 0..5 (see `BANDS`).

        Returns
        -------
        ndarray of float64
            ``(S + segment_strength * prior) / (S + F + segment_strength)``, broadcast.
        """
        bands = np.asarray(band)
        if bands.size and (
            bands.dtype.kind not in "iu" or bands.min() < 0 or bands.max() >= len(BANDS)
        ):
            raise ValueError(f"band must be integers in 0..{len(BANDS) - 1}")
        if self.segment_successes is None or self.segment_failures is None:
            # No history: every segment is at the prior, whatever the category.
            if self._index is not None:
                self.category_index(category)
            shape = np.broadcast_shapes(np.shape(category), bands.shape)
            return np.full(shape, self.prior, dtype=np.float64)
        rows, bands = np.broadcast_arrays(self.category_index(category), bands)
        successes = self.segment_successes[rows, bands]
        failures = self.segment_failures[rows, bands]
        k = self.segment_strength
        rate: npt.NDArray[np.float64] = (successes + k * self.prior) / (successes + failures + k)
        return rate

    def probability(
        self,
        category: npt.ArrayLike,
        band: npt.ArrayLike,
        successes: npt.ArrayLike,
        failures: npt.ArrayLike,
    ) -> npt.NDArray[np.float64]:
        """Predicted success probability of pairings with donors of the given records.

        Parameters
        ----------
        category : array_like of int or str
            Category labels (or row indices when the model has no labels).
        band : array_like of int
            Distance bands 0..5, e.g. from `distance_band`.
        successes, failures : array_like of int
            The donor's fulfilled and failed ended pairings (0 and 0 for a new donor).

        Returns
        -------
        ndarray of float64, strictly between 0 and 1
            ``(s + donor_strength * m) / (s + f + donor_strength)`` with ``m`` the segment
            rate; broadcast over the arguments.

        Raises
        ------
        ValueError
            For an unknown category, a band outside 0..5, or negative counts.
        """
        s = np.asarray(successes, dtype=np.float64)
        f = np.asarray(failures, dtype=np.float64)
        if (s.size and (~np.isfinite(s) | (s < 0)).any()) or (
            f.size and (~np.isfinite(f) | (f < 0)).any()
        ):
            raise ValueError("donor successes and failures must be finite counts >= 0")
        m = self.segment_rate(category, band)
        k = self.donor_strength
        p: npt.NDArray[np.float64] = (s + k * m) / (s + f + k)
        return p


def _counts(name: str, values: npt.ArrayLike | None) -> npt.NDArray[np.float64] | None:
    if values is None:
        return None
    array = np.array(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != len(BANDS):
        raise ValueError(f"{name} must have shape (categories, {len(BANDS)}), got {array.shape}")
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"{name} must be finite counts >= 0")
    array.flags.writeable = False
    return array
