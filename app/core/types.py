"""Field types of request bodies that more than one domain uses."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BeforeValidator


def _written_as_text(value: object) -> object:
    # pydantic reads a number as Unix time (0 is 1970-01-01); a client that sends one has
    # almost surely made a mistake, and a date it did not mean must not be stored.
    if isinstance(value, int | float):
        raise ValueError("write dates and times as ISO 8601 text, not as a number")
    return value


Date = Annotated[dt.date, BeforeValidator(_written_as_text)]
"""A calendar date in a request body: ISO 8601 text (``2027-01-31``), never a number."""

DateTime = Annotated[dt.datetime, BeforeValidator(_written_as_text)]
"""A moment in a request body: ISO 8601 text with its zone, never a number."""
