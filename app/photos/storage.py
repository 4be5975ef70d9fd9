"""Where photos' bytes are kept, behind one interface: put, get and delete by key.

:class:`LocalStorage` keeps them as files under ``<data_dir>/photos`` (the default, so that one
machine with python3 serves everything); :class:`S3Storage` in a bucket of an S3-compatible
server (``AIXIN_PHOTO_STORAGE=s3``). boto3 blocks, so its calls run in a worker thread.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import anyio.to_thread
from fastapi import Depends, Request

from app.core.errors import ServiceUnavailable
from app.core.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

_KEY = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")


class Missing(LookupError):
    """No object is stored under the key."""


class PhotoStorage(Protocol):
    """Bytes by key. ``get`` raises :class:`Missing` for an unknown key; ``delete`` of one is
    no error."""

    async def put(self, key: str, data: bytes, media_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


def _checked(key: str) -> str:
    if not _KEY.fullmatch(key) or ".." in key:
        raise ValueError(f"not a storage key: {key!r}")
    return key


class LocalStorage:
    """Files in one directory, each written whole (to a temporary file, then renamed)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    def _write(self, key: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, self._path(key))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise Missing(key) from None

    async def put(self, key: str, data: bytes, media_type: str) -> None:
        await anyio.to_thread.run_sync(self._write, key, data)

    async def get(self, key: str) -> bytes:
        return await anyio.to_thread.run_sync(self._read, key)

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(lambda: self._path(key).unlink(missing_ok=True))


class S3Storage:
    """Objects in one bucket of an S3-compatible server."""

    def __init__(self, settings: Settings) -> None:
        import boto3
        from botocore.config import Config

        secret = settings.s3_secret_access_key
        key_id = settings.s3_access_key_id
        self.bucket = settings.s3_bucket
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=key_id.get_secret_value() if key_id else None,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(
                connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
            ),
        )

    async def _call(self, work: Callable[[], Any]) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await anyio.to_thread.run_sync(work)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise Missing(str(exc)) from None
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    async def put(self, key: str, data: bytes, media_type: str) -> None:
        await self._call(
            lambda: self.client.put_object(
                Bucket=self.bucket, Key=_checked(key), Body=data, ContentType=media_type
            )
        )

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            body = self.client.get_object(Bucket=self.bucket, Key=_checked(key))["Body"]
            with body:
                data: bytes = body.read()
            return data

        data: bytes = await self._call(read)
        return data

    async def delete(self, key: str) -> None:
        await self._call(lambda: self.client.delete_object(Bucket=self.bucket, Key=_checked(key)))


def _unavailable(exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"The photo storage cannot be reached ({type(exc).__name__}); try again shortly",
        code="photo_storage_unavailable",
    )


def storage_for(settings: Settings) -> PhotoStorage:
    """The storage the settings name."""
    if settings.photo_storage == "s3":
        return S3Storage(settings)
    return LocalStorage(settings.data_dir / "photos")


def get_storage(request: Request) -> PhotoStorage:
    storage: PhotoStorage = request.app.state.photo_storage
    return storage


StorageDep = Annotated[PhotoStorage, Depends(get_storage)]
