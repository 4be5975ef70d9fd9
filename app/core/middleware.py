"""What every HTTP request passes through first, in one layer.

For the time it is served, a request holds the caller's language (the problems it may get are
written in it), an id (the caller's ``X-Request-ID`` when sane, else a new one: bound to every log
line, echoed in the response and in every problem body), a limit on its body (413 over it,
by ``Content-Length`` or while it streams), and it is logged in one access line when it ends.

These were three middlewares (idempotency, inside this one, stays a layer of its own); each layer
costs every request a call of its own and, for each message of the response, another call
through its ``send``. As one layer they cost a request about half as much (measured on
``/healthz`` in process).
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import problems
from app.core.limits import MAX_BODY_BYTES, BodyTooLarge, too_large
from app.core.logging import (
    REQUEST_ID_HEADER,
    access_log,
    hold_request_id,
    release_request_id,
)

_ID_HEADER = REQUEST_ID_HEADER.lower().encode("latin-1")


class RequestMiddleware:
    """The caller's language, the request id, the body-size limit and the access line.

    ``larger`` names paths (by pattern) that take bodies up to another limit than ``max_bytes``,
    such as uploads.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_BODY_BYTES,
        larger: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = tuple(larger)

    def _limit(self, path: str) -> int:
        return next((size for pattern, size in self.larger if pattern.match(path)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered: bytes | None = None
        language: bytes | None = None
        declared: bytes | None = None
        for key, value in scope["headers"]:  # the first of each, as Starlette's Headers reads
            if key == _ID_HEADER:
                offered = value if offered is None else offered
            elif key == b"accept-language":
                language = value if language is None else language
            elif key == b"content-length":
                declared = value if declared is None else declared
        language_token = problems.hold_language(
            language.decode("latin-1") if language is not None else None
        )
        request_id, id_token = hold_request_id(offered.decode("latin-1") if offered else "")
        id_value = request_id.encode("latin-1")
        started = time.perf_counter()
        status = 500
        response_started = False
        limit = self._limit(scope["path"])
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = [item for item in message.get("headers", ()) if item[0] != _ID_HEADER]
                headers.append((_ID_HEADER, id_value))
                message["headers"] = headers
            await send(message)

        try:
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await too_large(limit)(scope, receive, send_with_id)
            else:
                await self.app(scope, counting_receive, send_with_id)
        except BodyTooLarge:
            if response_started:
                raise
            await too_large(limit)(scope, receive, send_with_id)
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
            access_log.request(
                scope["method"],
                scope["path"],
                status,
                round((time.perf_counter() - started) * 1000, 2),
            )
            release_request_id(id_token)
            problems.release_language(language_token)


def _server_error_handler(scope: Scope) -> Callable[[Request, Exception], Any] | None:
    """The handler the app registered for unexpected errors (500 or Exception), if any."""
    handlers: dict[Any, Any] = getattr(scope.get("app"), "exception_handlers", {})
    return handlers.get(Exception) or handlers.get(500)
