"""The donor's pages: browsing needs, their claims, proposals to answer, and notifications.

A donor sees what ``NeedPublicRead`` holds and nothing more: the village, the household's masked
name and size; never a name, an ID number or a phone.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from app.accounts.models import User
from app.console.auth import redirect
from app.console.forms import counter
from app.console.households import parsed
from app.console.render import page, problem_message
from app.console.session import ConsoleUser, Csrf, undo
from app.core.db import SessionDep
from app.core.errors import AppError, Forbidden
from app.core.types import Cursor, IdParam, RegionPrefix, Text
from app.core.vocabulary import CATEGORIES
from app.inbox import service as inbox
from app.matchmaking import proposals
from app.needs import browse
from app.needs.router import present
from app.pairings import service as pairings

router = APIRouter()

PairingId = Annotated[IdParam, Path()]
Keyword = Text(50)


def donor(user: User) -> User:
    if user.role != "donor":
        raise Forbidden("Only a donor may do this", code="donor_only")
    return user


@router.get("/browse")
async def browse_needs(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """Published needs, filtered by region, category, urgency and a keyword."""
    query = request.query_params
    region, region_ok = parsed(RegionPrefix, query.get("region", "").strip())
    keyword, keyword_ok = parsed(Keyword, query.get("q", "").strip())
    cursor, cursor_ok = parsed(Cursor, query.get("cursor", ""))
    category = query.get("category") if query.get("category") in CATEGORIES else None
    urgency_text = query.get("urgency", "")
    urgency = int(urgency_text) if urgency_text in ("1", "2", "3") else None
    errors = []
    if not region_ok:
        errors.append("地区代码为 1 到 12 位数字。")
    if not keyword_ok:
        errors.append("关键词最多 50 个字。")
    views: list[browse.NeedView] = []
    next_cursor = None
    if region_ok and keyword_ok and cursor_ok:
        filters = browse.BrowseFilters(region=region, category=category, urgency=urgency, q=keyword)
        views, next_cursor = await browse.browse(
            session, user, filters, sort="urgent", limit=20, cursor=cursor
        )
    context = {
        "needs": [present(view, user) for view in views],
        "next_cursor": next_cursor,
        "errors": errors,
        "categories": CATEGORIES,
        "search": {
            "region": query.get("region", ""),
            "q": query.get("q", ""),
            "category": category or "",
            "urgency": urgency or "",
        },
    }
    return page(request, "donors/browse.html", context)


@router.get("/claims")
async def my_claims(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """The donor's claims: those to deliver or waiting for confirmation, then the ended ones."""
    found, _ = await pairings.list_pairings(
        session, donor(user), statuses=None, limit=100, cursor=None
    )
    shown = [p for p in found if p.status != "proposed"]
    needs = await browse.summaries(session, [p.need_id for p in shown])
    context = {"claims": [(p, needs[p.need_id]) for p in shown]}
    return page(request, "donors/claims.html", context)


@router.get("/proposals")
async def my_proposals(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """The needs a matching run proposed to the donor, to accept or decline."""
    found, _ = await pairings.list_pairings(
        session, donor(user), statuses=["proposed"], limit=100, cursor=None
    )
    needs = await browse.summaries(session, [p.need_id for p in found])
    context = {"proposals": [(p, needs[p.need_id]) for p in found], "error": None}
    return page(request, "donors/proposals.html", context)


@router.post("/proposals/{pairing_id:int}/{answer}", dependencies=[Csrf])
async def answer_proposal(
    request: Request, session: SessionDep, user: ConsoleUser, pairing_id: PairingId, answer: str
) -> Response:
    """Accept or decline a proposal, as the API's answers do."""
    donor(user)
    try:
        if answer == "accept":
            await proposals.accept(session, user, pairing_id, request.app.state.settings)
        elif answer == "decline":
            await proposals.decline(session, user, pairing_id, None)
        else:
            return redirect("/console/proposals")
    except AppError as exc:
        if exc.status >= 500 or exc.status in (401, 404):
            raise
        await undo(session, user)
        found, _ = await pairings.list_pairings(
            session, user, statuses=["proposed"], limit=100, cursor=None
        )
        needs = await browse.summaries(session, [p.need_id for p in found])
        context = {
            "proposals": [(p, needs[p.need_id]) for p in found],
            "error": problem_message(exc),
        }
        return page(request, "donors/proposals.html", context, status_code=exc.status)
    return redirect(f"/console/proposals?notice={answer}")


@router.get("/notifications")
async def notifications(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """The user's notifications, newest first."""
    cursor, cursor_ok = parsed(Cursor, request.query_params.get("cursor", ""))
    found = await inbox.page(session, user.id, cursor=cursor if cursor_ok else None, limit=50)
    return page(request, "notifications.html", {"page": found})


@router.post("/notifications/read", dependencies=[Csrf])
async def mark_read(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """Mark every notification shown so far as read."""
    form = await request.form()
    up_to = counter(form.get("up_to"), digits=18)
    if up_to is not None:
        await inbox.mark_read(session, user.id, up_to)
    return redirect("/console/notifications?notice=read")
