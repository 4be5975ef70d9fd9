"""A real uvicorn on loopback, for tests where the network and true concurrency matter."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx

from app.core.settings import Settings

# Starting a server imports the whole app; on a busy two-core machine that alone took 21 s.
STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_environment(settings: Settings) -> dict[str, str]:
    """The environment that makes a server process use ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIXIN_")}
    env.update(
        {
            "AIXIN_ENV": settings.env,
            "AIXIN_DATABASE_URL": settings.database_url,
            "AIXIN_DATA_DIR": str(settings.data_dir),
            "AIXIN_SECRET_KEY": settings.secret("secret_key"),
            "AIXIN_DATA_KEY": settings.secret("data_key"),
            "AIXIN_INDEX_KEY": settings.secret("index_key"),
            "AIXIN_ARGON2_TIME_COST": str(settings.argon2_time_cost),
            "AIXIN_ARGON2_MEMORY_KIB": str(settings.argon2_memory_kib),
            "AIXIN_ARGON2_PARALLELISM": str(settings.argon2_parallelism),
            "AIXIN_LOG_LEVEL": "WARNING",
            "AIXIN_EXPIRY_INTERVAL_SECONDS": "0",
            "AIXIN_WORKER_IN_PROCESS": "false",
        }
    )
    return env


@contextlib.contextmanager
def live_server(
    settings: Settings,
    log_path: Path,
    *,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Serve the app with uvicorn on a free loopback port; yields its base URL.

    ``env`` adds or overrides variables of the server's environment (``AIXIN_*`` settings).
    """
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=server_environment(settings) | dict(env or {}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_healthy(base_url, process, deadline=time.monotonic() + STARTUP_SECONDS)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_healthy(base_url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError("the server did not become healthy in time")
