"""The township and county offices: the review queue, matching runs and the dashboard."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError

from app.accounts.models import User
from app.accounts.policy import admin_scope
from app.console import charts
from app.console.auth import redirect
from app.console.households import office, parsed
from app.console.render import page, problem_message
from app.console.session import ConsoleUser, Csrf, undo
from app.core.db import SessionDep
from app.core.errors import AppError, Forbidden, NotFound
from app.core.types import CountyCode, IdParam, Quarter
from app.matchmaking import service as matching
from app.matchmaking.schemas import RunCreate
from app.needs import browse
from app.stats import calibration, periods, rankings, success

router = APIRouter()

RunId = Annotated[IdParam, Path()]


@router.get("/review")
async def review_queue(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """The needs of the scope that wait for review (households' own requests)."""
    admin = office(user)
    filters = browse.BrowseFilters(statuses=("pending_review",))
    views, _ = await browse.browse(session, admin, filters, sort="deadline", limit=100, cursor=None)
    return page(request, "offices/review.html", {"views": views})


async def _runs_page(request: Request, session: Any, admin: User, **context: Any) -> Response:
    runs, _ = await matching.list_runs(session, admin_scope(admin), limit=20, cursor=None)
    values = {"runs": runs, "result": None, "error": None, "scope": admin.scope_code, **context}
    status = 422 if values["error"] else 200
    return page(request, "offices/matching.html", values, status_code=status)


@router.get("/matching")
async def matching_runs(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """The matching runs of the scope, and the form to start one (or a dry run)."""
    return await _runs_page(request, session, office(user))


@router.post("/matching", dependencies=[Csrf])
async def start_run(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """Start a matching run; a dry run shows the pairs it would propose and proposes nothing."""
    admin = office(user)
    form = await request.form()
    try:
        data = RunCreate.model_validate(
            {
                "scope": str(form.get("scope") or "").strip(),
                "dry_run": form.get("dry_run") is not None,
            }
        )
        run, solution = await matching.start_run(session, admin, data, request.app.state.settings)
    except ValidationError:
        return await _runs_page(request, session, admin, error="地区代码应为 2、4、6 或 9 位数字。")
    except AppError as exc:
        if exc.status >= 500 or exc.status == 401:
            raise
        await undo(session, admin)
        return await _runs_page(request, session, admin, error=problem_message(exc))
    if not data.dry_run:
        return redirect(f"/console/matching/{run.id}?notice=run")
    needs = await browse.summaries(session, [pair.need_id for pair in solution.pairs])
    pairs = [(pair, needs[pair.need_id]) for pair in solution.pairs]
    return await _runs_page(request, session, admin, result={"run": run, "pairs": pairs})


@router.get("/matching/{run_id:int}")
async def run_page(
    request: Request, session: SessionDep, user: ConsoleUser, run_id: RunId
) -> Response:
    """One run and the proposals it made, and how each stands now."""
    scope = admin_scope(office(user))
    run = await matching.get_run(session, scope, run_id)
    rows, _ = await matching.run_pairings(session, scope, run_id, limit=100, cursor=None)
    needs = await browse.summaries(session, [pairing.need_id for pairing, _ in rows])
    context = {"run": run, "rows": [(p, name, needs[p.need_id]) for p, name in rows]}
    return page(request, "offices/run.html", context)


def current_quarter() -> str:
    return periods.label(periods.period_start(periods.today(), "quarter"), "quarter")


def county_of(request: Request, admin: User) -> str | None:
    """The county the dashboard ranks: the admin's own, or one a wider admin chose; None for
    township and village admins (they are ranked, they do not rank)."""
    own = admin.scope_code or ""
    if len(own) == 6:
        return own
    if len(own) > 6:
        return None
    chosen, ok = parsed(CountyCode, request.query_params.get("county", ""))
    return chosen if ok and chosen and admin_scope(admin).covers(chosen) else None


@router.get("/dashboard")
async def dashboard(request: Request, session: SessionDep, user: ConsoleUser) -> Response:
    """对接成功率 by township and month, the quarter's ranking, and the calibration plot."""
    admin = office(user)
    quarter, ok = parsed(Quarter, request.query_params.get("quarter", ""))
    quarter = quarter if ok and quarter else current_quarter()
    county = county_of(request, admin)
    area = county or admin.scope_code or None
    report = await success.report(
        session, admin, scope=area, group_by="township", period="month",
        lower=None, upper=None,
    )  # fmt: skip
    ranking = None
    if county is not None:
        try:
            ranking = await rankings.report(session, admin, county, quarter)
        except (Forbidden, NotFound):
            ranking = None  # township and village admins are ranked; they do not rank
    fit = await calibration.report(session, admin, scope=area, lower=None, upper=None)
    context = {
        "report": report,
        "grid": charts.success_grid(report),
        "ranking": ranking,
        "quarter": quarter,
        "county": county,
        "calibration": fit,
        "plot": charts.calibration_plot(fit),
    }
    return page(request, "offices/dashboard.html", context)
