"""The pairing's life as data: (state, action) → (new state, who may).

A pairing (对接) is a need with a donor. A matching run proposes it, or a direct claim creates
it active; the donor holds the need while it is active or delivered; it ends confirmed (the
success) or released, expired, declined, cancelled or superseded. :func:`app.pairings.service.move`
is the one function that changes a pairing's status, by a compare-and-set on this table; the
409 message, the needs and matchmaking services and the race tests read it too.
"""

from __future__ import annotations

from typing import Literal, get_args

from app.core.transitions import Transition, TransitionTable

State = Literal[
    "proposed",
    "active",
    "delivered",
    "confirmed",
    "released",
    "expired",
    "declined",
    "cancelled",
    "superseded",
]
STATES: tuple[str, ...] = get_args(State)

# How a pairing came about: a donor's direct claim, or a matching run's proposal.
Source = Literal["claim", "match"]
SOURCES: tuple[str, ...] = get_args(Source)
# The states in which the pairing's donor holds the need.
HOLDING = ("active", "delivered")
# The states a pairing starts in: a run proposes it, a direct claim makes it active.
INITIAL = {"propose": "proposed", "claim": "active"}
ENDED = tuple(state for state in STATES if state not in (*HOLDING, "proposed"))

TABLE = TransitionTable(
    "pairing",
    STATES,
    {
        ("proposed", "accept"): Transition("active", "holder"),
        ("proposed", "decline"): Transition("declined", "holder"),
        ("proposed", "lapse"): Transition("expired", "system"),
        ("proposed", "supersede"): Transition("superseded", "system"),
        ("active", "release"): Transition("released", "holder"),
        ("active", "deliver"): Transition("delivered", "holder"),
        ("active", "lapse"): Transition("expired", "system"),
        ("active", "cancel"): Transition("cancelled", "admin"),
        ("delivered", "confirm"): Transition("confirmed", "admin"),
        ("delivered", "dispute"): Transition("active", "admin"),
    },
)
