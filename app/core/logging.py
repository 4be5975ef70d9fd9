"""Structured logging, the request id and the access line.

Every log line is one JSON object (or a readable line in a terminal) carrying the request id of
the request it belongs to. The id comes from the caller's ``X-Request-ID`` when it is sane, or is
generated, and is echoed in the response and in every problem-details body.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import secrets
import sys
from contextvars import ContextVar, Token
from typing import Any

import structlog

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
    """The one line a request is logged with (:meth:`request`).

    In JSON it is written straight to the terminal's handler with the fields every other line
    has (the context's, the level, the logger's name, the UTC time), rendered as they are: the
    processors that build the other lines cost a request more than the rest of its logging
    (a structlog chain ~12 µs; through the standard library's records four times as much).
    In a terminal it goes through structlog's readable renderer as every other line.
    """

    def __init__(self) -> None:
        self.logger: Any = structlog.get_logger(ACCESS_LOGGER)
        self.stream: _HandlerStream | None = None
        self.enabled = True

    def configure(self, stream: _HandlerStream | None, *, enabled: bool) -> None:
        self.logger = structlog.get_logger(ACCESS_LOGGER)
        self.stream, self.enabled = stream, enabled

    def request(self, method: str, path: str, status: int, duration_ms: float) -> None:
        if not self.enabled:
            return
        if self.stream is None:
            self.logger.info(
                "request", method=method, path=path, status=status, duration_ms=duration_ms
            )
            return
        line = structlog.contextvars.get_contextvars()
        line.update(
            event="request",
            method=method,
            path=path,
            status=status,
            duration_ms=duration_ms,
            level="info",
            logger=ACCESS_LOGGER,
            timestamp=dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        )
        self.stream.write(json.dumps(line, ensure_ascii=False, default=repr) + "\n")
        self.stream.flush()


ACCESS_LOGGER = "aixin.access"
access_log = _AccessLog()


def current_request_id() -> str | None:
    """The id of the request being served, if any."""
    return _request_id.get()


def hold_request_id(offered: str) -> tuple[str, Token[str | None]]:
    """The id of the request being served (``offered`` by the caller when it is sane, else a new
    one), bound to every log line until :func:`release_request_id`."""
    request_id = offered if _SANE_ID.match(offered) else secrets.token_hex(16)
    structlog.contextvars.bind_contextvars(request_id=request_id)
    return request_id, _request_id.set(request_id)


def release_request_id(token: Token[str | None]) -> None:
    structlog.contextvars.unbind_contextvars("request_id")
    _request_id.reset(token)


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
    access_log.configure(
        _HandlerStream(handler) if json else None,
        enabled=logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO),
    )
    # uvicorn's own access log would duplicate ours; its error log goes through the root handler.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # Alembic announces its context at INFO on every /readyz probe; keep only its warnings.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
