"""Webhook secrets at rest: encrypted under the data key, opened only to sign, shown only once.

The tests read or write ``webhook_endpoints`` directly only for what the API cannot show: what is
stored, and a row as a version before the encryption left it.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.crypto import Vault
from app.core.settings import Settings
from app.notifications.delivery import NO_SECRET, deliver_due
from app.notifications.models import WebhookEndpoint
from tests.notifications.conftest import a_need, assert_bodies_clean, people, webhook
from tests.notifications.receiver import Receiver, receiving


async def _stored(engine: AsyncEngine, endpoint_id: int) -> tuple[str | None, bytes | None]:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(WebhookEndpoint.secret, WebhookEndpoint.secret_encrypted).where(
                    WebhookEndpoint.id == endpoint_id
                )
            )
        ).one()
    return row.secret, row.secret_encrypted


async def _set_stored(engine: AsyncEngine, endpoint_id: int, **values: Any) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(**values)
        )


async def _registered(app: FastAPI, client: AsyncClient, receiver: Receiver) -> dict[str, Any]:
    """An endpoint at ``receiver``, which verifies with the secret the creation answered."""
    hook = await webhook(app, client, receiver.url, ["need.claimed"])
    receiver.secret = hook["secret"]
    return hook


async def _claim_and_deliver(app: FastAPI, client: AsyncClient, settings: Settings) -> int:
    who = await people(app, client)
    await client.post(f"/api/v1/needs/{await a_need(client, who)}/claim", headers=who.donor)
    return await deliver_due(app.state.database, settings)


async def _assert_stored_encrypted(
    engine: AsyncEngine, settings: Settings, hook: dict[str, Any]
) -> None:
    plain, sealed = await _stored(engine, hook["id"])
    assert plain is None
    assert sealed is not None
    encoded = hook["secret"].removeprefix("whsec_")
    for form in (hook["secret"].encode(), encoded.encode(), base64.b64decode(encoded)):
        assert form not in sealed
    assert Vault(settings).decrypt(sealed) == hook["secret"]


async def test_a_secret_is_stored_only_encrypted_under_the_data_key(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    hook = await webhook(app, client, "http://127.0.0.1:9/hook", ["need.claimed"])
    await _assert_stored_encrypted(engine, settings, hook)


async def test_a_delivery_signed_with_the_encrypted_secret_verifies(
    app: FastAPI, client: AsyncClient, settings: Settings
) -> None:
    with receiving(Receiver()) as receiver:
        await _registered(app, client, receiver)
        assert await _claim_and_deliver(app, client, settings) == 1
        assert len(receiver.processed) == 1
        assert_bodies_clean(receiver)


async def test_the_secret_is_in_the_creation_answer_only(
    app: FastAPI, client: AsyncClient, settings: Settings
) -> None:
    with receiving(Receiver()) as receiver:
        hook = await _registered(app, client, receiver)
        await _claim_and_deliver(app, client, settings)
    listed = await client.get("/api/v1/webhooks", headers=hook["headers"])
    url = f"/api/v1/webhooks/{hook['id']}/deliveries"
    sent = await client.get(url, headers=hook["headers"])
    assert listed.status_code == sent.status_code == 200
    [item] = listed.json()["items"]
    assert item["id"] == hook["id"]
    assert not {"secret", "secret_encrypted"} & set(item)
    for response in (listed, sent):
        assert "secret" not in response.text
        assert hook["secret"].removeprefix("whsec_") not in response.text


async def test_a_plaintext_secret_of_an_older_version_is_encrypted_and_still_signs(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    with receiving(Receiver()) as receiver:
        hook = await _registered(app, client, receiver)
        await _set_stored(engine, hook["id"], secret=hook["secret"], secret_encrypted=None)
        assert await _claim_and_deliver(app, client, settings) == 1
        assert len(receiver.processed) == 1
        assert_bodies_clean(receiver)
    await _assert_stored_encrypted(engine, settings, hook)


async def test_an_endpoint_left_without_a_secret_is_disabled_and_sent_nothing(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    # As after going below the encryption's migration and up again: the encrypted secret is gone.
    with receiving(Receiver()) as receiver:
        hook = await _registered(app, client, receiver)
        await _set_stored(engine, hook["id"], secret=None, secret_encrypted=None)
        assert await _claim_and_deliver(app, client, settings) == 0
        assert receiver.arrivals == []
    [listed] = (await client.get("/api/v1/webhooks", headers=hook["headers"])).json()["items"]
    assert listed["disabled_at"] is not None
    assert listed["disabled_reason"] == NO_SECRET
