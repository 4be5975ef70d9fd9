"""The need's life as data: (state, action) → (new state, who may).

The service, the 409 message naming the allowed actions, and the race tests all read this table.
"""

from __future__ import annotations

from typing import Literal, get_args

from app.core.transitions import Transition, TransitionTable

State = Literal[
    "pending_review",
    "published",
    "claimed",
    "delivered",
    "fulfilled",
    "rejected",
    "cancelled",
    "expired",
]
STATES: tuple[str, ...] = get_args(State)

# Who asked: the village admin (published at once) or the household itself (reviewed first).
Origin = Literal["admin", "household"]
ORIGINS: tuple[str, ...] = get_args(Origin)
# Paid for with money (the fund pool, app/funds): crowdfunded by donors, or allocated from the
# pool. Such a need is no longer offered to donors of goods and services: not claimed, not matched.
MoneySource = Literal["crowdfunding", "allocation"]
MONEY_SOURCES: tuple[str, ...] = get_args(MoneySource)
# The needs still in play: one of each category per household at a time.
OPEN = ("pending_review", "published", "claimed", "delivered")

TABLE = TransitionTable(
    "need",
    STATES,
    {
        ("pending_review", "approve"): Transition("published", "reviewer"),
        ("pending_review", "reject"): Transition("rejected", "reviewer"),
        ("pending_review", "cancel"): Transition("cancelled", "admin"),
        ("published", "claim"): Transition("claimed", "donor"),
        ("published", "accept"): Transition("claimed", "system"),  # by the proposal's answer
        ("published", "cancel"): Transition("cancelled", "admin"),
        ("published", "expire"): Transition("expired", "system"),
        # Paid for with money and received: the funding's confirmation settles the need.
        ("published", "settle"): Transition("fulfilled", "system"),
        ("claimed", "release"): Transition("published", "holder"),
        ("claimed", "lapse"): Transition("published", "system"),
        ("claimed", "deliver"): Transition("delivered", "holder"),
        ("claimed", "cancel"): Transition("cancelled", "admin"),
        ("delivered", "confirm"): Transition("fulfilled", "admin"),
        ("delivered", "dispute"): Transition("claimed", "admin"),
    },
)
# What a caller may ask for through the API (system actions happen by themselves).
ACTIONS = tuple(
    action for action in TABLE.actions if any(
        move.by != "system" for (_, a), move in TABLE.moves.items() if a == action
    )
)  # fmt: skip
