"""Needs: posting and editing (offices), one need's page, and every step of its life.

A step is the same service call the API makes (:mod:`app.needs.lifecycle`): the transition
table decides who may take it, a compare-and-set decides a race, and a refused step is shown on
the need's page as its problem's Chinese message, nothing written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.accounts.policy import admin_scope
from app.console.auth import redirect
from app.console.forms import counter, values, yuan_to_fen
from app.console.households import office, parsed
from app.console.render import field_errors, page, problem_message
from app.console.session import ConsoleUser, Csrf, undo
from app.core.db import SessionDep
from app.core.errors import AppError
from app.core.ratelimit import RateLimitsDep
from app.core.settings import Settings
from app.core.types import Cursor, IdParam, Text
from app.core.vocabulary import CATEGORIES
from app.households import service as households_service
from app.needs import browse, lifecycle, posting
from app.needs.router import present
from app.needs.schemas import NeedCreate, NeedUpdate
from app.needs.states import STATES
from app.pairings import service as pairings
from app.photos import service as photos_service

router = APIRouter()

NeedId = Annotated[IdParam, Path()]
NEED_FIELDS = ("household_id", "category", "title", "description", "urgency", "deadline", "origin")
EDIT_FIELDS = ("title", "description", "urgency", "deadline")
Words: TypeAdapter[str] = TypeAdapter(Annotated[str, Text(500)])


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _need_values(form: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    sent = values(form, fields, integers=["household_id", "urgency"])
    value = str(form.get("value_yuan") or "").strip()
    if value:
        sent["value_fen"] = yuan_to_fen(value)
    return sent


@router.get("/needs")
async def list_needs(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """The needs of the admin's scope, by status (all open ones by default)."""
    admin = office(user)
    wanted = tuple(s for s in request.query_params.getlist("status") if s in STATES)
    cursor, cursor_ok = parsed(Cursor, request.query_params.get("cursor", ""))
    filters = browse.BrowseFilters(
        statuses=wanted or ("pending_review", "published", "claimed", "delivered")
    )
    views, next_cursor = await browse.browse(
        session, admin, filters, sort="newest", limit=50, cursor=cursor if cursor_ok else None
    )
    context = {"views": views, "next_cursor": next_cursor, "statuses": wanted}
    return page(request, "needs/list.html", context)


def _new_need_page(request: Request, form: dict[str, Any], errors: dict[str, str]) -> Response:
    context = {"form": form, "errors": errors, "categories": CATEGORIES}
    return page(request, "needs/new.html", context, status_code=422 if errors else 200)


@router.get("/needs/new")
async def new_need_form(request: Request, user: ConsoleUser) -> Response:
    """The form to post a need for a household."""
    office(user)
    household = request.query_params.get("household_id", "")
    deadline = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    form = {"household_id": household, "urgency": 2, "deadline": deadline}
    return _new_need_page(request, form, {})


