"""Personal data at rest: authenticated encryption, and a keyed hash for look-ups."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Depends, Request

from app.core.settings import Settings


def _fernet_key(secret: str) -> bytes:
    # Any long secret string becomes a valid Fernet key (32 bytes, url-safe base64).
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())


class Vault:
    """Encrypts and decrypts personal fields (Fernet: AES-128-CBC with HMAC-SHA256)."""

    def __init__(self, settings: Settings) -> None:
        self._fernet = Fernet(_fernet_key(settings.secret("data_key")))
        self._index_key = settings.secret("index_key").encode()

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise ValueError("personal data cannot be decrypted with the configured key") from exc

    def blind_index(self, value: str) -> str:
        """A keyed hash of ``value``: equal inputs match, and nothing can be read back."""
        return hmac.new(self._index_key, value.encode(), hashlib.sha256).hexdigest()


def get_vault(request: Request) -> Vault:
    """The application's vault: the keys of the personal data."""
    vault: Vault = request.app.state.vault
    return vault


VaultDep = Annotated[Vault, Depends(get_vault)]
