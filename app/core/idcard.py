"""Resident ID numbers (GB 11643-1999): 18 characters, a real birth date, a check digit."""

from __future__ import annotations

import datetime as dt

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_digit(first17: str) -> str:
    """The check character of the first 17 digits (ISO 7064 MOD 11-2)."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def normalize_id_number(value: str, *, today: dt.date | None = None) -> str:
    """The ID number in canonical form (upper-case X), or ``ValueError`` saying what is wrong."""
    number = value.strip()
    # ASCII first: other scripts' digits (４３０５２５, ٤٣٠٥٢٥) pass isdigit() and int(), and would
    # be stored, and blind-indexed, beside the same number in ASCII.
    if not number.isascii():
        raise ValueError("an ID number is written in ASCII digits (0-9) and X")
    number = number.upper()
    if (
        len(number) != 18
        or not number[:17].isdigit()
        or not (number[17].isdigit() or number[17] == "X")
    ):
        raise ValueError("an ID number has 17 digits and a check digit or X (18 characters)")
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise ValueError("the ID number's birth date is not a real date") from exc
    if not dt.date(1900, 1, 1) <= born <= (today or dt.date.today()):
        raise ValueError("the ID number's birth date is out of range")
    if check_digit(number[:17]) != number[17]:
        raise ValueError("the ID number's check digit is wrong")
    return number


def mask_name(name: str) -> str:
    """刘德华 → 刘**: the family name and one * per further character."""
    name = name.strip()
    return name[:1] + "*" * max(len(name) - 1, 1)