@router.post("/needs/new", dependencies=[Csrf])
async def post_need(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """Post a need, as ``POST /api/v1/needs`` does."""
    admin = office(user)
    form = await request.form()
    sent = _need_values(form, NEED_FIELDS)
    echo = {**sent, "value_yuan": form.get("value_yuan") or ""}
    try:
        data = NeedCreate.model_validate(sent)
    except ValidationError as exc:
        return _new_need_page(request, echo, field_errors(exc))
    try:
        need = await posting.create_need(session, admin, data, _settings(request))
    except AppError as exc:
        if exc.status >= 500:
            raise
        await undo(session, admin)
        return _new_need_page(request, echo, {"form": problem_message(exc)})
    return redirect(f"/console/needs/{need.id}?notice=posted")


async def _need_page(
    request: Request,
    session: AsyncSession,
    user: User,
    need_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    view = await browse.get_view(session, user, need_id)
    shown = present(view, user)
    photos = await photos_service.need_photos(session, user, need_id)
    holder = await pairings.holding(session, need_id)
    delivery = await pairings.delivery_of(session, need_id)
    context = {
        "need": shown,
        "is_admin": user.is_admin,
        "holds": holder is not None and holder.donor_id == user.id,
        "delivery": delivery
        if user.is_admin or (delivery and delivery.donor_id == user.id)
        else None,
        "error": error,
        "photos": photos,
    }
    if user.is_admin:
        context["household"] = await households_service.get_in_scope(
            session, admin_scope(user), view.need.household_id
        )
    return page(request, "needs/detail.html", context, status_code=status_code)


async def need_page_with_error(
    request: Request,
    session: AsyncSession,
    user: User,
    need_id: int,
    error: str | AppError,
    status_code: int,
) -> Response:
    """The need's page with a refusal shown on it."""
    message = problem_message(error) if isinstance(error, AppError) else error
    return await _need_page(request, session, user, need_id, error=message, status_code=status_code)


@router.get("/needs/{need_id:int}")
async def need_page(
    request: Request, session: SessionDep, user: ConsoleUser, need_id: NeedId
) -> Response:
    """One need, as the user may see it, with the steps the user may take."""
    return await _need_page(request, session, user, need_id)


@router.post("/needs/{need_id:int}/edit", dependencies=[Csrf])
async def edit_need(
    request: Request, session: SessionDep, user: ConsoleUser, need_id: NeedId
) -> Response:
    """Save an edit of a published need at the version the form was read at."""
    admin = office(user)
    form = await request.form()
    sent = _need_values(form, EDIT_FIELDS)
    version = counter(form.get("version")) or 0
    try:
        data = NeedUpdate.model_validate(sent)
        await posting.update_need(session, admin, need_id, version, data, _settings(request))
    except ValidationError as exc:
        message = "；".join(field_errors(exc).values())
        return await _need_page(request, session, admin, need_id, error=message, status_code=422)
    except AppError as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        await undo(session, admin)
        return await _need_page(
            request, session, admin, need_id, error=problem_message(exc), status_code=exc.status
        )
    return redirect(f"/console/needs/{need_id}?notice=saved")


def _words(form: Any, name: str) -> str | None:
    raw = str(form.get(name) or "").strip()
    return Words.validate_python(raw) if raw else None


Step = Callable[[AsyncSession, User, int, Any, Settings], Awaitable[object]]


async def _claim(s: AsyncSession, u: User, n: int, f: Any, st: Settings) -> object:
    return await lifecycle.claim(s, u, n, st)


async def _release(s: AsyncSession, u: User, n: int, f: Any, st: Settings) -> object:
    return await lifecycle.release(s, u, n, _words(f, "reason"))


async def _deliver(s: AsyncSession, u: User, n: int, f: Any, st: Settings) -> object:
    return await lifecycle.deliver(s, u, n, _words(f, "note"))


async def _confirm(s: AsyncSession, u: User, n: int, f: Any, st: Settings) -> object:
    return await lifecycle.confirm(s, u, n, _words(f, "thanks"))


def _reason(form: Any) -> str:
    reason = _words(form, "reason")
    if reason is None:
        raise ValidationError.from_exception_data(
            "reason", [{"type": "missing", "loc": ("reason",), "input": None}]
        )
    return reason


async def _dispute(s: AsyncSession, u: User, n: int, f: Any, st: Settings) -> object:
    return await lifecycle.dispute(s, u, n, _reason(f), st)


async def _cancel(s: AsyncSession, u: User, n: int, f: Any, st: Settings) -> object:
    return await lifecycle.cancel(s, u, n, _reason(f))


async def _approve(s: AsyncSession, u: User, n: int, f: Any, st: Settings) -> object:
    return await lifecycle.review(s, u, n, "approve", None)


async def _reject(s: AsyncSession, u: User, n: int, f: Any, st: Settings) -> object:
    return await lifecycle.review(s, u, n, "reject", _reason(f))


STEPS: dict[str, Step] = {
    "claim": _claim,
    "release": _release,
    "deliver": _deliver,
    "confirm": _confirm,
    "dispute": _dispute,
    "cancel": _cancel,
    "approve": _approve,
    "reject": _reject,
}


@router.post("/needs/{need_id:int}/{action}", dependencies=[Csrf])
async def need_step(
    request: Request,
    session: SessionDep,
    user: ConsoleUser,
    limits: RateLimitsDep,
    need_id: NeedId,
    action: str,
) -> Response:
    """Take one step of the need's life; a refused step is shown on the need's page."""
    step = STEPS.get(action)
    if step is None:
        return await _need_page(
            request, session, user, need_id, error="不支持此操作", status_code=404
        )
    form = await request.form()
    try:
        if action == "claim":
            await limits.claim(user.id)
        await step(session, user, need_id, form, _settings(request))
    except ValidationError as exc:
        message = "；".join(field_errors(exc).values())
        return await _need_page(request, session, user, need_id, error=message, status_code=422)
    except AppError as exc:
        if exc.status >= 500 or exc.status in (401, 404):
            raise
        await undo(session, user)
        return await _need_page(
            request, session, user, need_id, error=problem_message(exc), status_code=exc.status
        )
    back = request.query_params.get("back", "")
    target = (
        back
        if back in ("/console/claims", "/console/needs", "/console/review")
        else (f"/console/needs/{need_id}")
    )
    return redirect(f"{target}?notice={action}")
