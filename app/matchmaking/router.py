"""Matching runs (admins), the pairings list, and answers to proposals (donors).

The pairings list lives here rather than in the pairings package because each pairing carries
a summary of its need, and pairings sit below needs in the order of packages.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from app.accounts.deps import Admin, AdminScope, CurrentUser
from app.core.db import SessionDep
from app.core.openapi import link, links, problems
from app.core.pagination import Cursor, Limit
from app.core.settings import Settings
from app.core.types import IdParam
from app.matchmaking import proposals, service
from app.matchmaking.schemas import (
    ProposedPair,
    RunCreate,
    RunPage,
    RunPairing,
    RunPairingPage,
    RunRead,
    RunResult,
)
from app.needs.browse import get_view, pairing_read, summaries
from app.needs.router import present
from app.needs.schemas import ActionResult, OptionalReason
from app.pairings import service as pairings
from app.pairings.schemas import PairingPage, PairingRead, PairingStatus

runs_router = APIRouter(prefix="/matching/runs", tags=["matching"])
proposals_router = APIRouter(prefix="/pairings", tags=["pairings"])

RunId = Annotated[IdParam, Path()]
PairingId = Annotated[IdParam, Path()]
_RUN = "$response.body#/id"
STARTED_LINKS = links(
    201,
    ReadRun=link("GET", "/matching/runs/{run_id}", "The run", run_id=_RUN),
    RunPairings=link(
        "GET", "/matching/runs/{run_id}/pairings", "The pairings it proposed", run_id=_RUN
    ),
)
_FIRST = "$response.body#/items/0/id"
PROPOSED_LINKS = links(
    200,
    AcceptProposal=link(
        "POST", "/pairings/{pairing_id}/accept", "The donor accepts", pairing_id=_FIRST
    ),
    DeclineProposal=link(
        "POST", "/pairings/{pairing_id}/decline", "The donor declines", pairing_id=_FIRST
    ),
)


# An answer to a proposal: 403 for another donor's, 409 for a proposal no longer open.
ANSWER = problems(403, 409)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@runs_router.post(
    "",
    response_model=RunResult,
    status_code=status.HTTP_201_CREATED,
    responses={**STARTED_LINKS, **problems(404)},
)
async def start_run(
    session: SessionDep, admin: Admin, body: RunCreate, request: Request
) -> RunResult:
    """Assign the pool to the open needs of a scope; the pairs become proposals to donors."""
    run, solution = await service.start_run(session, admin, body, _settings(request))
    result = RunResult.model_validate(run)
    if body.dry_run:
        donors = dict(zip(solution.offer_ids, solution.offer_donors, strict=True))
        result.pairs = [
            ProposedPair(
                need_id=pair.need_id, offer_id=pair.offer_id, donor_id=donors[pair.offer_id],
                score=pair.score, predicted_success=pair.probability,
            )
            for pair in solution.pairs
        ]  # fmt: skip
    return result


@runs_router.get("", response_model=RunPage)
async def list_runs(
    session: SessionDep, scope: AdminScope, limit: Limit = 20, cursor: Cursor = None
) -> RunPage:
    """The matching runs inside the caller's scope, newest first."""
    runs, next_cursor = await service.list_runs(session, scope, limit=limit, cursor=cursor)
    return RunPage(items=[RunRead.model_validate(r) for r in runs], next_cursor=next_cursor)


@runs_router.get("/{run_id}", response_model=RunRead)
async def read_run(session: SessionDep, scope: AdminScope, run_id: RunId) -> RunRead:
    """One matching run: parameters, counts, objective, blocks and timings."""
    return RunRead.model_validate(await service.get_run(session, scope, run_id))


@runs_router.get("/{run_id}/pairings", response_model=RunPairingPage, responses=PROPOSED_LINKS)
async def list_run_pairings(
    session: SessionDep,
    scope: AdminScope,
    run_id: RunId,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RunPairingPage:
    """The pairings a run proposed, and how each stands now."""
    rows, next_cursor = await service.run_pairings(
        session, scope, run_id, limit=limit, cursor=cursor
    )
    items = [
        RunPairing(
            id=p.id, need_id=p.need_id, offer_id=p.offer_id, donor_id=p.donor_id,
            donor_name=name, score=p.score, predicted_success=p.predicted_success,
            status=p.status,
        )
        for p, name in rows
    ]  # fmt: skip
    return RunPairingPage(items=items, next_cursor=next_cursor)


@proposals_router.get("", response_model=PairingPage)
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
    found, next_cursor = await pairings.list_pairings(
        session, user, statuses=status, limit=limit, cursor=cursor
    )
    needs = await summaries(session, [p.need_id for p in found])
    items = [PairingRead.of(p, needs[p.need_id]) for p in found]
    return PairingPage(items=items, next_cursor=next_cursor)


@proposals_router.post("/{pairing_id}/accept", response_model=ActionResult, responses=ANSWER)
async def accept_proposal(
    session: SessionDep, user: CurrentUser, pairing_id: PairingId, request: Request
) -> ActionResult:
    """Accept a proposal: the need becomes claimed by the donor and uses one unit of the offer."""
    need, pairing = await proposals.accept(session, user, pairing_id, _settings(request))
    view = await get_view(session, user, need.id)
    return ActionResult(need=present(view, user), pairing=pairing_read(pairing, view))


@proposals_router.post("/{pairing_id}/decline", response_model=ActionResult, responses=ANSWER)
async def decline_proposal(
    session: SessionDep,
    user: CurrentUser,
    pairing_id: PairingId,
    body: OptionalReason | None = None,
) -> ActionResult:
    """Decline a proposal: the need and the offer's capacity go back to the pool."""
    pairing = await proposals.decline(session, user, pairing_id, body.reason if body else None)
    view = await get_view(session, user, pairing.need_id)
    return ActionResult(need=present(view, user), pairing=pairing_read(pairing, view))
