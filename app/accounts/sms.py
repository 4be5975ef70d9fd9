"""Text messages to mobile numbers: one interface, and the providers behind it.

``AIXIN_SMS_PROVIDER`` picks the provider:

- ``development`` (the default outside production) writes each code to the log and keeps the
  last ones in memory; nothing is sent, so it must never serve real users;
- ``none`` (the default in production) sends nothing: asking for a code answers 503;
- ``package.module:factory``, a real provider (a carrier's or a cloud's SMS API): ``factory`` is
  called with the settings and returns an :class:`SmsProvider`.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections import deque
from typing import Protocol, runtime_checkable

import structlog

from app.core.errors import ServiceUnavailable
from app.core.settings import Settings

log = structlog.get_logger("aixin.sms")


@runtime_checkable
class SmsProvider(Protocol):
    """Sends one verification code to one mainland mobile number."""

    async def send_code(self, phone: str, code: str, *, valid_for: dt.timedelta) -> None:
        """Deliver ``code``; raise :class:`SmsUnavailable` when it cannot be sent."""
        ...


class SmsUnavailable(ServiceUnavailable):
    code = "sms_unavailable"


class DevelopmentSmsProvider:
    """Writes each code to the log and keeps the last ones in ``outbox``; sends nothing."""

    def __init__(self, keep: int = 100) -> None:
        self.outbox: deque[tuple[str, str]] = deque(maxlen=keep)

    async def send_code(self, phone: str, code: str, *, valid_for: dt.timedelta) -> None:
        self.outbox.append((phone, code))
        minutes = int(valid_for.total_seconds() // 60)
        log.warning("sms_not_sent_development_provider", phone=phone, code=code, minutes=minutes)

    def last_code(self, phone: str) -> str | None:
        """The newest code written for ``phone``, if any."""
        return next((code for to, code in reversed(self.outbox) if to == phone), None)


class NoSmsProvider:
    """No provider is configured: every code is refused with 503."""

    async def send_code(self, phone: str, code: str, *, valid_for: dt.timedelta) -> None:
        raise SmsUnavailable("Text messages are not configured on this server")


def provider_for(settings: Settings) -> SmsProvider:
    """The provider ``settings.sms_provider`` names (see the module's docstring)."""
    name = settings.sms_provider or ("none" if settings.env == "production" else "development")
    if name == "development":
        return DevelopmentSmsProvider()
    if name == "none":
        return NoSmsProvider()
    module, _, attribute = name.partition(":")
    provider = getattr(importlib.import_module(module), attribute)(settings)
    if not isinstance(provider, SmsProvider):
        raise TypeError(f"{name} did not return an SmsProvider")
    return provider
