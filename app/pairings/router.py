"""Pairings: who holds or held which need, and how it ended."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.accounts.deps import CurrentUser
from app.core.db import SessionDep
from app.core.pagination import Cursor, Limit
from app.pairings import service
from app.pairings.schemas import PairingPage, PairingRead, PairingStatus

router = APIRouter(prefix="/pairings", tags=["pairings"])


@router.get("", response_model=PairingPage)
async def list_pairings(
    session: SessionDep,
    user: CurrentUser,
    limit: Limit = 20,
    cursor: Cursor = None,
    status: Annotated[list[PairingStatus] | None, Query()] = None,
) -> PairingPage:
    """A donor's own pairings, or the pairings in an admin's scope, newest first."""
    pairings, next_cursor = await service.list_pairings(
        session, user, statuses=status, limit=limit, cursor=cursor
    )
    return PairingPage(
        items=[PairingRead.model_validate(p) for p in pairings], next_cursor=next_cursor
    )
