"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.core.errors import ServiceUnavailable
from app.core.migrations import current_revisions
from app.core.openapi import problems

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    revision: str


@router.get("/healthz", response_model=Health)
async def check_liveness() -> Health:
    """The process is alive (no dependency is checked)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses=problems(503))
async def check_readiness(request: Request) -> Readiness:
    """The database answers and its schema is at the migrations' head."""
    heads: set[str] = request.app.state.migration_heads
    current = await current_revisions(request.app.state.database.engine)
    if current != heads:
        raise ServiceUnavailable(
            f"The database schema is at {sorted(current) or 'nothing'}, "
            f"the code expects {sorted(heads)}: run 'aixin migrate'",
            code="migrations_pending",
        )
    return Readiness(status="ready", database="ok", revision=",".join(sorted(current)))
