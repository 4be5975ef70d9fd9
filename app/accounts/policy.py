"""Who may act: an admin's scope and the actor column of the transition tables, in one place."""

from __future__ import annotations

from typing import Protocol

from app.accounts.models import User
from app.core.errors import Forbidden
from app.core.scope import Scope
from app.core.transitions import Actor


class Reader(Protocol):
    """Whoever a need is shown to: an account, or as much of one as a read looked at
    (:class:`app.accounts.deps.Caller`)."""

    @property
    def is_admin(self) -> bool: ...


# A reviewer is an admin of a wider level than the village: review checks a household's own
# request, so the village admin who relayed it does not approve it.
REVIEWER_ROLES = ("platform", "county", "township")


def admin_scope(user: User) -> Scope:
    """The region scope that every query of this admin is filtered by; 403 for a donor."""
    if not user.is_admin or user.scope_code is None:
        raise Forbidden("Only an admin may do this", code="admin_only")
    return Scope(user.scope_code)


def scope_or_none(user: User) -> Scope | None:
    """An admin's scope; None for a donor."""
    return admin_scope(user) if user.is_admin else None


def require(user: User, by: Actor, *, holder_id: int | None = None) -> None:
    """403 unless ``user`` is the kind of actor a transition's ``by`` names.

    The record itself was read through the caller's scope, so an admin here is in scope.
    """
    if by == "admin" and not user.is_admin:
        raise Forbidden("Only an admin in the record's scope may do this", code="admin_only")
    if by == "reviewer" and user.role not in REVIEWER_ROLES:
        raise Forbidden(
            "Only a township, county or platform admin reviews a need", code="not_allowed"
        )
    if by == "donor" and user.role != "donor":
        raise Forbidden("Only a donor may do this", code="donor_only")
    if by == "holder" and (user.role != "donor" or holder_id != user.id):
        raise Forbidden("Only the donor holding this need may do this", code="not_claimer")
    if by == "system":
        raise Forbidden("This happens by itself; nobody may ask for it", code="not_allowed")
