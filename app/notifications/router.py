"""Webhooks (a platform admin's) and the signed-in user's inbox."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.accounts.deps import Admin, CurrentUser
from app.core.crypto import VaultDep
from app.core.db import SessionDep
from app.core.openapi import problems
from app.core.pagination import Cursor, Limit
from app.core.settings import Settings
from app.core.types import IdParam
from app.inbox import service as inbox
from app.inbox.schemas import NotificationPage, ReadUpTo
from app.notifications import webhooks
from app.notifications.schemas import (
    DeliveryPage,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookRead,
)

webhooks_router = APIRouter(prefix="/webhooks", tags=["webhooks"])
inbox_router = APIRouter(prefix="/me/notifications", tags=["auth"])


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@webhooks_router.post(
    "",
    response_model=WebhookCreated,
    status_code=status.HTTP_201_CREATED,
    responses=problems(422),
)
async def create_webhook(
    session: SessionDep, admin: Admin, body: WebhookCreate, request: Request, vault: VaultDep
) -> WebhookCreated:
    """Register an endpoint for the app's backend (platform admin); its secret is shown once."""
    return await webhooks.create(session, admin, body, _settings(request), vault)


@webhooks_router.get("", response_model=WebhookList)
async def list_webhooks(session: SessionDep, admin: Admin) -> WebhookList:
    """Every registered endpoint (platform admin)."""
    rows = await webhooks.list_endpoints(session, admin)
    return WebhookList(items=[WebhookRead.model_validate(row) for row in rows])


@webhooks_router.delete(
    "/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(404)
)
async def delete_webhook(session: SessionDep, admin: Admin, webhook_id: IdParam) -> Response:
    """Stop sending to an endpoint (platform admin)."""
    await webhooks.delete(session, admin, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@webhooks_router.get(
    "/{webhook_id}/deliveries", response_model=DeliveryPage, responses=problems(404)
)
async def list_deliveries(
    session: SessionDep,
    admin: Admin,
    webhook_id: IdParam,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> DeliveryPage:
    """The endpoint's deliveries, newest first, each with every attempt (platform admin)."""
    return await webhooks.deliveries(session, admin, webhook_id, cursor=cursor, limit=limit)


@webhooks_router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    response_model=DeliveryRead,
    responses=problems(404, 409),
)
async def retry_delivery(
    session: SessionDep, admin: Admin, webhook_id: IdParam, delivery_id: IdParam
) -> DeliveryRead:
    """Send a dead letter again, under the same webhook-id (platform admin)."""
    return await webhooks.retry(session, admin, webhook_id, delivery_id)


@inbox_router.get("", response_model=NotificationPage)
async def list_notifications(
    session: SessionDep, user: CurrentUser, cursor: Cursor = None, limit: Limit = 50
) -> NotificationPage:
    """The signed-in user's notifications, newest first."""
    return await inbox.page(session, user.id, cursor=cursor, limit=limit)


@inbox_router.post("/read", response_model=NotificationPage)
async def mark_notifications_read(
    session: SessionDep, user: CurrentUser, body: ReadUpTo
) -> NotificationPage:
    """Mark every notification up to ``up_to_id`` read; the first page after it."""
    await inbox.mark_read(session, user.id, body.up_to_id)
    return await inbox.page(session, user.id, cursor=None, limit=50)
