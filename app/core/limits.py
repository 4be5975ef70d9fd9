"""Request-size limit: a body over the limit is refused with 413 before anything reads it (the
limit is enforced by :class:`app.core.middleware.RequestMiddleware`)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.core.errors import problem_response

MAX_BODY_BYTES = 1024 * 1024


class BodyTooLarge(HTTPException):
    """The body grew past the limit while it was being received (rendered as 413)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is larger than {max_bytes} bytes")


def too_large(limit: int) -> Response:
    """The 413 problem of a body over ``limit`` bytes."""
    return problem_response(
        413,
        "payload_too_large",
        f"The request body is larger than {limit} bytes",
        title="Payload too large",
    )
