"""Delivering the outbox: due deliveries taken by one worker of many, sent, and recorded.

A worker takes a batch of due deliveries in one short transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several workers take different rows; SQLite has one writer) and moves each to
sending under a lease. It sends them outside any transaction, then records each answer by a
compare-and-set guarded by the attempt number: a worker whose lease passed, and whose delivery
another worker took again, records nothing. Delivery is therefore at least once, every attempt
under the same webhook-id, and the receiver deduplicates by it.

Backoff: after attempt n fails the next waits ``30 s × 3^(n-1)`` (at most 8 h), ± 20 % jitter;
the 10th failure (about 25 hours after the first) makes the delivery a dead letter. A 410 Gone
disables the endpoint and ends the delivery at once.

An endpoint's secret is stored encrypted under the data key and opened only to sign an attempt.
Each round first encrypts any plaintext secret an older version left (:func:`seal_secrets`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import random
import time
from dataclasses import dataclass

import httpx
import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import Vault
from app.core.db import Database, utcnow
from app.core.errors import Conflict
from app.core.settings import Settings
from app.core.transitions import compare_and_set
from app.inbox.models import Notification
from app.notifications import signing, ssrf
from app.notifications.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.notifications.states import TABLE

log = structlog.get_logger("aixin.webhooks")

MAX_ATTEMPTS = 10
FIRST_DELAY = 30.0
GROWTH = 3.0
LONGEST_DELAY = 8 * 3600.0
JITTER = 0.2
BATCH = 50
# Going below the migration that encrypts the secrets cannot keep an encrypted one (migrations do
# not hold the data key); an endpoint left without any secret can sign nothing.
NO_SECRET = "its secret was lost in a database downgrade: register the endpoint again"


def backoff(attempt: int, rng: random.Random | None = None) -> dt.timedelta:
    """The wait after failed attempt number ``attempt`` (1, 2, …), with jitter."""
    base = min(FIRST_DELAY * GROWTH ** (attempt - 1), LONGEST_DELAY)
    spread = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return dt.timedelta(seconds=base * spread)


@dataclass(frozen=True, slots=True)
class Job:
    delivery: WebhookDelivery
    url: str
    secret_encrypted: bytes
    msg_id: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int


def body_of(notification: Notification) -> bytes:
    """The JSON a receiver gets: ``{"type", "timestamp", "data"}``."""
    return json.dumps(
        {
            "type": notification.type,
            "timestamp": notification.created_at.isoformat().replace("+00:00", "Z"),
            "data": notification.data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def _due(now: dt.datetime):  # type: ignore[no-untyped-def]
    return or_(
        and_(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now),
        and_(WebhookDelivery.status == "sending", WebhookDelivery.lease_until < now),
    )


async def seal_secrets(session: AsyncSession, vault: Vault, now: dt.datetime) -> int:
    """Encrypt each plaintext secret left by an older version and empty its column; disable an
    endpoint left with no secret at all. How many secrets were encrypted."""
    plain = (
        await session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.secret).where(
                WebhookEndpoint.secret.is_not(None)
            )
        )
    ).all()
    for endpoint_id, secret in plain:
        assert secret is not None  # as selected
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.secret == secret)
            .values(secret_encrypted=vault.encrypt(secret), secret=None)
        )
    await session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.secret.is_(None),
            WebhookEndpoint.secret_encrypted.is_(None),
            WebhookEndpoint.disabled_at.is_(None),
        )
        .values(disabled_at=now, disabled_reason=NO_SECRET)
    )
    return len(plain)


async def take(
    session: AsyncSession, now: dt.datetime, lease: dt.timedelta, limit: int
) -> list[Job]:
    """Take up to ``limit`` due deliveries of live endpoints: each moved to sending."""
    rows = (
        await session.execute(
            select(
                WebhookDelivery,
                WebhookEndpoint.url,
                WebhookEndpoint.secret_encrypted,
                Notification,
            )
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .join(Notification, Notification.id == WebhookDelivery.notification_id)
            .where(
                _due(now),
                WebhookEndpoint.disabled_at.is_(None),
                WebhookEndpoint.secret_encrypted.is_not(None),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        )
    ).all()
    jobs = []
    for delivery, url, secret_encrypted, notification in rows:
        assert secret_encrypted is not None  # as selected
        await compare_and_set(
            session, delivery, TABLE, "send", lost="conflict",
            guard={"attempts": delivery.attempts},
            attempts=delivery.attempts + 1, lease_until=now + lease,
        )  # fmt: skip
        msg_id = signing.message_id(notification.id)
        jobs.append(Job(delivery, url, secret_encrypted, msg_id, body_of(notification)))
    return jobs


async def send(client: httpx.AsyncClient, job: Job, settings: Settings, vault: Vault) -> Outcome:
    """One attempt: the SSRF rule again (the name may resolve elsewhere now), then the POST to
    an address the rule passed, each in turn until one takes the connection."""
    started = time.perf_counter()
    try:
        secret = vault.decrypt(job.secret_encrypted)
    except ValueError as exc:  # the data key changed: the attempt fails, the batch goes on
        return Outcome(None, str(exc), 0)
    try:
        addresses = await ssrf.check(job.url, settings)
        # The header's timestamp is the wall clock's: receivers compare it with their own.
        headers = signing.headers(secret, job.msg_id, int(time.time()), job.body)
        response = await _post(client, [ssrf.pinned(job.url, a) for a in addresses], headers, job)
        outcome = Outcome(response.status_code, None, 0)
    except ssrf.Refused as exc:
        outcome = Outcome(None, f"refused: {exc}", 0)
    except httpx.HTTPError as exc:
        outcome = Outcome(None, f"{type(exc).__name__}: {exc}"[:500], 0)
    return Outcome(outcome.status_code, outcome.error, int((time.perf_counter() - started) * 1000))


async def _post(
    client: httpx.AsyncClient, targets: list[ssrf.Pinned], headers: dict[str, str], job: Job
) -> httpx.Response:
    for target in targets[:-1]:
        with contextlib.suppress(httpx.ConnectError):
            return await _post_to(client, target, headers, job)
    return await _post_to(client, targets[-1], headers, job)


async def _post_to(
    client: httpx.AsyncClient, target: ssrf.Pinned, headers: dict[str, str], job: Job
) -> httpx.Response:
    return await client.post(
        target.url,
        content=job.body,
        headers={**headers, "host": target.host},
        extensions={"sni_hostname": target.sni_hostname},
    )


async def record(
    session: AsyncSession, job: Job, outcome: Outcome, now: dt.datetime, rng: random.Random | None
) -> str:
    """Record one attempt and move its delivery; the action taken (or ``lost``)."""
    delivery, number = job.delivery, job.delivery.attempts
    code = outcome.status_code
    if code is not None and 200 <= code < 300:
        action, values = "succeed", {"finished_at": now}
    elif code == 410 or number >= MAX_ATTEMPTS:
        action, values = "give_up", {"finished_at": now}
    else:
        action, values = "fail", {"next_attempt_at": now + backoff(number, rng)}
    try:
        async with session.begin_nested():
            await compare_and_set(
                session, delivery, TABLE, action, lost="conflict",
                guard={"attempts": number},
                lease_until=None, last_status_code=code, last_error=outcome.error, **values,
            )  # fmt: skip
    except Conflict:
        return "lost"  # another worker took it again after this one's lease passed
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id, number=number, at=now, status_code=code,
            error=outcome.error, duration_ms=outcome.duration_ms,
        )
    )  # fmt: skip
    if code == 410:
        await session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.id == delivery.endpoint_id, WebhookEndpoint.disabled_at.is_(None)
            )
            .values(disabled_at=now, disabled_reason="the receiver answered 410 Gone")
        )
    return action


async def deliver_due(
    database: Database,
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    limit: int = BATCH,
    client: httpx.AsyncClient | None = None,
    rng: random.Random | None = None,
) -> int:
    """Send one batch of due deliveries; how many were attempted."""
    moment = now or utcnow()
    lease = dt.timedelta(seconds=settings.webhook_timeout_seconds * 3)
    vault = Vault(settings)
    async with database.write_sessionmaker.begin() as session:
        await seal_secrets(session, vault, moment)
        jobs = await take(session, moment, lease, limit)
    if not jobs:
        return 0
    own = client is None
    http = client or httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds, follow_redirects=False
    )
    try:
        outcomes = await asyncio.gather(*(send(http, job, settings, vault) for job in jobs))
    finally:
        if own:
            await http.aclose()
    done = now or utcnow()
    async with database.write_sessionmaker.begin() as session:
        for job, outcome in zip(jobs, outcomes, strict=True):
            action = await record(session, job, outcome, done, rng)
            if action == "give_up":
                log.warning("webhook_dead_letter", delivery_id=job.delivery.id, msg_id=job.msg_id)
    return len(jobs)
