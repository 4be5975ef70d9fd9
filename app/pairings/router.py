"""Pairings: who holds or held which need, and how it ended."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.accounts.deps import CurrentUser
from app.core.db import SessionDep
from app.core.pagination import Cursor, Limit
from app.needs import browse
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
    """A donor's own pairings, or the pairings in an admin's scope, newest first.

    Each carries a summary of its need (title, category, village, value, urgency, deadline), so
    that a donor can answer a proposal (``?status=proposed``) without reading each need.
    """
    pairings, next_cursor = await service.list_pairings(
        session, user, statuses=status, limit=limit, cursor=cursor
    )
    needs = await browse.summaries(session, [p.need_id for p in pairings])
    items = [PairingRead.of(p, needs[p.need_id]) for p in pairings]
    return PairingPage(items=items, next_cursor=next_cursor)
