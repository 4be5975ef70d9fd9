"""``aixin worker`` processes: killed mid-delivery, and two of them sharing 1,000 deliveries."""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings
from app.notifications.delivery import deliver_due
from app.notifications.models import WebhookDelivery
from app.notifications.outbox import Message, emit
from tests.live import server_environment
from tests.notifications.conftest import a_need, assert_bodies_clean, people, webhook
from tests.notifications.receiver import Receiver, receiving

AIXIN = str(Path(sys.executable).parent / "aixin")


@contextlib.contextmanager
def worker(settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``aixin worker`` against the test's database (no scheduled jobs: deliveries only)."""
    env = server_environment(settings) | {"AIXIN_WORKER_POLL_SECONDS": "0.1"}
    with log.open("ab") as output:
        process = subprocess.Popen([AIXIN, "worker"], env=env, stdout=output, stderr=output)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition did not come true in time")
        time.sleep(0.05)


async def test_a_worker_killed_mid_delivery_is_redelivered_under_the_same_id(
    app: FastAPI, client: AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    with receiving(Receiver(stall=1)) as receiver:
        hook = await webhook(app, client, receiver.url, ["need.claimed"])
        receiver.secret = hook["secret"]
        who = await people(app, client)
        need_id = await a_need(client, who)
        await client.post(f"/api/v1/needs/{need_id}/claim", headers=who.donor)
        with worker(settings, tmp_path / "worker.log") as process:
            wait_for(lambda: len(receiver.arrivals) == 1, 30)
            process.kill()  # mid-delivery: the receiver has not answered
            process.wait()
        [first] = receiver.arrivals
        # Once the dead worker's lease has passed, another worker sends it again.
        later = dt.datetime.now(dt.UTC) + dt.timedelta(
            seconds=settings.webhook_timeout_seconds * 3 + 1
        )
        assert await deliver_due(app.state.database, settings, now=later) == 1
        assert [arrival["id"] for arrival in receiver.arrivals] == [first["id"]] * 2
        assert list(receiver.processed) == [first["id"]]  # deduplicated by webhook-id
        url = f"/api/v1/webhooks/{hook['id']}/deliveries"
        [delivery] = (await client.get(url, headers=hook["headers"])).json()["items"]
        assert delivery["status"] == "delivered"
        assert delivery["webhook_id"] == first["id"]
        assert_bodies_clean(receiver)


async def test_two_workers_deliver_1000_events_each_under_its_id(
    app: FastAPI, client: AsyncClient, settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    if settings.is_sqlite:
        pytest.skip("workers share deliveries with FOR UPDATE SKIP LOCKED on PostgreSQL")
    with receiving(Receiver()) as receiver:
        hook = await webhook(app, client, receiver.url, ["need.published"])
        receiver.secret = hook["secret"]
        messages = [
            Message("need.published", None, i, None, {"need_id": i, "title": f"需求{i}"})
            for i in range(1, 1001)
        ]
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: emit(sync, messages))
        async with engine.connect() as connection:
            ids = set(await connection.scalars(select(WebhookDelivery.notification_id)))
        expected = {f"msg_{i}" for i in ids}
        assert len(expected) == 1000
        with worker(settings, tmp_path / "a.log"), worker(settings, tmp_path / "b.log"):
            wait_for(lambda: len(receiver.processed) == 1000, 35)
        assert set(receiver.processed) == expected
        assert set(receiver.seen) == expected  # a duplicate, if any, carries the same id
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
            )
            statuses = dict(rows.all())
        assert statuses == {"delivered": 1000}
        assert_bodies_clean(receiver)
