"""Needs: post, browse, edit, and every step of their life."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response, status

from app.accounts.deps import AccessClaimsDep, Admin, CurrentUser, account_and_rows
from app.accounts.models import User
from app.accounts.policy import Reader
from app.core.db import DirectDep, SessionDep
from app.core.errors import NotFound, PreconditionRequired
from app.core.openapi import link, links, problems
from app.core.pagination import Cursor, Limit
from app.core.ratelimit import RATE_LIMITED, RateLimitsDep
from app.core.responses import validated_json
from app.core.settings import Settings
from app.core.types import IdParam, Text, code, version_of
from app.core.vocabulary import Category
from app.events import service as events_service
from app.events.schemas import EventList, EventRead
from app.needs import browse, lifecycle, posting
from app.needs.schemas import (
    ActionResult,
    AnyNeedRead,
    Confirm,
    Deliver,
    HouseholdBrief,
    NeedCreate,
    NeedPage,
    NeedPublicRead,
    NeedRead,
    NeedUpdate,
    OptionalReason,
    Review,
    Sort,
    Status,
    WithReason,
)
from app.needs.states import TABLE
from app.pairings import service as pairings
from app.pairings.models import Pairing

router = APIRouter(prefix="/needs", tags=["needs"])

NeedId = Annotated[IdParam, Path()]


# -- links: the next steps of a need's life, for clients and the stateful fuzzer --------------


def _step(action: str, description: str, need_id: str = "$request.path.need_id") -> dict[str, Any]:
    return link("POST", f"/needs/{{need_id}}/{action}", description, need_id=need_id)


_POSTED = "$response.body#/id"
POSTED_LINKS = links(
    201,
    ClaimNeed=_step("claim", "A donor claims the published need", _POSTED),
    ReviewNeed=_step("review", "An admin reviews a need that waits for review", _POSTED),
    CancelNeed=_step("cancel", "An admin withdraws the need", _POSTED),
    ReadNeed=link("GET", "/needs/{need_id}", "The need as posted", need_id=_POSTED),
    EditNeed=link(
        "PATCH",
        "/needs/{need_id}",
        "Edit the need at the version just returned",
        need_id=_POSTED,
        **{"header.if-match": "$response.header.ETag"},
    ),
)
BROWSED_LINKS = links(
    200, ClaimNeed=_step("claim", "Claim the first need of the page", "$response.body#/items/0/id")
)
REVIEWED_LINKS = links(200, ClaimNeed=_step("claim", "A donor claims the approved need"))
CLAIMED_LINKS = links(
    201,
    DeliverNeed=_step("deliver", "The claiming donor hands the need over"),
    ReleaseNeed=_step("release", "The claiming donor gives the need back"),
)
RELEASED_LINKS = links(200, ClaimNeed=_step("claim", "The need is published again"))
DELIVERED_LINKS = links(
    200,
    ConfirmNeed=_step("confirm", "The village admin confirms receipt"),
    DisputeNeed=_step("dispute", "The village admin reports it was not received"),
)
DISPUTED_LINKS = links(200, DeliverNeed=_step("deliver", "The donor delivers again"))
CONFIRMED_LINKS = links(
    200,
    NeedEvents=link(
        "GET", "/needs/{need_id}/events", "The need's history", need_id="$request.path.need_id"
    ),
)


# A step of a need's life: 403 for a caller the transition table does not name, 409 for a state
# that does not allow it or a race lost.
STEP = problems(403, 409)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def present(view: browse.NeedView, user: Reader) -> NeedRead | NeedPublicRead:
    """The need in the shape this caller may see: admins (in scope) get the full record."""
    need = view.need
    public = NeedPublicRead(
        view="public",
        id=need.id,
        category=need.category,
        title=need.title,
        description=need.description,
        value_fen=need.value_fen,
        urgency=need.urgency,
        deadline=need.deadline,
        status=need.status,
        version=need.version,
        village_code=need.village_code,
        village_name=view.village_name,
        household=HouseholdBrief(
            masked_name=view.masked_name, size=view.size, key_household=view.key_household
        ),
        created_at=need.created_at,
        published_at=need.published_at,
        funding_source=need.funding_source,
    )
    if not user.is_admin:
        return public
    return NeedRead(
        **public.model_dump(exclude={"view"}),
        view="admin",
        household_id=need.household_id,
        county_code=need.county_code,
        origin=need.origin,
        created_by_id=need.created_by_id,
        updated_at=need.updated_at,
        fulfilled_at=need.fulfilled_at,
        closed_reason=need.closed_reason,
        allowed_actions=TABLE.allowed(need.status),
    )


async def _result(
    session: SessionDep, user: User, need_id: int, pairing: Pairing | None
) -> ActionResult:
    view = await browse.get_view(session, user, need_id)
    return ActionResult(
        need=present(view, user),
        pairing=browse.pairing_read(pairing, view) if pairing is not None else None,
    )


def _version(if_match: str | None) -> int:
    if if_match is None:
        raise PreconditionRequired(
            "Send If-Match with the need's version (its ETag) to edit it",
            code="if_match_required",
        )
    return version_of(if_match, "need")


@router.post(
    "",
    response_model=NeedRead,
    status_code=status.HTTP_201_CREATED,
    responses={**POSTED_LINKS, **problems(403, 404, 409)},
)
async def post_need(
    session: SessionDep, admin: Admin, body: NeedCreate, request: Request, response: Response
) -> NeedRead | NeedPublicRead:
    """Post a need for a household in the admin's scope (published at once, or for review)."""
    need = await posting.create_need(session, admin, body, _settings(request))
    response.headers["ETag"] = f'"{need.version}"'
    response.headers["Location"] = f"{request.url.path}/{need.id}"
    return present(await browse.get_view(session, admin, need.id), admin)


