"""Offers: the donation pool."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from app.accounts.deps import CurrentUser
from app.core.db import SessionDep
from app.core.openapi import link, links, problems
from app.core.pagination import Cursor, Limit
from app.core.types import IdParam
from app.offers import service
from app.offers.schemas import OfferCreate, OfferPage, OfferRead, OfferStatus

router = APIRouter(prefix="/offers", tags=["offers"])

OfferId = Annotated[IdParam, Path()]
_POSTED = "$response.body#/id"
POSTED_LINKS = links(
    201,
    ReadOffer=link("GET", "/offers/{offer_id}", "The offer", offer_id=_POSTED),
    WithdrawOffer=link(
        "POST", "/offers/{offer_id}/withdraw", "Take the offer out of the pool", offer_id=_POSTED
    ),
)


@router.post(
    "",
    response_model=OfferRead,
    status_code=status.HTTP_201_CREATED,
    responses={**POSTED_LINKS, **problems(403)},
)
async def post_offer(session: SessionDep, user: CurrentUser, body: OfferCreate) -> OfferRead:
    """Put a non-directed offer into the pool (donors)."""
    return OfferRead.model_validate(await service.create_offer(session, user, body))


@router.get("", response_model=OfferPage)
async def list_offers(
    session: SessionDep,
    user: CurrentUser,
    limit: Limit = 20,
    cursor: Cursor = None,
    status_: Annotated[list[OfferStatus] | None, Query(alias="status")] = None,
) -> OfferPage:
    """A donor's own offers, or the offers that may serve an admin's scope, newest first."""
    offers, next_cursor = await service.list_offers(
        session, user, statuses=status_, limit=limit, cursor=cursor
    )
    return OfferPage(items=[OfferRead.model_validate(o) for o in offers], next_cursor=next_cursor)


@router.get("/{offer_id}", response_model=OfferRead)
async def read_offer(session: SessionDep, user: CurrentUser, offer_id: OfferId) -> OfferRead:
    """One offer (its donor, or an admin whose scope it may serve)."""
    return OfferRead.model_validate(await service.get_offer(session, user, offer_id))


@router.post("/{offer_id}/withdraw", response_model=OfferRead, responses=problems(403, 409))
async def withdraw_offer(session: SessionDep, user: CurrentUser, offer_id: OfferId) -> OfferRead:
    """Take an open offer out of the pool."""
    return OfferRead.model_validate(await service.withdraw(session, user, offer_id))
