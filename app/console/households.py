"""Households (受助户) for the offices: list and search, register, read and edit.

Every page goes through :mod:`app.households.service`: the scope filter in SQL (another
village's household is 404), the encrypted fields, and the access log for every disclosure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError

from app.accounts.models import User
from app.accounts.policy import admin_scope
from app.console.auth import redirect
from app.console.forms import counter, values
from app.console.render import field_errors, page, problem_message
from app.console.session import ConsoleUser, Csrf, undo
from app.core.crypto import VaultDep
from app.core.db import SessionDep, writes
from app.core.errors import Conflict, Forbidden, Unprocessable
from app.core.types import Cursor, IdParam, RegionPrefix
from app.households import service
from app.households.models import Household
from app.households.schemas import HouseholdCreate, HouseholdUpdate, IdNumber, SupportCategory

router = APIRouter()

HouseholdId = Annotated[IdParam, Path()]
FIELDS = (
    "village_code", "head_name", "id_number", "phone", "size", "support_category",
    "key_household", "main_helper", "liaison",
)  # fmt: skip
EDITABLE = tuple(f for f in FIELDS if f not in ("village_code", "id_number"))


def office(user: User) -> User:
    """The user, if an admin (403 for a donor)."""
    admin_scope(user)
    return user


def parsed(kind: Any, raw: str | None) -> tuple[Any, bool]:
    """``raw`` through the API's input type ``kind``: (value, True), or (None, False)."""
    if raw is None or raw == "":
        return None, True
    try:
        return TypeAdapter(kind).validate_python(raw), True
    except ValidationError:
        return None, False


@router.get("/households")
@writes  # a search by ID number appends to the access log
async def list_households(
    request: Request, session: SessionDep, vault: VaultDep, user: ConsoleUser
) -> Response:
    """The households of the admin's scope; search by ID number, village or category."""
    admin = office(user)
    query = request.query_params
    id_number, id_ok = parsed(IdNumber, query.get("id_number", "").strip())
    village, village_ok = parsed(RegionPrefix, query.get("village", "").strip())
    category, category_ok = parsed(SupportCategory, query.get("support_category", ""))
    cursor, cursor_ok = parsed(Cursor, query.get("cursor", ""))
    errors = []
    if not id_ok:
        errors.append("身份证号格式不对（18 位，末位可为 X）。")
    if not village_ok:
        errors.append("村代码为 1 到 12 位数字。")
    filters = service.ListFilters(village=village, support_category=category, id_number=id_number)
    rows: Sequence[Household] = []
    next_cursor = None
    if id_ok and village_ok and category_ok and cursor_ok:
        rows, next_cursor = await service.list_households(
            session, vault, admin, filters, limit=50, cursor=cursor
        )
    context = {
        "households": rows,
        "next_cursor": next_cursor,
        "errors": errors,
        "search": {
            "village": query.get("village", ""),
            "support_category": query.get("support_category", ""),
        },
    }
    return page(request, "households/list.html", context)


def _new_form(request: Request, user: User, **context: Any) -> Response:
    defaults = {"village_code": user.scope_code if user.role == "village" else ""}
    values_ = {**defaults, **context.pop("form", {})}
    status = 422 if context.get("errors") else 200
    return page(
        request,
        "households/new.html",
        {"form": values_, "errors": {}, **context},
        status_code=status,
    )


@router.get("/households/new")
async def new_household_form(request: Request, user: ConsoleUser) -> Response:
    """The form to register a household."""
    return _new_form(request, office(user))


@router.post("/households/new", dependencies=[Csrf])
async def register_household(
    request: Request, session: SessionDep, vault: VaultDep, user: ConsoleUser
) -> Response:
    """Register a household, as ``POST /api/v1/households`` does."""
    admin = office(user)
    form = await request.form()
    sent = values(form, FIELDS, integers=["size"], checkboxes=["key_household"])
    echo = {k: v for k, v in sent.items() if k not in ("id_number",)}
    try:
        data = HouseholdCreate.model_validate(sent)
    except ValidationError as exc:
        return _new_form(request, admin, form=echo, errors=field_errors(exc))
    try:
        household = await service.create_household(session, vault, admin, data)
    except (Conflict, Forbidden, Unprocessable) as exc:
        await undo(session, admin)
        return _new_form(request, admin, form=echo, errors={"form": problem_message(exc)})
    return redirect(f"/console/households/{household.id}?notice=registered")


@router.get("/households/{household_id:int}")
@writes  # every read of personal data appends to the access log
async def household_page(
    request: Request,
    session: SessionDep,
    vault: VaultDep,
    user: ConsoleUser,
    household_id: HouseholdId,
) -> Response:
    """One household with its personal data (logged); 404 outside the admin's scope."""
    household = await service.read_household(session, vault, office(user), household_id)
    return page(request, "households/detail.html", {"household": household, "errors": {}})


@router.post("/households/{household_id:int}", dependencies=[Csrf])
async def edit_household(
    request: Request,
    session: SessionDep,
    vault: VaultDep,
    user: ConsoleUser,
    household_id: HouseholdId,
) -> Response:
    """Save an edit at the version the form was read at (a stale form is refused)."""
    admin = office(user)
    form = await request.form()
    sent = values(
        form,
        EDITABLE,
        integers=["size"],
        checkboxes=["key_household"],
        keep_blank=["main_helper", "liaison"],
    )
    version = counter(form.get("version"))
    try:
        data = HouseholdUpdate.model_validate(sent)
    except ValidationError as exc:
        household = await service.read_household(session, vault, admin, household_id)
        context = {"household": household, "errors": field_errors(exc)}
        return page(request, "households/detail.html", context, status_code=422)
    await service.update_household(
        session, vault, admin, household_id, data, expected_version=version
    )
    return redirect(f"/console/households/{household_id}?notice=saved")
