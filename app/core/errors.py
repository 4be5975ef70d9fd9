"""Domain errors and their one renderer: RFC 9457 problem details with a stable ``code``.

Services raise the exceptions below; they never build HTTP responses. The handlers installed by
:func:`install_error_handlers` turn every failure, validation errors and unknown routes included,
into ``application/problem+json``. A database that cannot be reached gives 503 with
``Retry-After``; anything unexpected is logged with its traceback and answered with a bare 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match

from app.core import problems
from app.core.logging import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger("aixin.errors")


class AppError(Exception):
    """Base of every error a service raises on purpose."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"
    # True for the rare failure whose writes must stay, such as revoking a stolen token family.
    keeps_writes: bool = False

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})
        self.extra = extra


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Not authenticated"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail, code=code, headers={"WWW-Authenticate": "Bearer"}, **extra)


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Not permitted"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class InvalidTransition(Conflict):
    code, title = "invalid_transition", "Transition not allowed"

    def __init__(self, detail: str, *, allowed: Sequence[str], **extra: Any) -> None:
        super().__init__(detail, allowed=list(allowed), **extra)


class PreconditionFailed(AppError):
    status, code, title = 412, "precondition_failed", "Precondition failed"


class PreconditionRequired(AppError):
    status, code, title = 428, "precondition_required", "Precondition required"


class Unprocessable(AppError):
    status, code, title = 422, "unprocessable", "Unprocessable request"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(AppError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class TooManyRequests(AppError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code=code, headers={"Retry-After": str(retry_after)})


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "Service unavailable"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail, code=code, headers={"Retry-After": "5"}, **extra)


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is rendered."""

    type: str = Field(default="about:blank", description="A URI naming the problem type")
    title: str = Field(description="A short summary of the problem type")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong, for a person")
    code: str = Field(description="A stable machine-readable error code")
    request_id: str | None = Field(default=None, description="Quote this when reporting")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Field errors of a request that failed validation"
    )
    allowed: list[str] | None = Field(
        default=None, description="The actions allowed in the current state"
    )
    state: str | None = Field(default=None, description="The record's current state")


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Render one problem-details response, in the language the caller prefers.

    ``detail`` and ``title`` are English; a caller that prefers Chinese (or says nothing) gets
    the catalogue's words for ``code`` instead (:mod:`app.core.problems`).
    """
    language = problems.current_language()
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": problems.title_in(language, status, code, title),
        "status": status,
        "detail": problems.detail_in(language, code, detail, extra),
        "code": code,
        "request_id": current_request_id(),
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    answer_headers = {**(headers or {}), "Content-Language": language}
    response = JSONResponse(
        jsonable_encoder(body),
        status_code=status,
        headers=answer_headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )
    vary = response.headers.get("Vary")
    response.headers["Vary"] = f"{vary}, Accept-Language" if vary else "Accept-Language"
    return response


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}

# Errors that mean "the database cannot be reached right now", not "this request is wrong".
# A driver that cannot open a socket raises OSError unwrapped; a pool that is exhausted raises
# SQLAlchemy's TimeoutError; a connection that drops mid-request is an invalidated DBAPIError.
_UNAVAILABLE = (sa_exc.TimeoutError, sa_exc.DisconnectionError, OSError)
# A server that answers but will not serve says so by SQLSTATE, which asyncpg's errors carry
# through SQLAlchemy as a plain DBAPIError: 08 connection exception, 53 insufficient resources
# ("too many clients"), 57P operator intervention (shutting down, starting up, terminated).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P")


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot serve right now (503), not a bug (500).

    ``exc`` may be SQLAlchemy's error or the driver's own (as a connection attempt raises it).
    """
    if isinstance(exc, sa_exc.DBAPIError):
        return (
            exc.connection_invalidated
            or isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
            or _unavailable_state(exc.orig)
        )
    return isinstance(exc, _UNAVAILABLE) or _unavailable_state(exc)


def _unavailable_state(exc: BaseException | None) -> bool:
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES)


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        exc.status, exc.code, exc.detail, title=exc.title, headers=exc.headers, **exc.extra
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors()
    ]
    if any(error["type"] == "json_invalid" for error in errors):
        return problem_response(
            422,
            "malformed_json",
            "The request body is not valid JSON",
            title="Unprocessable request",
            errors=errors,
        )
    return problem_response(
        422,
        "validation_failed",
        "The request does not match the expected schema",
        title="Unprocessable request",
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    headers = dict(exc.headers or {})
    if status == 404 and detail == "Not Found":
        detail = f"No route for {request.method} {request.url.path}"
    if status == 405:
        headers["Allow"] = _allowed_methods(request)
    return problem_response(status, code, detail, headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method the request's path answers to (the router names only its first route's)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database_unavailable", error=type(exc).__name__, message=str(exc)[:200])
    return problem_response(
        503,
        "database_unavailable",
        "The database cannot be reached; try again shortly",
        headers={"Retry-After": "5"},
    )


# A transaction the database rolled back to break a deadlock or keep serialisability lost a race
# like any other compare-and-set: the caller gets 409 and may retry; nothing was written.
_LOST_RACE_SQLSTATES = ("40001", "40P01")


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, sa_exc.DBAPIError)
    if database_unreachable(exc):
        return await _unavailable(request, exc)
    if getattr(exc.orig, "sqlstate", None) in _LOST_RACE_SQLSTATES:
        log.warning("transaction_lost_race", error=type(exc.orig).__name__)
        return problem_response(
            409,
            "concurrent_update",
            "Someone else changed the same records at the same moment; reload and retry",
            title="Conflict",
            headers={"Retry-After": "1"},
        )
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", error=type(exc).__name__)
    return problem_response(500, "internal_error", "An unexpected error occurred")


def install_error_handlers(app: FastAPI) -> None:
    """Render every error of ``app`` as problem details."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)
    for exc_type in _UNAVAILABLE:
        app.add_exception_handler(exc_type, _unavailable)
    app.add_exception_handler(Exception, _unexpected)
