"""A WeChat Pay API v3 stand-in on loopback: it takes Native orders (checking the merchant's
signature), closes them, serves the trade bill, and writes signed, encrypted notifications with
keys the test made."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from app.funds.wechatpay import SCHEMA, Config, WechatPay, encrypt_resource, sign, verify
from tests.live import free_port

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class Order:
    out_trade_no: str
    amount_fen: int
    description: str
    transaction_id: str = ""
    state: str = "NOTPAY"


@dataclass
class Simulator:
    merchant_key: rsa.RSAPrivateKey = field(default_factory=new_key)
    platform_key: rsa.RSAPrivateKey = field(default_factory=new_key)
    api_v3_key: bytes = field(default_factory=lambda: secrets.token_hex(16).encode())
    merchant_serial: str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    platform_serial: str = "7132D72A03E93CDDF8C03BBD1F37EEDF6AF4F0E3"
    orders: dict[str, Order] = field(default_factory=dict)
    refused: int = 0
    base_url: str = ""

    def config(
        self, notify_url: str = "http://aixin.test/api/v1/payments/notify/wechat_pay"
    ) -> Config:
        return Config(
            base_url=self.base_url, mchid=MCHID, appid=APPID,
            merchant_serial=self.merchant_serial, merchant_key=self.merchant_key,
            platform_serial=self.platform_serial, platform_key=self.platform_key.public_key(),
            api_v3_key=self.api_v3_key, notify_url=notify_url,
        )  # fmt: skip

    def environment(self, notify_url: str) -> dict[str, str]:
        """The server settings that make a live server this merchant."""
        return {
            "AIXIN_WECHAT_PAY_BASE_URL": self.base_url,
            "AIXIN_WECHAT_PAY_MCHID": MCHID,
            "AIXIN_WECHAT_PAY_APPID": APPID,
            "AIXIN_WECHAT_PAY_MERCHANT_SERIAL": self.merchant_serial,
            "AIXIN_WECHAT_PAY_MERCHANT_PRIVATE_KEY": pem(self.merchant_key),
            "AIXIN_WECHAT_PAY_PLATFORM_SERIAL": self.platform_serial,
            "AIXIN_WECHAT_PAY_PLATFORM_PUBLIC_KEY": public_pem(self.platform_key),
            "AIXIN_WECHAT_PAY_API_V3_KEY": self.api_v3_key.decode(),
            "AIXIN_WECHAT_PAY_NOTIFY_URL": notify_url,
        }

    def provider(self) -> WechatPay:
        return WechatPay(self.config())

    # -- the platform's signature on what it sends ---------------------------------------------

    def signed_headers(
        self, body: str, *, timestamp: int | None = None, key: rsa.RSAPrivateKey | None = None
    ) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce = secrets.token_hex(16)
        signature = sign(key or self.platform_key, f"{stamp}\n{nonce}\n{body}\n")
        return {
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": self.platform_serial,
            "Wechatpay-Signature": signature,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            "Content-Type": "application/json",
        }

    def notification(
        self,
        out_trade_no: str,
        *,
        total: int | None = None,
        state: str = "SUCCESS",
        timestamp: int | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A payment notification of an order, as the platform sends it: headers and body."""
        order = self.orders[out_trade_no]
        if state == "SUCCESS" and not order.transaction_id:
            order.transaction_id = "42000" + "".join(
                secrets.choice("0123456789") for _ in range(23)
            )
            order.state = "SUCCESS"
        amount = {
            "total": order.amount_fen if total is None else total,
            "payer_total": order.amount_fen,
            "currency": "CNY",
            "payer_currency": "CNY",
        }
        trade = {
            "mchid": MCHID,
            "appid": APPID,
            "out_trade_no": out_trade_no,
            "transaction_id": order.transaction_id or None,
            "trade_type": "NATIVE",
            "trade_state": state,
            "trade_state_desc": "支付成功" if state == "SUCCESS" else state,
            "bank_type": "OTHERS",
            "success_time": time.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": amount,
        }
        resource = encrypt_resource(
            self.api_v3_key, json.dumps(trade, ensure_ascii=False).encode(), "transaction"
        )
        envelope = {
            "id": f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-5c9b-b022-ba3d384ed1c9",
            "create_time": time.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS" if state == "SUCCESS" else "TRANSACTION.CLOSED",
            "summary": "支付成功",
            "resource": resource,
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        return self.signed_headers(body, timestamp=timestamp, key=key), body.encode()

    # -- the API --------------------------------------------------------------------------------

    def _merchant_signed(self, request: Request, body: str) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith(SCHEMA + " "):
            return False
        fields = dict(
            part.split("=", 1) for part in header[len(SCHEMA) + 1 :].split(",") if "=" in part
        )
        values = {k.strip(): v.strip().strip('"') for k, v in fields.items()}
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        stamp, nonce = values.get("timestamp"), values.get("nonce_str")
        message = f"{request.method}\n{path}\n{stamp}\n{nonce}\n{body}\n"
        return values.get("mchid") == MCHID and verify(
            self.merchant_key.public_key(), message, values.get("signature", "")
        )

    def _answer(self, payload: Any | None, status: int = 200) -> Response:
        body = "" if payload is None else json.dumps(payload, separators=(",", ":"))
        return Response(
            body,
            status_code=status,
            headers=self.signed_headers(body),
            media_type="application/json",
        )

    async def _native(self, request: Request) -> Response:
        body = (await request.body()).decode()
        if not self._merchant_signed(request, body):
            self.refused += 1
            return JSONResponse({"code": "SIGN_ERROR", "message": "签名错误"}, status_code=401)
        order = json.loads(body)
        no = order["out_trade_no"]
        self.orders[no] = Order(no, int(order["amount"]["total"]), order["description"])
        return self._answer({"code_url": f"weixin://wxpay/bizpayurl?pr={secrets.token_urlsafe(6)}"})

    async def _close(self, request: Request) -> Response:
        if not self._merchant_signed(request, (await request.body()).decode()):
            return JSONResponse({"code": "SIGN_ERROR", "message": "签名错误"}, status_code=401)
        self.orders[request.path_params["no"]].state = "CLOSED"
        return self._answer(None, 204)

    async def _bill(self, request: Request) -> Response:
        if not self._merchant_signed(request, ""):
            return JSONResponse({"code": "SIGN_ERROR", "message": "签名错误"}, status_code=401)
        url = f"{self.base_url}/v3/billdownload/file?token={secrets.token_hex(8)}"
        return self._answer({"hash_type": "SHA1", "hash_value": "", "download_url": url})

    async def _download(self, request: Request) -> Response:
        header = (
            "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,"
            "交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称"
        )
        lines = [header]
        for order in self.orders.values():
            if order.state == "SUCCESS":
                yuan = f"{order.amount_fen // 100}.{order.amount_fen % 100:02d}"
                cells = [
                    time.strftime("%Y-%m-%d %H:%M:%S"), APPID, MCHID, "0", "",
                    order.transaction_id, order.out_trade_no, "oUpF8u", "NATIVE", "SUCCESS",
                    "OTHERS", "CNY", yuan, "0.00", order.description,
                ]  # fmt: skip
                lines.append(",".join(f"`{c}" for c in cells))
        lines += ["总交易单数,应结订单总金额", f"`{len(lines) - 1},`0.00"]
        body = "\n".join(lines)
        return PlainTextResponse(body, headers=self.signed_headers(body))

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v3/pay/transactions/native", self._native, methods=["POST"]),
                Route(
                    "/v3/pay/transactions/out-trade-no/{no}/close", self._close, methods=["POST"]
                ),
                Route("/v3/bill/tradebill", self._bill, methods=["GET"]),
                Route("/v3/billdownload/file", self._download, methods=["GET"]),
            ]
        )


class Running:
    """The simulator served by uvicorn in a thread of this process, on a loopback port."""

    def __init__(self, simulator: Simulator) -> None:
        port = free_port()
        simulator.base_url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(simulator.app(), host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise TimeoutError("the payment simulator did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
