"""The need's life as data: (state, action) → (new state, who may).

The service, the 409 message naming the allowed actions, and the tests all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Actor = Literal["admin", "reviewer", "claimer", "donor", "system"]

# A reviewer is an admin of a wider level than the village: review checks a household's own
# request, so the village admin who relayed it does not approve it.
REVIEWER_ROLES = ("platform", "county", "township")


@dataclass(frozen=True, slots=True)
class Transition:
    to: str
    by: Actor


TRANSITIONS: dict[tuple[str, str], Transition] = {
    ("pending_review", "approve"): Transition("published", "reviewer"),
    ("pending_review", "reject"): Transition("rejected", "reviewer"),
    ("pending_review", "cancel"): Transition("cancelled", "admin"),
    ("published", "claim"): Transition("claimed", "donor"),
    ("published", "accept"): Transition("claimed", "donor"),
    ("published", "cancel"): Transition("cancelled", "admin"),
    ("published", "expire"): Transition("expired", "system"),
    ("claimed", "release"): Transition("published", "claimer"),
    ("claimed", "lapse"): Transition("published", "system"),
    ("claimed", "deliver"): Transition("delivered", "claimer"),
    ("claimed", "cancel"): Transition("cancelled", "admin"),
    ("delivered", "confirm"): Transition("fulfilled", "admin"),
    ("delivered", "dispute"): Transition("claimed", "admin"),
}

STATES = (
    "pending_review",
    "published",
    "claimed",
    "delivered",
    "fulfilled",
    "rejected",
    "cancelled",
    "expired",
)
# What a caller may ask for through the API (system actions happen by themselves).
ACTIONS = ("approve", "reject", "claim", "release", "deliver", "confirm", "dispute", "cancel")


def allowed_actions(state: str) -> list[str]:
    """The actions a caller may take on a need in ``state``."""
    return [
        action
        for (source, action), t in TRANSITIONS.items()
        if source == state and t.by != "system"
    ]
