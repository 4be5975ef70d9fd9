"""Each photo test runs on both storages: the local filesystem and an S3-compatible server.

The S3-compatible server is moto's, in server mode on a free loopback port: boto3 speaks HTTP
to it exactly as it would to a real one.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import boto3
import pytest
from fastapi import FastAPI
from moto.server import ThreadedMotoServer
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings
from app.main import create_app

BUCKET = "aixin-photos-test"
STORAGES = ("local", "s3")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible server on loopback with the test bucket; its URL."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    s3 = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test-key",
        aws_secret_access_key="test-secret",
    )
    s3.create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


@pytest.fixture(scope="session", params=STORAGES)
async def app(
    request: pytest.FixtureRequest, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[FastAPI]:
    """The app over the test database, keeping photos in the storage of the parameter."""
    overrides: dict[str, object] = {"photo_storage": request.param}
    if request.param == "s3":
        overrides |= {
            "s3_endpoint_url": request.getfixturevalue("s3_endpoint"),
            "s3_bucket": BUCKET,
            "s3_access_key_id": SecretStr("test-key"),
            "s3_secret_access_key": SecretStr("test-secret"),
        }
    application = create_app(settings.model_copy(update=overrides))
    yield application
    await application.state.database.dispose()
