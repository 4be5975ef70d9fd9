"""Webhook endpoints (a platform admin's), their deliveries and the hand retry of a dead letter."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.crypto import Vault
from app.core.db import utcnow
from app.core.errors import Forbidden, NotFound, Unprocessable
from app.core.pagination import page_by_id
from app.core.settings import Settings
from app.core.transitions import compare_and_set
from app.inbox.models import Notification
from app.notifications import signing, ssrf
from app.notifications.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.notifications.schemas import (
    AttemptRead,
    DeliveryPage,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
)
from app.notifications.states import TABLE


def _platform(admin: User) -> None:
    if admin.role != "platform":
        raise Forbidden("Only a platform admin manages webhooks", code="not_allowed")


async def create(
    session: AsyncSession, admin: User, data: WebhookCreate, settings: Settings, vault: Vault
) -> WebhookCreated:
    """Register an endpoint whose URL the SSRF rule allows; its secret is stored encrypted and
    shown this once."""
    _platform(admin)
    try:
        await ssrf.check(data.url, settings)
    except ssrf.Refused as exc:
        raise Unprocessable(f"The webhook URL is refused: {exc}", code="unprocessable") from exc
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        url=data.url,
        events=list(dict.fromkeys(data.events)),
        description=data.description,
        secret_encrypted=vault.encrypt(secret),
        created_by_id=admin.id,
        created_at=utcnow(),
    )
    session.add(endpoint)
    await session.flush()
    return WebhookCreated(**WebhookRead.model_validate(endpoint).model_dump(), secret=secret)


async def list_endpoints(session: AsyncSession, admin: User) -> Sequence[WebhookEndpoint]:
    _platform(admin)
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.deleted_at.is_(None))
        .order_by(WebhookEndpoint.id)
    )
    return rows.all()


async def get_endpoint(session: AsyncSession, admin: User, endpoint_id: int) -> WebhookEndpoint:
    _platform(admin)
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None:
        raise NotFound("No such webhook", code="not_found")
    return endpoint


async def delete(session: AsyncSession, admin: User, endpoint_id: int) -> None:
    """Stop sending to an endpoint; what it was sent stays listed for the record."""
    endpoint = await get_endpoint(session, admin, endpoint_id)
    endpoint.deleted_at = utcnow()
    endpoint.disabled_at = endpoint.disabled_at or endpoint.deleted_at
    endpoint.disabled_reason = endpoint.disabled_reason or "deleted"
    await session.flush()


async def _read(session: AsyncSession, deliveries: Sequence[WebhookDelivery]) -> list[DeliveryRead]:
    ids = [d.id for d in deliveries]
    attempts: dict[int, list[AttemptRead]] = {i: [] for i in ids}
    for attempt in await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(ids))
        .order_by(WebhookAttempt.id)
    ):
        attempts[attempt.delivery_id].append(AttemptRead.model_validate(attempt))
    wanted = [d.notification_id for d in deliveries]
    rows = await session.execute(
        select(Notification.id, Notification.type).where(Notification.id.in_(wanted))
    )
    types = {row.id: row.type for row in rows}
    return [
        DeliveryRead(
            id=d.id, webhook_id=signing.message_id(d.notification_id),
            notification_id=d.notification_id, type=types[d.notification_id],
            status=d.status,
            attempts=attempts[d.id],
            next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
            created_at=d.created_at, finished_at=d.finished_at,
        )
        for d in deliveries
    ]  # fmt: skip


async def deliveries(
    session: AsyncSession, admin: User, endpoint_id: int, *, cursor: str | None, limit: int
) -> DeliveryPage:
    """The endpoint's deliveries, newest first, each with every attempt."""
    await get_endpoint(session, admin, endpoint_id)
    rows, next_cursor = await page_by_id(
        session,
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id),
        WebhookDelivery.id,
        limit=limit,
        cursor=cursor,
    )
    return DeliveryPage(items=await _read(session, rows), next_cursor=next_cursor)


async def retry(
    session: AsyncSession, admin: User, endpoint_id: int, delivery_id: int
) -> DeliveryRead:
    """Send a dead letter once more, now, under the same webhook-id (failing, it is dead again)."""
    await get_endpoint(session, admin, endpoint_id)
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint_id:
        raise NotFound("No such delivery of this webhook", code="not_found")
    now = utcnow()
    await compare_and_set(
        session, delivery, TABLE, "retry", lost="conflict",
        next_attempt_at=now, lease_until=None, finished_at=None,
    )  # fmt: skip
    return (await _read(session, [delivery]))[0]
