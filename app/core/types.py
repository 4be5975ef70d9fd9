"""The one input gate: the types of every request field and parameter.

What a client sends is refused here, with a 422, before any route or service sees it:

- text holds no control character but tab, line feed and carriage return (a NUL cannot be stored
  by PostgreSQL) and no lone surrogate (JSON's ``"\\ud800"`` is not a character and cannot be
  encoded);
- codes, ID numbers, versions and cursors are ASCII: ``４３０５２５`` is not ``430525``;
- integers in a body are JSON integers (not ``true``, not ``"300"``) within their column;
- dates are ISO 8601 text between 2000-01-01 and 2100-12-31, and a moment carries its zone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any

import annotated_types as at
from pydantic import AfterValidator, BeforeValidator, GetCoreSchemaHandler, Strict
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from app.core.errors import PreconditionFailed

EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2100, 12, 31)
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

# -- text --------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(value: object) -> object:
    """``value`` unchanged if it is text without controls and lone surrogates; else a 422."""
    if not isinstance(value, str):
        return value  # the str schema behind refuses it
    if _CONTROL.search(value):
        raise PydanticCustomError(
            "control_character",
            "Text may hold no control character but tab, line feed and carriage return",
        )
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise PydanticCustomError(
                "lone_surrogate", "Text may hold no lone surrogate (U+D800 to U+DFFF)"
            ) from None
    return value


@dataclass(frozen=True, slots=True)
class Text:
    """A text field of ``min_length`` to ``max_length`` characters, trimmed unless ``strip``
    is false, matching ``pattern`` if one is given: ``Annotated[str, Text(120)]``."""

    max_length: int
    min_length: int = 1
    strip: bool = True
    pattern: str | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # The check runs on the text as sent: a control that trimming would remove is refused too.
        return core_schema.no_info_before_validator_function(
            plain_text,
            core_schema.str_schema(
                strip_whitespace=self.strip,
                min_length=self.min_length,
                max_length=self.max_length,
                pattern=self.pattern,
            ),
        )


# -- codes: ASCII digits (a pattern's [0-9] is ASCII, where \d would take any script's digits) --


def digits(*lengths: int, blank: bool = False) -> str:
    """The pattern of a string of ASCII digits of one of ``lengths``, or empty if ``blank``."""
    runs: list[tuple[int, int]] = []
    for n in sorted(set(lengths)):
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    either = "|".join(f"[0-9]{{{lo}}}" if lo == hi else f"[0-9]{{{lo},{hi}}}" for lo, hi in runs)
    if blank:
        return f"^({either})?$"
    return f"^{either}$" if len(runs) == 1 else f"^({either})$"


def code(*lengths: int, blank: bool = False) -> Text:
    """A code of ASCII digits, one of ``lengths`` long (or empty if ``blank``):
    ``Annotated[str, code(6, 9, 12)]``."""
    return Text(
        max(lengths),
        min_length=0 if blank else min(lengths),
        strip=False,
        pattern=digits(*lengths, blank=blank),
    )


DIVISION_LENGTHS = (2, 4, 6, 9, 12)
"""A division code: 2 (province), 4 (city), 6 (county), 9 (township) or 12 (village) digits."""

RegionCode = Annotated[str, code(*DIVISION_LENGTHS)]
"""A division code of 2, 4, 6, 9 or 12 ASCII digits."""

VillageCode = Annotated[str, code(12)]
"""A village's code: 12 ASCII digits."""

CountyCode = Annotated[str, code(6)]
"""A county's code: 6 ASCII digits."""

RegionPrefix = Annotated[str, code(*range(1, 13))]
"""The start of region codes: 1 to 12 ASCII digits."""

Mobile = Annotated[str, Text(11, strip=False, pattern=r"^1[3-9][0-9]{9}$")]
"""A mainland mobile number: 11 ASCII digits, 13x to 19x."""

