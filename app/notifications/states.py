"""A webhook delivery's life as data: (state, action) → (new state, who may).

A worker takes a pending delivery that is due (``send``: sending, under a lease), then records
the answer: ``succeed`` (2xx), ``fail`` (pending again, the next attempt later), ``give_up``
(dead: the last attempt failed, or the receiver answered 410 Gone). A worker that stopped
mid-delivery leaves it sending; once the lease has passed another takes it again (``send``, the
attempt count is the guard). A platform admin may ``retry`` a dead letter by hand.
"""

from __future__ import annotations

from typing import Literal, get_args

from app.core.transitions import Transition, TransitionTable

State = Literal["pending", "sending", "delivered", "dead"]
STATES: tuple[str, ...] = get_args(State)

TABLE = TransitionTable(
    "delivery",
    STATES,
    {
        ("pending", "send"): Transition("sending", "system"),
        ("sending", "send"): Transition("sending", "system"),  # the lease passed
        ("sending", "succeed"): Transition("delivered", "system"),
        ("sending", "fail"): Transition("pending", "system"),
        ("sending", "give_up"): Transition("dead", "system"),
        ("dead", "retry"): Transition("pending", "admin"),
    },
)
