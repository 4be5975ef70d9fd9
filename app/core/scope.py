"""Region scopes: the one place that turns an admin's scope code into a SQL filter.

An admin acts on a record only if the record's region code starts with the admin's scope code
(the platform admin's scope is the empty code: everything). Every admin query filters by
:meth:`Scope.where` in SQL, never after loading, and a record outside the scope is reported as
not found, so that no one can probe which ids exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, true
from sqlalchemy.orm import InstrumentedAttribute


def _successor(prefix: str) -> str | None:
    """The smallest digit string greater than every string that starts with ``prefix``."""
    stripped = prefix.rstrip("9")
    if not stripped:
        return None
    return stripped[:-1] + str(int(stripped[-1]) + 1)


@dataclass(frozen=True, slots=True)
class Scope:
    """A region-code prefix; ``Scope("")`` is everything."""

    code: str

    def __post_init__(self) -> None:
        if not (self.code == "" or (self.code.isascii() and self.code.isdigit())):
            raise ValueError(f"a scope code is digits only, got {self.code!r}")

    def covers(self, code: str) -> bool:
        """Whether a region ``code`` lies inside this scope."""
        return code.startswith(self.code)

    def where(
        self,
        column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None] | ColumnElement[str],
    ) -> ColumnElement[bool]:
        """SQL: ``column`` lies inside this scope.

        Written as a half-open range rather than ``LIKE 'prefix%'`` so that a plain b-tree
        index serves it on both engines whatever the database collation: region codes are digit
        strings, which sort the same way under every collation.
        """
        if not self.code:
            return true()
        upper = _successor(self.code)
        lower_bound = column >= self.code
        return lower_bound if upper is None else and_(lower_bound, column < upper)
