"""The words of programmes: kinds, subjects, grade bands and weekly time slots.

Subjects, grade bands and slots are stored as bit masks (bit i: the i-th word of its tuple), so
that the matching package compares them with integer operations.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

# sponsorship 一助一 (a sponsor pays a student's term), tutoring 云支教 (online lessons).
Kind = Literal["sponsorship", "tutoring"]
KINDS: tuple[str, ...] = get_args(Kind)

Subject = Literal[
    "chinese", "math", "english", "physics", "chemistry", "biology", "history", "geography",
    "politics", "arts",
]  # fmt: skip
SUBJECTS: tuple[str, ...] = get_args(Subject)

# Grades 1-3 and 4-6 of primary school, 7-9 junior and 10-12 senior middle school.
GradeBand = Literal["primary_lower", "primary_upper", "junior", "senior"]
GRADE_BANDS: tuple[str, ...] = get_args(GradeBand)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PARTS = ("morning", "afternoon", "evening")
SLOTS: tuple[str, ...] = tuple(f"{day}_{part}" for day in DAYS for part in PARTS)
SLOT_PATTERN = f"^({'|'.join(DAYS)})_({'|'.join(PARTS)})$"


def band_of_grade(grade: int) -> int:
    """The index of the grade band of a school grade (1-12)."""
    return (grade - 1) // 3


def mask(words: Iterable[str], vocabulary: tuple[str, ...]) -> int:
    """The bit mask of ``words`` (each one of ``vocabulary``)."""
    bits = 0
    for word in words:
        bits |= 1 << vocabulary.index(word)
    return bits


def words(bits: int, vocabulary: tuple[str, ...]) -> list[str]:
    """The words of a bit mask, in the vocabulary's order."""
    return [word for index, word in enumerate(vocabulary) if bits >> index & 1]


def full(vocabulary: tuple[str, ...]) -> int:
    """The mask of every word."""
    return (1 << len(vocabulary)) - 1
