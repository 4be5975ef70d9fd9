"""Requests and responses of the matching endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from app.core.types import code
from app.core.vocabulary import Category
from app.pairings.schemas import PairingStatus


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Annotated[str, code(2, 4, 6, 9, blank=True)] = Field(
        description="The region to match in: a county or township code inside the caller's "
        "scope ('' or wider codes for the platform admin)",
        examples=["430525"],
    )
    categories: Annotated[list[Category], Field(min_length=1)] | None = Field(
        default=None, description="Only these categories (all when omitted)"
    )
    # Strict: a lax "no" or 0 would be read as false and run for real.
    dry_run: StrictBool = Field(
        default=False, description="Compute and report the pairs without proposing them"
    )


class BlockStats(BaseModel):
    """One independent block of the run (a connected component of the feasibility graph)."""

    category: str
    needs: int
    offers: int
    offer_units: int
    candidates: int = Field(description="Candidate pairs kept for the solver")
    path: Literal["dense", "sparse"] = Field(
        description="dense: linear_sum_assignment on the full matrix; sparse: "
        "min_weight_full_bipartite_matching on the candidates"
    )
    matched: int
    seconds: float
    solver_seconds: float


class ProposedPair(BaseModel):
    need_id: int
    offer_id: int
    donor_id: int
    score: float
    predicted_success: float


class RunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    scope_code: str
    categories: list[str]
    dry_run: bool
    status: str
    parameters: dict[str, Any]
    needs_considered: int
    offers_considered: int
    offer_units: int
    pairs_proposed: int
    objective: float
    expected_successes: float
    blocks: list[BlockStats]
    load_seconds: float
    solve_seconds: float
    write_seconds: float
    created_by_id: int
    started_at: dt.datetime
    finished_at: dt.datetime | None


class RunResult(RunRead):
    pairs: list[ProposedPair] | None = Field(
        default=None, description="The pairs a dry run found (not proposed)"
    )


class RunPage(BaseModel):
    items: list[RunRead]
    next_cursor: str | None


class RunPairing(BaseModel):
    id: int
    need_id: int
    offer_id: int | None
    donor_id: int
    donor_name: str
    score: float | None
    predicted_success: float
    status: PairingStatus


class RunPairingPage(BaseModel):
    items: list[RunPairing]
    next_cursor: str | None
