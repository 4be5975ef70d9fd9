"""Stop asking a database that cannot be reached: one connection attempt a second, not one a
request.

When PostgreSQL is down or frozen, every request would otherwise open a connection of its own
and wait out the connect timeout, holding a pool slot meanwhile; and a frozen server, once it
resumes, would first have to work through every abandoned attempt queued in its listen backlog.
Instead, after a connection attempt fails because the database is unreachable, new connections
are refused at once (503) for ``RETRY_SECONDS``; then a single attempt probes, the others still
refused, and the first that succeeds closes the breaker. Connections already in the pool are not
affected, and a statement that times out drops its connection and the pool's idle ones (they
belong to the same unresponsive server).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.errors import database_unreachable

RETRY_SECONDS = 1.0


class DatabaseUnavailable(ConnectionRefusedError):
    """A connection refused without asking the database: it was unreachable moments ago."""


class ConnectionBreaker:
    """Refuses new connections for a while after one could not be made."""

    def __init__(self, connect_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        # None: closed (connect freely); else the moment before which connections are refused.
        self.refuse_until: float | None = None

    def _admit(self) -> None:
        if self.refuse_until is None:
            return
        now = time.monotonic()
        if now < self.refuse_until:
            raise DatabaseUnavailable("The database was unreachable moments ago")
        # This attempt is the probe: the others are refused until it has its answer.
        self.refuse_until = now + self.connect_timeout + RETRY_SECONDS

    def connect(self, dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        """The ``do_connect`` hook: connect unless refusing, and learn from the outcome."""
        self._admit()
        try:
            connection = dialect.connect(*cargs, **cparams)
        except Exception as exc:
            if database_unreachable(exc):
                self.refuse_until = time.monotonic() + RETRY_SECONDS
            raise
        self.refuse_until = None
        return connection

    @staticmethod
    def drop_timed_out(context: ExceptionContext) -> None:
        """The ``handle_error`` hook: a statement that timed out (asyncpg's command timeout)
        leaves its connection in an unknown state, so it counts as a disconnect."""
        if isinstance(context.original_exception, TimeoutError):
            context.is_disconnect = True


def install(engine: AsyncEngine, connect_timeout: float) -> ConnectionBreaker:
    """Put a breaker on ``engine``'s new connections."""
    breaker = ConnectionBreaker(connect_timeout)
    event.listen(engine.sync_engine, "do_connect", breaker.connect)
    event.listen(engine.sync_engine, "handle_error", breaker.drop_timed_out)
    return breaker
