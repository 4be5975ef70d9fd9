"""A receiver of webhooks on loopback: a small ASGI app under uvicorn, in a thread of the test.

It verifies every signature with ``standardwebhooks`` (the specification's reference code),
answers as the test scripts it (500, 200, a stall …), remembers every body and deduplicates
by webhook-id, as the specification asks of a receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks import Webhook

from tests.live import free_port


@dataclass
class Receiver:
    """What arrived, and how to answer."""

    secret: str = ""
    # Answers for the next requests, in order; then ``default``.
    script: list[int] = field(default_factory=list)
    default: int = 200
    # Requests to hold without an answer (the worker that sends them is killed meanwhile).
    stall: int = 0
    arrivals: list[dict[str, Any]] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                pass
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        msg_id = headers.get("webhook-id", "")
        with self.lock:
            try:
                payload = Webhook(self.secret).verify(body, headers)
            except Exception as exc:
                self.unverified.append(f"{msg_id}: {exc}")
                payload = None
            self.arrivals.append({"id": msg_id, "at": time.monotonic(), "headers": headers})
            self.bodies.append(body.decode())
            self.seen[msg_id] += 1
            stall = self.stall > 0
            if stall:
                self.stall -= 1
            status = self.script.pop(0) if self.script and not stall else self.default
            if status == 200 and not stall and payload is not None:
                self.processed.setdefault(msg_id, payload)  # deduplicated by webhook-id
        if stall:
            await asyncio.sleep(3600)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps({"ok": True}).encode()})


@contextlib.contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:
    """Serve ``receiver`` with uvicorn on a free loopback port until the block ends."""
    port = free_port()
    config = uvicorn.Config(
        receiver, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
        timeout_graceful_shutdown=1,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("the receiver did not start")
        time.sleep(0.02)
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        server.should_exit = True
        thread.join(timeout=10)