@router.get("", response_model=NeedPage, responses={**BROWSED_LINKS, **problems(403)})
async def list_needs(
    direct: DirectDep,
    claims: AccessClaimsDep,
    limit: Limit = 20,
    cursor: Cursor = None,
    sort: Sort = "newest",
    region: Annotated[
        Annotated[str, code(*range(2, 13))] | None, Query(description="A region-code prefix")
    ] = None,
    category: Category | None = None,
    urgency: Annotated[int | None, Query(ge=1, le=3)] = None,
    key_household: bool | None = None,
    q: Annotated[
        Annotated[str, Text(50, strip=False)] | None,
        Query(description="A word in title or text"),
    ] = None,
    status_: Annotated[
        list[Status] | None,
        Query(alias="status", description="Admins only; published by default"),
    ] = None,
) -> Response:
    """Browse needs, newest, most urgent or nearest deadline first, a page at a time."""
    filters = browse.BrowseFilters(
        region=region,
        category=category,
        urgency=urgency,
        key_household=key_household,
        q=q,
        statuses=tuple(sorted(set(status_))) if status_ else ("published",),
    )
    # The caller's account and the page in one statement, the page as the token's role and
    # scope may see it: the account's check (401) comes first, then the statuses' (403).
    scope_code = browse.reader_scope(claims.role, claims.scope)
    query = browse.page_query(scope_code, filters, sort=sort, limit=limit, cursor=cursor)
    user, rows = await account_and_rows(
        direct, claims, query.statement, query.parameters, keep=query.kept
    )
    browse.check_statuses(user, filters)
    views, next_cursor = browse.page_of(query, rows)
    page = NeedPage(items=[present(view, user) for view in views], next_cursor=next_cursor)
    return validated_json(NeedPage, page)


@router.get("/{need_id}", response_model=AnyNeedRead)
async def read_need(direct: DirectDep, claims: AccessClaimsDep, need_id: NeedId) -> Response:
    """One need, as the caller may see it; its ETag is its version."""
    # The caller's account and the need in one statement, as for a page.
    statement = browse.one_statement(browse.reader_scope(claims.role, claims.scope))
    user, rows = await account_and_rows(direct, claims, statement, {"need_id": need_id})
    view = browse.view_of(need_id, rows[0] if rows else None)
    etag = {"ETag": f'"{view.need.version}"'}
    return validated_json((NeedRead, NeedPublicRead), present(view, user), headers=etag)


@router.patch("/{need_id}", response_model=NeedRead, responses=problems(403, 409, 412, 428))
async def edit_need(
    session: SessionDep,
    admin: Admin,
    need_id: NeedId,
    body: NeedUpdate,
    request: Request,
    response: Response,
    if_match: Annotated[str | None, Header(description="The need's version (ETag)")] = None,
) -> NeedRead | NeedPublicRead:
    """Edit a published need; If-Match must carry its current version (412 when stale)."""
    need = await posting.update_need(
        session, admin, need_id, _version(if_match), body, _settings(request)
    )
    response.headers["ETag"] = f'"{need.version}"'
    return present(await browse.get_view(session, admin, need.id), admin)


