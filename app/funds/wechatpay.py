"""WeChat Pay API v3 (微信支付 APIv3), as a merchant speaks it: Native orders, closing an order,
the trade bill, and the signed, encrypted payment notifications.

Requests to the provider carry ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,
timestamp=…,serial_no=…,signature=…``, the signature being RSA-SHA256 (PKCS#1 v1.5) with the
merchant's private key over ``METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n``. The provider's answers
and notifications carry ``Wechatpay-Timestamp``, ``-Nonce``, ``-Serial`` and ``-Signature``: the
same signature, by the platform's key, over ``timestamp\\nnonce\\nbody\\n``, verified with the
platform's public key. A notification's ``resource`` is encrypted with AEAD_AES_256_GCM under
the merchant's APIv3 key, with the resource's ``nonce`` and ``associated_data``.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.core.errors import ServiceUnavailable
from app.core.settings import Settings

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
# A notification older (or newer) than this is refused: a replay of a captured one is stale.
MAX_SKEW_SECONDS = 300
CST = dt.timezone(dt.timedelta(hours=8))


class Rejected(Exception):
    """A notification that is not the provider's, or not readable: the outcome says which."""

    def __init__(self, outcome: str, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


def sign(private_key: rsa.RSAPrivateKey, message: str) -> str:
    """RSA-SHA256, PKCS#1 v1.5, base64."""
    signature = private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(public_key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        public_key.verify(
            base64.b64decode(signature, validate=True),
            message.encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def encrypt_resource(api_v3_key: bytes, plaintext: bytes, associated_data: str) -> dict[str, str]:
    """A notification resource as the provider writes it (the simulator's half)."""
    nonce = secrets.token_urlsafe(9)[:12]
    ciphertext = AESGCM(api_v3_key).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
        "original_type": "transaction",
    }


def decrypt_resource(api_v3_key: bytes, resource: Mapping[str, Any]) -> bytes:
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise Rejected("undecryptable", f"unknown algorithm {resource.get('algorithm')!r}")
    try:
        return AESGCM(api_v3_key).decrypt(
            str(resource["nonce"]).encode(),
            base64.b64decode(str(resource["ciphertext"]), validate=True),
            str(resource.get("associated_data") or "").encode(),
        )
    except (InvalidTag, KeyError, ValueError) as exc:
        raise Rejected("undecryptable", "the resource does not decrypt") from exc


@dataclass(frozen=True)
class Config:
    """What a merchant needs: from the settings, or made up by a test."""

    base_url: str
    mchid: str
    appid: str
    merchant_serial: str
    merchant_key: rsa.RSAPrivateKey
    platform_serial: str
    platform_key: rsa.RSAPublicKey
    api_v3_key: bytes
    notify_url: str
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Config | None:
        """None when the merchant is not configured (online donations are then refused)."""
        given = (
            settings.wechat_pay_mchid,
            settings.wechat_pay_appid,
            settings.wechat_pay_merchant_serial,
            settings.wechat_pay_merchant_private_key,
            settings.wechat_pay_platform_serial,
            settings.wechat_pay_platform_public_key,
            settings.wechat_pay_api_v3_key,
        )
        if any(value is None for value in given):
            return None
        assert settings.wechat_pay_merchant_private_key is not None
        assert settings.wechat_pay_api_v3_key is not None
        assert settings.wechat_pay_platform_public_key is not None
        private = serialization.load_pem_private_key(
            settings.wechat_pay_merchant_private_key.get_secret_value().encode(), password=None
        )
        public = serialization.load_pem_public_key(settings.wechat_pay_platform_public_key.encode())
        if not isinstance(private, rsa.RSAPrivateKey) or not isinstance(public, rsa.RSAPublicKey):
            raise ValueError("WeChat Pay keys are RSA keys")
        return cls(
            base_url=settings.wechat_pay_base_url.rstrip("/"),
            mchid=str(settings.wechat_pay_mchid),
            appid=str(settings.wechat_pay_appid),
            merchant_serial=str(settings.wechat_pay_merchant_serial),
            merchant_key=private,
            platform_serial=str(settings.wechat_pay_platform_serial),
            platform_key=public,
            api_v3_key=settings.wechat_pay_api_v3_key.get_secret_value().encode(),
            notify_url=settings.wechat_pay_notify_url,
            timeout_seconds=settings.wechat_pay_timeout_seconds,
        )


@dataclass(frozen=True)
class Notification:
    """A verified, decrypted payment notification: the transaction it reports."""

    id: str
    event_type: str
    out_trade_no: str
    transaction_id: str | None
    trade_state: str
    total_fen: int | None
    currency: str | None
    mchid: str | None
    success_time: str | None


@dataclass(frozen=True)
class Settled:
    """One row of the trade bill: a payment the provider settled."""

    out_trade_no: str
    transaction_id: str
    amount_fen: int
    state: str


class WechatPay:
    """The merchant's side of WeChat Pay API v3."""

    channel = "wechat_pay"

    def __init__(self, config: Config) -> None:
        self.config = config

    # -- outgoing requests ---------------------------------------------------------------------

    def authorization(self, method: str, url: str, body: str) -> str:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        signature = sign(
            self.config.merchant_key, f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n"
        )
        return (
            f'{SCHEMA} mchid="{self.config.mchid}",nonce_str="{nonce}",'
            f'timestamp="{timestamp}",serial_no="{self.config.merchant_serial}",'
            f'signature="{signature}"'
        )

    async def _call(
        self, method: str, url: str, payload: dict[str, Any] | None = None
    ) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")) if payload else ""
        headers = {
            "Authorization": self.authorization(method, url, body),
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        try:
            async with httpx.AsyncClient(timeout=self.config.timeout_seconds) as http:
                response = await http.request(method, url, content=body or None, headers=headers)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                "The payment provider cannot be reached; try again shortly",
                code="payment_provider_unavailable",
            ) from exc
        if response.status_code >= 300 or not self._signed(response):
            raise ServiceUnavailable(
                f"The payment provider refused the request ({response.status_code})",
                code="payment_provider_unavailable",
            )
        return response

    def _signed(self, response: httpx.Response) -> bool:
        """Whether an answer carries the platform's signature (a 204 has an empty body)."""
        try:
            self.check_signature(response.headers, response.content, now=time.time())
        except Rejected:
            return False
        return True

    async def create_native_order(
        self, out_trade_no: str, description: str, amount_fen: int, expires_at: dt.datetime
    ) -> str:
        """A Native order (POST /v3/pay/transactions/native); its ``code_url`` for a QR code."""
        payload = {
            "appid": self.config.appid,
            "mchid": self.config.mchid,
            "description": description,
            "out_trade_no": out_trade_no,
            "time_expire": expires_at.astimezone(CST).isoformat(timespec="seconds"),
            "notify_url": self.config.notify_url,
            "amount": {"total": amount_fen, "currency": "CNY"},
        }
        url = f"{self.config.base_url}/v3/pay/transactions/native"
        answer = (await self._call("POST", url, payload)).json()
        return str(answer["code_url"])

    async def close_order(self, out_trade_no: str) -> None:
        """Close an unpaid order (POST /v3/pay/transactions/out-trade-no/{no}/close)."""
        url = f"{self.config.base_url}/v3/pay/transactions/out-trade-no/{out_trade_no}/close"
        await self._call("POST", url, {"mchid": self.config.mchid})

    async def trade_bill(self, day: dt.date) -> list[Settled]:
        """The day's successful payments, from the trade bill (GET /v3/bill/tradebill)."""
        query = f"bill_date={day.isoformat()}&bill_type=SUCCESS"
        url = f"{self.config.base_url}/v3/bill/tradebill?{query}"
        answer = (await self._call("GET", url)).json()
        bill = await self._call("GET", str(answer["download_url"]))
        return parse_trade_bill(bill.text)

    # -- incoming notifications ----------------------------------------------------------------

    def check_signature(self, headers: Mapping[str, str], body: bytes, *, now: float) -> None:
        """Refuse a message the platform did not sign, or signed too long ago."""
        timestamp = headers.get("wechatpay-timestamp", "")
        nonce = headers.get("wechatpay-nonce", "")
        serial = headers.get("wechatpay-serial", "")
        signature = headers.get("wechatpay-signature", "")
        if serial != self.config.platform_serial:
            raise Rejected("forged", "signed with an unknown platform certificate")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise Rejected("forged", "no valid Wechatpay-Timestamp")
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise Rejected("forged", "the body is not UTF-8") from None
        if not verify(self.config.platform_key, f"{timestamp}\n{nonce}\n{text}\n", signature):
            raise Rejected("forged", "the signature does not verify")
        if abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
            raise Rejected("stale", "the timestamp is more than five minutes away")

    def read_notification(
        self, headers: Mapping[str, str], body: bytes, *, now: float
    ) -> Notification:
        """Verify a payment notification and decrypt the transaction it carries."""
        self.check_signature(headers, body, now=now)
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
            notification_id = str(envelope["id"])
            event_type = str(envelope["event_type"])
        except (ValueError, KeyError, TypeError) as exc:
            raise Rejected("undecryptable", "not a notification") from exc
        if not isinstance(resource, dict):
            raise Rejected("undecryptable", "no resource")
        try:
            trade = json.loads(decrypt_resource(self.config.api_v3_key, resource))
            amount = trade.get("amount") or {}
            total = amount.get("total")
            return Notification(
                id=notification_id,
                event_type=event_type,
                out_trade_no=str(trade["out_trade_no"]),
                transaction_id=str(trade["transaction_id"])
                if trade.get("transaction_id")
                else None,
                trade_state=str(trade["trade_state"]),
                total_fen=total if isinstance(total, int) and not isinstance(total, bool) else None,
                currency=amount.get("currency"),
                mchid=trade.get("mchid"),
                success_time=trade.get("success_time"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise Rejected("undecryptable", "the transaction cannot be read") from exc


# The trade bill's columns this reads (the bill names them in Chinese, each value after a `).
_BILL_COLUMNS = {"微信订单号": "transaction_id", "商户订单号": "out_trade_no",
                 "交易状态": "state", "应结订单金额": "amount"}  # fmt: skip


def parse_trade_bill(text: str) -> list[Settled]:
    """The payments of a trade bill (CSV, a header row, each value prefixed by a backquote,
    amounts in yuan, a summary after the payments)."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        return []
    header = [name.strip() for name in rows[0]]
    where = {field: header.index(name) for name, field in _BILL_COLUMNS.items() if name in header}
    if len(where) != len(_BILL_COLUMNS):
        raise ValueError("the trade bill lacks a column")
    settled = []
    for row in rows[1:]:
        if len(row) < len(header) or not row[0].startswith("`"):
            break  # the summary begins
        value = {field: row[i].strip().lstrip("`") for field, i in where.items()}
        yuan, _, cents = value["amount"].partition(".")
        settled.append(
            Settled(
                out_trade_no=value["out_trade_no"],
                transaction_id=value["transaction_id"],
                amount_fen=int(yuan) * 100 + int((cents + "00")[:2]),
                state=value["state"],
            )
        )
    return settled


def provider_for(settings: Settings) -> WechatPay | None:
    config = Config.from_settings(settings)
    return WechatPay(config) if config is not None else None
