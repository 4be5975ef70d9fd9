"""Structured logging and the request-id middleware.

Every log line is one JSON object (or a readable line in a terminal) carrying the request id of
the request it belongs to. The id comes from the caller's ``X-Request-ID`` when it is sane, or is
generated, and is echoed in the response and in every problem-details body.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import structlog
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class _HandlerStream:
    """The stream of a logging handler, as a file to write lines to: whatever stream the
    handler has at the moment (it may be swapped), written under the handler's lock."""

    def __init__(self, handler: logging.StreamHandler[Any]) -> None:
        self.handler = handler

    def write(self, text: str) -> None:
        with self.handler.lock or contextlib.nullcontext():
            self.handler.stream.write(text)

    def flush(self) -> None:
        self.handler.flush()


class _AccessLog:
    """The one line a request is logged with, as every other line but written straight to the
    terminal's handler by structlog: through the standard library's logging it cost four times
    as much (two log records, a formatter and its copy of the record: ~25 µs of each request)."""

    def __init__(self) -> None:
        self.logger: Any = structlog.get_logger(ACCESS_LOGGER)

    def info(self, event: str, **fields: Any) -> None:
        self.logger.info(event, **fields)


ACCESS_LOGGER = "aixin.access"
access_log = _AccessLog()


def _named(name: str) -> structlog.types.Processor:
    """A processor naming the logger, as the standard library's loggers are named."""

    def add_name(_logger: Any, _method: str, event: structlog.types.EventDict) -> Any:
        event["logger"] = name
        return event

    return add_name


def current_request_id() -> str | None:
    """The id of the request being served, if any."""
    return _request_id.get()


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Route stdlib and structlog output through one structured renderer."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            # A line below the level is dropped before anything is done to it.
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    if json:
        # The same processors and renderer as every other line (no stdlib record between).
        access_log.logger = structlog.wrap_logger(
            structlog.WriteLogger(_HandlerStream(handler)),  # type: ignore[arg-type]
            processors=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                _named(ACCESS_LOGGER),
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                renderer,
            ],
            wrapper_class=structlog.make_filtering_bound_logger(
                logging.getLogger(ACCESS_LOGGER).getEffectiveLevel()
            ),
        )
    else:
        access_log.logger = structlog.get_logger(ACCESS_LOGGER)
    # uvicorn's own access log would duplicate ours; its error log goes through the root handler.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # Alembic announces its context at INFO on every /readyz probe; keep only its warnings.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)


def _server_error_handler(scope: Scope) -> Callable[[Request, Exception], Any] | None:
    """The handler the app registered for unexpected errors (500 or Exception), if any."""
    handlers: dict[Any, Any] = getattr(scope.get("app"), "exception_handlers", {})
    return handlers.get(Exception) or handlers.get(500)


class RequestIdMiddleware:
    """Give each HTTP request an id, bind it to the logs, echo it, and log one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), ""
        )
        request_id = offered if _SANE_ID.match(offered) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # The app's 500 handler would otherwise run in Starlette's outermost middleware,
            # after this one has unbound the id: the body, the header and the error's log line
            # would all lack it. Render the 500 here instead. The handler has logged the
            # traceback with the id; re-raising would only log it twice more without the id
            # (Starlette's middleware calls the handler again, then the server logs it).
            handler = _server_error_handler(scope)
            if response_started or handler is None:
                raise
            response = handler(Request(scope), exc)
            if inspect.isawaitable(response):
                response = await response
            await response(scope, receive, send_with_id)
        finally:
            access_log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")
            _request_id.reset(token)
