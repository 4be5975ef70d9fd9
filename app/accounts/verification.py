"""Verification codes sent by text message: short-lived, hashed, a few guesses each.

A code is stored only as a keyed hash (the vault's blind-index key), lives ``sms_code_minutes``
and takes ``sms_code_attempts`` guesses; a new code for a number supersedes the earlier ones.
Each guess is counted by a compare-and-set before the code is compared, so concurrent guesses
cannot overrun the limit, and a wrong guess stays counted although its request fails.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import SmsCode
from app.accounts.sms import SmsProvider
from app.core.crypto import Vault
from app.core.db import utcnow
from app.core.errors import Unprocessable
from app.core.settings import Settings

CODE_DIGITS = 6


class CodeRejected(Unprocessable):
    """A wrong, spent or expired code; the guess it cost stays counted."""

    code = "sms_code_invalid"
    keeps_writes = True


def phone_index(vault: Vault, phone: str) -> str:
    """The keyed hash an account's mobile number is found by."""
    return vault.blind_index(f"account-phone:{phone}")


def _code_hash(vault: Vault, phone: str, code: str) -> str:
    return vault.blind_index(f"sms-code:{phone}:{code}")


async def send_code(
    session: AsyncSession, vault: Vault, provider: SmsProvider, settings: Settings, phone: str
) -> None:
    """Send a fresh code to ``phone``; earlier codes of the number stop working."""
    now, index = utcnow(), phone_index(vault, phone)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    valid_for = dt.timedelta(minutes=settings.sms_code_minutes)
    await session.execute(
        update(SmsCode)
        .where(SmsCode.phone_index == index, SmsCode.used_at.is_(None))
        .values(used_at=now)
    )
    session.add(
        SmsCode(
            phone_index=index,
            code_hash=_code_hash(vault, phone, code),
            attempts=0,
            sent_at=now,
            expires_at=now + valid_for,
        )
    )
    await session.flush()
    await provider.send_code(phone, code, valid_for=valid_for)


async def consume_code(
    session: AsyncSession, vault: Vault, settings: Settings, phone: str, code: str
) -> None:
    """Spend the number's current code if ``code`` is it; else :class:`CodeRejected`."""
    now, index = utcnow(), phone_index(vault, phone)
    current = await session.scalar(
        select(SmsCode)
        .where(SmsCode.phone_index == index, SmsCode.used_at.is_(None), SmsCode.expires_at > now)
        .order_by(SmsCode.id.desc())
        .limit(1)
    )
    rejected = CodeRejected("The verification code is wrong or has expired; ask for a new one")
    if current is None:
        raise rejected
    counted = await session.scalar(
        update(SmsCode)
        .where(
            SmsCode.id == current.id,
            SmsCode.used_at.is_(None),
            SmsCode.attempts < settings.sms_code_attempts,
        )
        .values(attempts=SmsCode.attempts + 1)
        .returning(SmsCode.id)
        .execution_options(synchronize_session=False)
    )
    if counted is None or not hmac.compare_digest(
        current.code_hash, _code_hash(vault, phone, code)
    ):
        raise rejected
    spent = await session.scalar(
        update(SmsCode)
        .where(SmsCode.id == current.id, SmsCode.used_at.is_(None))
        .values(used_at=now)
        .returning(SmsCode.id)
        .execution_options(synchronize_session=False)
    )
    if spent is None:  # a concurrent request spent it first
        raise rejected