@router.post("/{need_id}/review", response_model=ActionResult, responses={**REVIEWED_LINKS, **STEP})
async def review_need(
    session: SessionDep, admin: Admin, need_id: NeedId, body: Review
) -> ActionResult:
    """Approve (publish) or reject a need that waits for review."""
    await lifecycle.review(session, admin, need_id, body.decision, body.reason)
    return await _result(session, admin, need_id, None)


@router.post(
    "/{need_id}/claim",
    response_model=ActionResult,
    status_code=201,
    responses={**RATE_LIMITED, **CLAIMED_LINKS, **STEP},
)
async def claim_need(
    session: SessionDep, user: CurrentUser, need_id: NeedId, request: Request, limits: RateLimitsDep
) -> ActionResult:
    """Claim a published need: first come, first served; everyone else gets 409.

    A donor claiming faster than the configured rate gets 429 with Retry-After.
    """
    await limits.claim(user.id)
    _, pairing = await lifecycle.claim(session, user, need_id, _settings(request))
    return await _result(session, user, need_id, pairing)


@router.post(
    "/{need_id}/release", response_model=ActionResult, responses={**RELEASED_LINKS, **STEP}
)
async def release_need(
    session: SessionDep, user: CurrentUser, need_id: NeedId, body: OptionalReason | None = None
) -> ActionResult:
    """Give a claimed need back to the pool (the claiming donor only)."""
    reason = body.reason if body else None
    _, pairing = await lifecycle.release(session, user, need_id, reason)
    return await _result(session, user, need_id, pairing)


@router.post(
    "/{need_id}/deliver", response_model=ActionResult, responses={**DELIVERED_LINKS, **STEP}
)
async def deliver_need(
    session: SessionDep, user: CurrentUser, need_id: NeedId, body: Deliver | None = None
) -> ActionResult:
    """Mark a claimed need as handed over (the claiming donor only)."""
    _, pairing = await lifecycle.deliver(session, user, need_id, body.note if body else None)
    return await _result(session, user, need_id, pairing)


@router.post(
    "/{need_id}/confirm", response_model=ActionResult, responses={**CONFIRMED_LINKS, **STEP}
)
async def confirm_need(
    session: SessionDep, user: CurrentUser, need_id: NeedId, body: Confirm | None = None
) -> ActionResult:
    """Confirm receipt of a delivered need, optionally thanking the donor (admin in scope)."""
    _, pairing = await lifecycle.confirm(session, user, need_id, body.thanks if body else None)
    return await _result(session, user, need_id, pairing)


@router.post(
    "/{need_id}/dispute", response_model=ActionResult, responses={**DISPUTED_LINKS, **STEP}
)
async def dispute_need(
    session: SessionDep, user: CurrentUser, need_id: NeedId, body: WithReason, request: Request
) -> ActionResult:
    """Report a delivered need as not received: it goes back to the claiming donor."""
    _, pairing = await lifecycle.dispute(session, user, need_id, body.reason, _settings(request))
    return await _result(session, user, need_id, pairing)


@router.post("/{need_id}/cancel", response_model=ActionResult, responses=STEP)
async def cancel_need(
    session: SessionDep, user: CurrentUser, need_id: NeedId, body: WithReason
) -> ActionResult:
    """Withdraw a need that is no longer wanted (admin in scope)."""
    _, pairing = await lifecycle.cancel(session, user, need_id, body.reason)
    return await _result(session, user, need_id, pairing)


@router.get("/{need_id}/events", response_model=EventList)
async def list_need_events(session: SessionDep, user: CurrentUser, need_id: NeedId) -> EventList:
    """The need's history and its pairings', oldest first (admins in scope, and its donors)."""
    await browse.get_view(session, user, need_id)
    if not user.is_admin and not await pairings.has_pairing(session, user.id, need_id):
        raise NotFound(f"No need {need_id}", code="need_not_found")
    history = await events_service.history_of_need(session, need_id)
    return EventList(items=[EventRead.model_validate(event) for event in history])
