"""The words several packages share: need categories, account roles and donor kinds.

Each vocabulary is written once, as a ``Literal`` (the type that schemas validate and the API
document lists) with its tuple read from it (what models check and services loop over). Needs,
offers, pairings, matchmaking and statistics all speak of categories, and accounts and
statistics of roles and donor kinds; kept here, in the plumbing every package may import, no
package imports another just for a word. A vocabulary of one package stays in that package, and
the statuses of needs and pairings are the states of their transition tables
(:mod:`app.needs.states`, :mod:`app.pairings.states`).
"""

from __future__ import annotations

from typing import Literal, get_args

# housing is 危房改造 (repairing a dangerous house), industry 产业发展 (seedlings, livestock,
# tools for a household's own production), as the national platform had them.
Category = Literal[
    "goods", "schooling", "health", "employment", "service", "skills", "housing", "industry"
]
CATEGORIES: tuple[str, ...] = get_args(Category)

AdminRole = Literal["platform", "county", "township", "village"]
Role = Literal["donor", AdminRole]
ADMIN_ROLES: tuple[str, ...] = get_args(AdminRole)
ROLES: tuple[str, ...] = get_args(Role)

DonorKind = Literal["individual", "enterprise", "organization"]
DONOR_KINDS: tuple[str, ...] = get_args(DonorKind)


def sql_in(words: tuple[str, ...]) -> str:
    """``('a', 'b')``: the words as the list of a check constraint's ``IN``."""
    return "(" + ", ".join(f"'{word}'" for word in words) + ")"
