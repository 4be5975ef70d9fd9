"""A programme pairing's life as data: (state, action) → (new state, who may).

A pairing of a student with a volunteer or sponsor starts active for the programme's term. An
admin renews it for another term, pauses and resumes it, completes it (the term ran its course)
or terminates it early. Every move is a compare-and-set on the status and the version, so of
two admins acting at once exactly one wins and the other gets 409.

A sponsorship pairing's payment for a term is scheduled on the term's first day; the county
office records it received from the sponsor (into the pairing's restricted account in the fund
pool's ledger), then paid out to the student's household. Terminating the pairing cancels the
payments still scheduled; money it had received and not yet paid out is either paid out still or
refunded to the sponsor, which only a terminated pairing's payment may be (its receipt is
reversed in the ledger). Each move is a compare-and-set on the payment's status.
"""

from __future__ import annotations

from typing import Literal, get_args

from app.core.transitions import Transition, TransitionTable

State = Literal["active", "paused", "completed", "terminated"]
STATES: tuple[str, ...] = get_args(State)
ONGOING = ("active", "paused")
ENDED = ("completed", "terminated")

TABLE = TransitionTable(
    "programme_pairing",
    STATES,
    {
        ("active", "renew"): Transition("active", "admin"),
        ("active", "pause"): Transition("paused", "admin"),
        ("active", "complete"): Transition("completed", "admin"),
        ("active", "terminate"): Transition("terminated", "admin"),
        ("paused", "resume"): Transition("active", "admin"),
        ("paused", "terminate"): Transition("terminated", "admin"),
    },
)

PaymentState = Literal["scheduled", "received", "disbursed", "cancelled", "refunded"]
PAYMENT_STATES: tuple[str, ...] = get_args(PaymentState)

PAYMENT = TransitionTable(
    "sponsorship_payment",
    PAYMENT_STATES,
    {
        ("scheduled", "receive"): Transition("received", "admin"),
        ("received", "disburse"): Transition("disbursed", "admin"),
        ("received", "refund"): Transition("refunded", "admin"),
        ("scheduled", "cancel"): Transition("cancelled", "system"),
    },
)
# The pairing's states in which its received payments may be refunded: a terminated pairing's
# money goes back to the sponsor, while a completed pairing's term ran its course and its money
# goes to the household.
REFUNDABLE = ("terminated",)