Cursor = Annotated[str, Text(512, min_length=0, strip=False, pattern=r"^[A-Za-z0-9_-]*=*$")]
"""A page cursor as the API writes it: base64url text."""

# -- integers ----------------------------------------------------------------------------------

Integer = Annotated[int, Strict(), at.Ge(-INT32_MAX - 1), at.Le(INT32_MAX)]
"""A JSON integer (no boolean, no text, no float) that a 32-bit column holds; narrow with Field."""

BigInteger = Annotated[int, Strict(), at.Ge(-INT64_MAX - 1), at.Le(INT64_MAX)]
"""A JSON integer that a 64-bit column holds; narrow with Field."""

Id = Annotated[int, Strict(), at.Ge(1), at.Le(INT64_MAX)]
"""The id of a record, in a body: a JSON integer from 1 to 2^63-1."""

IdParam = Annotated[int, at.Ge(1), at.Le(INT64_MAX)]
"""The id of a record, in a path: ASCII digits (pydantic reads no other), 1 to 2^63-1."""


def version_of(if_match: str, what: str) -> int:
    """The version an If-Match header names, bare or as the ETag the API sends (``"3"``).

    Anything else, a version no column holds included, names no version: 412.
    """
    value = if_match.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit() and len(value) <= 10) or int(value) > INT32_MAX:
        raise PreconditionFailed(
            f"If-Match must be the {what}'s version (its ETag)", code="if_match_invalid"
        )
    return int(value)


# -- dates and moments -------------------------------------------------------------------------

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}.*", re.DOTALL)


def _date_text(value: object) -> object:
    # pydantic reads a number as Unix time (0 is 1970-01-01); a client that sends one has
    # almost surely made a mistake, and a date it did not mean must not be stored.
    if isinstance(value, int | float) or (
        isinstance(value, str) and not _ISO_DATE.fullmatch(value)
    ):
        raise PydanticCustomError("date_not_iso", "Write a date as ISO 8601 text: YYYY-MM-DD")
    return value


def _moment_text(value: object) -> object:
    if isinstance(value, int | float) or (
        isinstance(value, str) and not _ISO_MOMENT.fullmatch(value)
    ):
        raise PydanticCustomError(
            "datetime_not_iso",
            "Write a moment as ISO 8601 text with its zone, such as 2027-01-31T18:00:00+08:00",
        )
    return value


def _in_range(day: dt.date) -> None:
    if not EARLIEST <= day <= LATEST:
        raise PydanticCustomError("date_out_of_range", f"Dates run from {EARLIEST} to {LATEST}")


def _date_in_range(value: dt.date) -> dt.date:
    _in_range(value)
    return value


def _moment_in_range(value: dt.datetime) -> dt.datetime:
    if value.utcoffset() is None:
        raise PydanticCustomError(
            "timezone_missing", "A moment needs its zone, such as +08:00 or Z"
        )
    _in_range(value.date())
    return value


Date = Annotated[dt.date, BeforeValidator(_date_text), AfterValidator(_date_in_range)]
"""A calendar date: ISO 8601 text (``2027-01-31``) from 2000-01-01 to 2100-12-31."""

DateTime = Annotated[dt.datetime, BeforeValidator(_moment_text), AfterValidator(_moment_in_range)]
"""A moment: ISO 8601 text with its zone, on a day from 2000-01-01 to 2100-12-31 there."""


def _quarter_in_range(value: str) -> str:
    if not EARLIEST.year <= int(value[:4]) <= LATEST.year:
        raise PydanticCustomError(
            "date_out_of_range", f"Quarters run from {EARLIEST.year}Q1 to {LATEST.year}Q4"
        )
    return value


Quarter = Annotated[
    str, Text(6, strip=False, pattern=r"^[0-9]{4}Q[1-4]$"), AfterValidator(_quarter_in_range)
]
"""A quarter written ``2026Q3``, of a year from 2000 to 2100."""
