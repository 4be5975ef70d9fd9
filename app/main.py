"""The FastAPI application."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from app.accounts.deps import account_of
from app.accounts.router import admins_router, auth_router, me_router
from app.accounts.sms import provider_for as sms_provider_for
from app.console.app import create_console
from app.core.crypto import Vault
from app.core.db import Database
from app.core.docs import install_docs
from app.core.errors import install_error_handlers
from app.core.idempotency import IdempotencyMiddleware
from app.core.logging import configure_logging
from app.core.middleware import RequestMiddleware
from app.core.migrations import head_revisions
from app.core.models import metadata as _all_models  # noqa: F401  (registers every model)
from app.core.openapi import API_PREFIX, install_openapi, operation_id
from app.core.ratelimit import RateLimits
from app.core.security import Passwords, Tokens
from app.core.settings import Settings, get_settings
from app.funds.router import router as funds_router
from app.funds.wechatpay import provider_for as wechat_pay_for
from app.health.router import router as health_router
from app.helpers.router import helpers_router
from app.helpers.router import households_router as household_helpers_router
from app.households import service as households_service
from app.households.router import router as households_router
from app.jobs import worker_loop
from app.matchmaking import engine
from app.matchmaking.router import proposals_router, runs_router
from app.needs.router import router as needs_router
from app.notifications.router import inbox_router, webhooks_router
from app.offers.router import router as offers_router
from app.photos.router import help_acts_router as help_act_photos_router
from app.photos.router import needs_router as need_photos_router
from app.photos.router import photos_router, upload_limit
from app.photos.storage import storage_for
from app.programmes.router import pairings_router as programme_pairings_router
from app.programmes.router import programmes_router
from app.regions.router import router as regions_router
from app.stats.router import router as stats_router

DESCRIPTION = """
Aixin (爱心对接) matches the concrete needs of poor households, posted by village administrators,
with donors who claim them or leave offers in a pool, and follows every pairing to its end.

Errors are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) problem details
(`application/problem+json`) with a stable `code`. Sign in at `POST /api/v1/auth/token` and send
`Authorization: Bearer <access_token>`.
"""


ROUTERS: tuple[APIRouter, ...] = (
    auth_router,
    me_router,
    inbox_router,
    admins_router,
    regions_router,
    households_router,
    household_helpers_router,
    help_act_photos_router,
    helpers_router,
    needs_router,
    need_photos_router,
    photos_router,
    offers_router,
    proposals_router,
    runs_router,
    programmes_router,
    programme_pairings_router,
    stats_router,
    webhooks_router,
    funds_router,
)
# What an operation is, as each package's router declared it (the path and the endpoint apart).
_ROUTE_OPTIONS = tuple(
    name
    for name in inspect.signature(APIRouter.add_api_route).parameters
    if name not in ("self", "path", "endpoint", "route_class_override")
)


def install_api(
    app: FastAPI, prefix: str = API_PREFIX, routers: tuple[APIRouter, ...] = ROUTERS
) -> None:
    """Every operation of ``routers`` on the application's own router, under ``prefix``.

    ``include_router`` keeps an included router as a branch that is matched level by level at
    every request, and again to handle it: a request went through the API's twenty routers
    twice (about 0.2-0.5 ms of CPU for a browse, more for the routers at the end). Registered
    here as one flat list, a request is matched once, route by route, as Starlette does.
    The operations, their order and the OpenAPI document are the same.
    """
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):  # every API operation is a FastAPI route
                raise TypeError(f"{route!r} of {router.prefix or '/'} is not an APIRoute")
            options = {name: getattr(route, name) for name in _ROUTE_OPTIONS}
            app.router.add_api_route(prefix + route.path, route.endpoint, **options)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for ``settings`` (the environment's when omitted)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What start-up built (modules, routes, models, schemas: about 280,000 objects) lives as
        # long as the process. Frozen, it is no longer walked by each full collection of the
        # garbage collector, which took 80-200 ms while every request of the process waited.
        gc.collect()
        gc.freeze()
        # The worker (scheduled jobs, webhooks) runs here unless workers run apart.
        task = (
            asyncio.create_task(worker_loop(app.state.database, settings))
            if settings.worker_in_process
            else None
        )
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.database.dispose()
            await app.state.rate_limits.close()
            engine.shutdown()

    app = FastAPI(
        title="Aixin 爱心对接",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = Database(settings)
    app.state.passwords = Passwords(settings)
    app.state.tokens = Tokens(settings)
    app.state.vault = Vault(settings)
    app.state.rate_limits = RateLimits(settings)
    app.state.sms = sms_provider_for(settings)
    app.state.photo_storage = storage_for(settings)
    app.state.wechat_pay = wechat_pay_for(settings)
    # Replays of these POSTs disclose personal data again: each is logged before it is sent.
    app.state.replay_audits = {f"{API_PREFIX}/households": households_service.log_replay}
    app.state.replay_guard = account_of
    app.state.migration_heads = head_revisions()
    install_error_handlers(app)
    # Inside RequestMiddleware (the last added is the outermost): its answers carry the id.
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(RequestMiddleware, larger=[upload_limit(settings)])
    install_api(app, "", (health_router,))
    install_api(app)
    install_openapi(app)
    install_docs(app)
    app.mount("/console", create_console(app.state))
    return app
