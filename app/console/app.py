"""The console: a server-rendered application mounted at ``/console`` beside the API.

It is its own small application so that its failures are pages, not problem documents: a
service's problem is shown as its Chinese message (the request's writes rolled back, as in the
API), a missing or ended session sends the browser to the sign-in page. It shares the API's
state: the database, the vault, the settings, the rate limits.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import MutableHeaders, State
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.console import auth, donors, exports, households, imports, needs, offices, photos
from app.console.render import page, problem_message, problem_title
from app.console.session import end_session
from app.core.errors import AppError

# Everything the pages load comes from this origin; forms post only here; no framing.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every answer of the console."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    if exc.status == 401:
        response = RedirectResponse("/console/login", status_code=303)
        end_session(response, request.app.state.settings)
        return response
    context = {"title": problem_title(exc), "message": problem_message(exc), "status": exc.status}
    return page(request, "error.html", context, status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "页面不存在", 405: "不支持此操作"}
    context = {
        "title": titles.get(exc.status_code, "请求有误"),
        "message": "请从导航重新进入。",
        "status": exc.status_code,
    }
    return page(request, "error.html", context, status_code=exc.status_code)


async def _invalid(request: Request, exc: Exception) -> Response:
    # Only path and query parameters reach this (forms are validated by the pages): a page
    # asked for with an id that is not one does not exist.
    context = {"title": "页面不存在", "message": "请从导航重新进入。", "status": 404}
    return page(request, "error.html", context, status_code=404)


def _stylesheet() -> Response:
    css = resources.files("app.console").joinpath("static/console.css").read_bytes()
    return Response(css, media_type="text/css", headers={"cache-control": "max-age=3600"})


def create_console(state: State) -> FastAPI:
    """The console application, sharing ``state`` (the API's) for its database and keys."""
    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    console.state = state
    console.add_exception_handler(AppError, _problem)
    console.add_exception_handler(StarletteHTTPException, _http_error)
    console.add_exception_handler(RequestValidationError, _invalid)
    console.add_middleware(SecurityHeaders)
    console.add_api_route("/static/console.css", _stylesheet, methods=["GET"])
    for module in (auth, households, imports, photos, needs, donors, offices, exports):
        console.include_router(module.router)
    return console
