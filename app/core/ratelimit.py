"""Rate limits: failed sign-ins per account and per address, bursts of claims per donor, and
verification codes per mobile number and per address.

Counters live in a storage of the ``limits`` library: this process's memory by default, or Redis
(``AIXIN_RATE_LIMIT_STORAGE_URL=redis://…``) so that every replica counts against the same
budget. Windows are moving windows: a limit of n per w seconds allows n events in any w seconds.
An exhausted limit raises :class:`~app.core.errors.TooManyRequests` (429 with ``Retry-After``).

A storage that cannot be reached fails open: a limiter must never take sign-in or claiming down
with it, so the request goes through and a warning is logged (at most once per pause, during
which the storage is not asked again).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

import structlog
from fastapi import Depends, Request
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.exceptions import RedisError

from app.core.errors import PROBLEM_MEDIA_TYPE, Problem, TooManyRequests, Unauthorized
from app.core.settings import Settings

log = structlog.get_logger("aixin.ratelimit")
T = TypeVar("T")

# After a storage failure the limiter stands aside this long before asking the storage again,
# so that a Redis outage costs one timeout per pause, not one per request.
STORAGE_PAUSE_SECONDS = 5.0
# How long one Redis call may take before the limiter gives up on it (and fails open).
REDIS_TIMEOUT_SECONDS = 0.5

RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": Problem,
        "content": {PROBLEM_MEDIA_TYPE: {}},
        "description": "Too many requests; retry after the seconds in Retry-After",
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before retrying",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    }
}


class ProcessMemoryStorage(MemoryStorage):
    """``limits``' memory storage, with a ``clear`` that its own expiry task survives.

    The library's periodic expiry task lists the keys, then reads each key's events after an
    await; a ``clear`` in between (a right password clears the account's failures) removed the
    events and the task died on a KeyError, logged as "Task exception was never retrieved", its
    clean-up pass abandoned. Here ``clear`` empties the key's events in place, under the key's
    lock, and leaves removing the emptied key to the expiry task.
    """

    async def clear(self, key: str) -> None:
        async with self.locks[key]:
            self.storage.pop(key, None)
            self.expirations.pop(key, None)
            if key in self.events:
                self.events[key] = []


def make_storage(settings: Settings) -> Storage:
    """The counters' storage named by ``rate_limit_storage_url``."""
    url = settings.rate_limit_storage_url.removeprefix("async+")
    if url.startswith("memory://"):
        return ProcessMemoryStorage()
    return RedisStorage(
        f"async+{url}",
        implementation="redispy",
        key_prefix=settings.rate_limit_key_prefix,
        wrap_exceptions=True,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )


def _digest(value: str) -> str:
    # Usernames and addresses are hashed so that the storage holds no personal identifiers.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class RateLimits:
    """The service's limits, counted in one storage shared by every replica that names it."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self.storage = storage or make_storage(settings)
        self._limiter = MovingWindowRateLimiter(self.storage)
        window = settings.sign_in_window_seconds
        self.account_failures = _per(settings.sign_in_failures_per_account, window, "sign-in")
        self.address_failures = _per(settings.sign_in_failures_per_address, window, "sign-in-ip")
        self.claims = _per(settings.claims_per_donor, settings.claim_window_seconds, "claim")
        sms_window = settings.sms_window_seconds
        self.sms_numbers = _per(settings.sms_per_number, sms_window, "sms")
        self.sms_addresses = _per(settings.sms_per_address, sms_window, "sms-ip")
        self._paused_until = 0.0

    @contextlib.asynccontextmanager
    async def sign_in(self, username: str, address: str) -> AsyncIterator[None]:
        """Guard one sign-in attempt: 429 when the account or the address has failed too often.

        The account's slot is taken before the password is checked, so concurrent guesses
        cannot overrun the limit, and given back (the account's failures cleared) when the
        password was right. The address counts failures only, so that many people signing in
        correctly from one network never lock each other out.
        """
        account, source = _digest(username.strip().lower()), _digest(address)
        await self._refuse_when_spent(
            self.address_failures, source, "Too many failed sign-ins from your address"
        )
        if not await self._hit(self.account_failures, account):
            await self._refuse(
                self.account_failures, account, "Too many failed sign-ins for this account"
            )
        try:
            yield
        except Unauthorized:
            await self._hit(self.address_failures, source)
            raise
        await self._call(self._limiter.clear(self.account_failures, account), None)

    async def claim(self, donor_id: int) -> None:
        """Count one claim attempt of ``donor_id``; 429 when the donor claims too fast."""
        if not await self._hit(self.claims, str(donor_id)):
            await self._refuse(self.claims, str(donor_id), "Too many claims in a short time")

    async def sms(self, phone: str, address: str) -> None:
        """Count one verification code sent to ``phone`` for ``address``; 429 past either limit."""
        number, source = _digest(phone), _digest(address)
        await self._refuse_when_spent(
            self.sms_addresses, source, "Too many codes asked for from your address"
        )
        if not await self._hit(self.sms_numbers, number):
            await self._refuse(self.sms_numbers, number, "Too many codes sent to this number")
        await self._hit(self.sms_addresses, source)

    async def close(self) -> None:
        """Close the storage's connections (Redis; memory has none)."""
        if isinstance(self.storage, RedisStorage):
            client = getattr(self.storage.bridge, "storage", None)
            if client is not None:
                await client.aclose()

    async def reset(self) -> None:
        """Forget every counter (tests start from nothing)."""
        await self._call(self.storage.reset(), None)

    async def _refuse_when_spent(self, item: RateLimitItem, key: str, reason: str) -> None:
        if not await self._call(self._limiter.test(item, key), True):
            await self._refuse(item, key, reason)

    async def _hit(self, item: RateLimitItem, key: str) -> bool:
        return await self._call(self._limiter.hit(item, key), True)

    async def _refuse(self, item: RateLimitItem, key: str, reason: str) -> None:
        """Raise 429, with the seconds until the oldest counted event leaves the window."""
        stats = await self._call(self._limiter.get_window_stats(item, key), None)
        wait = stats.reset_time - time.time() if stats else item.get_expiry()
        retry_after = max(1, math.ceil(wait))
        raise TooManyRequests(
            f"{reason}; try again in {retry_after} seconds", retry_after=retry_after
        )

    async def _call(self, call: Awaitable[T], fallback: T) -> T:
        """The storage's answer, or ``fallback`` (fail open) when the storage is unreachable."""
        if time.monotonic() < self._paused_until:
            _close(call)
            return fallback
        try:
            return await call
        except (StorageError, RedisError, OSError) as exc:
            self._paused_until = time.monotonic() + STORAGE_PAUSE_SECONDS
            cause = exc.storage_error if isinstance(exc, StorageError) else exc
            log.warning("rate_limit_storage_unavailable", error=type(cause).__name__)
            return fallback


def _per(amount: int, seconds: int, namespace: str) -> RateLimitItem:
    return RateLimitItemPerSecond(amount, seconds, namespace=namespace)


def _close(call: Awaitable[Any]) -> None:
    # A coroutine that will not be awaited is closed, or Python warns that it was never awaited.
    close: Callable[[], None] | None = getattr(call, "close", None)
    if close is not None:
        close()


def client_address(request: Request) -> str:
    """The caller's address as the server sees it (behind a proxy: per --forwarded-allow-ips)."""
    return request.client.host if request.client else "unknown"


async def get_rate_limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


RateLimitsDep = Annotated[RateLimits, Depends(get_rate_limits)]
