"""The lives of the fund pool's records as data: (state, action) → (new state, who may).

A donation waits for its payment (``pay`` and ``fail`` come from the provider's notifications,
``close`` is its donor giving up an unpaid order) and a paid one may be reversed by an admin. A
need's funding is open until it is funded at 100% or its deadline passes; then the village admin
records the purchase and confirms receipt. An allocation of a county's pool is proposed, then
approved (which executes it: the money moves in the same transaction) or rejected.
"""

from __future__ import annotations

from typing import Literal, get_args

from app.core.transitions import Transition, TransitionTable

DonationState = Literal["pending", "paid", "failed", "closed", "reversed"]
DONATION_STATES: tuple[str, ...] = get_args(DonationState)

DONATION = TransitionTable(
    "donation",
    DONATION_STATES,
    {
        ("pending", "pay"): Transition("paid", "system"),
        ("pending", "fail"): Transition("failed", "system"),
        ("pending", "close"): Transition("closed", "holder"),
        ("paid", "reverse"): Transition("reversed", "admin"),
    },
)

FundingState = Literal["open", "funded", "purchased", "completed", "expired"]
FUNDING_STATES: tuple[str, ...] = get_args(FundingState)

FUNDING = TransitionTable(
    "funding",
    FUNDING_STATES,
    {
        ("open", "fund"): Transition("funded", "system"),
        ("open", "expire"): Transition("expired", "system"),
        ("funded", "purchase"): Transition("purchased", "admin"),
        ("purchased", "confirm"): Transition("completed", "admin"),
    },
)

AllocationState = Literal["proposed", "approved", "rejected", "executed"]
ALLOCATION_STATES: tuple[str, ...] = get_args(AllocationState)

ALLOCATION = TransitionTable(
    "allocation",
    ALLOCATION_STATES,
    {
        ("proposed", "approve"): Transition("approved", "reviewer"),
        ("proposed", "reject"): Transition("rejected", "reviewer"),
        ("approved", "execute"): Transition("executed", "system"),
    },
)

TABLES = (DONATION, FUNDING, ALLOCATION)
