"""WeChat Pay API v3 in the sandbox: keys, request authentication, signed answers, callbacks.

The endpoints themselves are in `wechat_api`, the wire views in `wechat_views`.

Platform keys: one RSA key pair per sandbox, with a certificate issued by the sandbox CA.
The same key is offered both ways WeChat offers it: as the platform certificate (named by
its uppercase hex serial, listed by `GET /v3/certificates`) and as the newer "platform
public key" (named `PUB_KEY_ID_...`). Answers and callbacks are signed with it; the serial
they carry in `Wechatpay-Serial` is, in order: the one the request named in its own
`Wechatpay-Serial` header (answers only); the one the merchant named last in a request
(so a client configured in one mode gets callbacks it can verify); the public key id if
the merchant registered with `"platform_key_mode": "public_key"`; else the certificate
serial (the default, which certificate-mode clients such as wechatpayv3 need).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from paymesh.channels.sandbox import wechat_views as views
from paymesh.channels.sandbox.callbacks import Delivery
from paymesh.channels.sandbox.provider import Provider, RegistrationError
from paymesh.channels.sandbox.state import (
    Merchant,
    Refund,
    SandboxState,
    Trade,
    Transfer,
    now,
    random_digits,
    random_token,
    rfc3339,
)
from paymesh.channels.sandbox.wechat_api import WeChatApi
from paymesh.channels.sandbox.wechat_errors import CHANNEL, WeChatError
from paymesh.channels.wechat.sign import (
    PUBLIC_KEY_ID_PREFIX,
    SCHEME,
    aes_gcm_encrypt,
    load_certificate,
    load_public_key,
    parse_authorization,
    public_key_pem,
    request_message,
    response_message,
    rsa_sign,
    rsa_verify,
)

MAX_CLOCK_SKEW = 300
_AUTH_FIELDS = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
MERCHANT_KEY = web.RequestKey("wechat_merchant", Merchant)


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WeChatProvider(Provider):
    channel = CHANNEL
    path_prefixes = ("/v3/",)

    def __init__(self, state: SandboxState) -> None:
        super().__init__(state)
        self.platform = state.ca.issue("Wechatpay sandbox platform certificate")
        self.public_key_id = PUBLIC_KEY_ID_PREFIX + random_digits(32)

    def routes(self) -> list[web.RouteDef]:
        async def not_found(request: web.Request) -> web.StreamResponse:
            return self.error(request, WeChatError(404, "NOT_FOUND", "无效的请求路径"))

        return [*WeChatApi(self).routes(), web.route("*", "/v3/{tail:.*}", not_found)]

    # --- merchants --------------------------------------------------------------------

    def register(self, body: dict[str, Any], existing: Merchant | None) -> Merchant:
        pem = body.get("public_key_pem")
        if not isinstance(pem, str) or not pem.strip():
            raise RegistrationError("public_key_pem is required")
        try:
            key = load_public_key(pem)
        except ValueError as e:
            raise RegistrationError(f"public_key_pem is not an RSA key or certificate: {e}") from e
        serial = body.get("serial_no") or None
        if serial is None and "CERTIFICATE" in pem:
            serial = format(load_certificate(pem).serial_number, "X")
        if serial is not None and not isinstance(serial, str):
            raise RegistrationError("serial_no must be a string")
        mode = body.get("platform_key_mode", "certificate")
        if mode not in ("certificate", "public_key"):
            raise RegistrationError("platform_key_mode must be certificate or public_key")
        api_v3_key = existing.extra["api_v3_key"] if existing else random_token(32)
        # The AppID's official-account AppSecret (sns/oauth2/access_token takes it).
        mp_secret = existing.extra.get("mp_app_secret") if existing else None
        mp_secret = mp_secret or random_token(32, "0123456789abcdef")
        return Merchant(
            channel=CHANNEL,
            merchant_id=str(body["merchant_id"]),
            app_id=str(body.get("app_id") or ""),
            public_key_pem=pem,
            public_key=key,
            serial_no=serial.upper() if serial else None,
            extra={"api_v3_key": api_v3_key, "platform_key_mode": mode, "mp_app_secret": mp_secret},
        )

    def registration_answer(self, merchant: Merchant) -> dict[str, Any]:
        return {
            "platform_serial_no": self.platform.serial_hex,
            "platform_certificate_pem": self.platform.cert_pem,
            "platform_public_key_pem": public_key_pem(self.platform.key.public_key()),
            "platform_public_key_id": self.public_key_id,
            "platform_key_mode": merchant.extra["platform_key_mode"],
            "api_v3_key": merchant.extra["api_v3_key"],
            "mp_app_secret": merchant.extra["mp_app_secret"],
            "merchant_serial_no": merchant.serial_no,
            "trust_roots_pem": [self.state.ca.root.cert_pem],
        }

    # --- request authentication ---------------------------------------------------------

    async def authenticate(self, request: web.Request) -> tuple[Merchant, bytes]:
        """Verify `Authorization` over the raw request; returns the merchant and the body."""
        body = await request.read()
        header = request.headers.get("Authorization", "")
        if not header:
            raise WeChatError(401, "SIGN_ERROR", "签名错误: Authorization header is missing")
        try:
            auth = parse_authorization(header)
        except ValueError as e:
            raise WeChatError(401, "SIGN_ERROR", f"签名错误: {e}") from e
        missing = [k for k in _AUTH_FIELDS if not auth.get(k)]
        if missing:
            raise WeChatError(401, "SIGN_ERROR", f"签名错误: Authorization lacks {missing}")
        merchant = self.state.merchant(CHANNEL, auth["mchid"])
        if merchant is None:
            raise WeChatError(401, "SIGN_ERROR", "签名错误: mchid is not a registered merchant")
        ts = auth["timestamp"]
        if not ts.isdigit() or abs(time.time() - int(ts)) > MAX_CLOCK_SKEW:
            raise WeChatError(401, "SIGN_ERROR", "签名错误: timestamp is more than 5 min away")
        if merchant.serial_no and auth["serial_no"].upper() != merchant.serial_no:
            raise WeChatError(401, "SIGN_ERROR", "签名错误: serial_no is not the merchant's")
        message = request_message(request.method, request.raw_path, ts, auth["nonce_str"], body)
        if not rsa_verify(merchant.public_key, message, auth["signature"]):
            raise WeChatError(401, "SIGN_ERROR", "签名错误: signature does not verify")
        request[MERCHANT_KEY] = merchant
        named = self._named_serial(request)
        if named == "":
            raise WeChatError(400, "PARAM_ERROR", "Wechatpay-Serial names no platform key")
        if named is not None:
            merchant.extra["last_named_serial"] = named
        return merchant, body

    # --- signed answers -------------------------------------------------------------------

    def _named_serial(self, request: web.Request) -> str | None:
        """The platform serial the request names (None: none; "": an unknown one)."""
        named = request.headers.get("Wechatpay-Serial")
        if not named:
            return None
        for serial in (self.platform.serial_hex, self.public_key_id):
            if named.upper() == serial.upper():
                return serial
        return ""

    def serial_for(self, merchant: Merchant | None, request: web.Request | None = None) -> str:
        """The serial to sign an answer (with `request`) or a callback with (module doc)."""
        named = self._named_serial(request) if request is not None else None
        if named:
            return named
        if merchant is not None:
            learned = merchant.extra.get("last_named_serial")
            if learned:
                return str(learned)
            if merchant.extra.get("platform_key_mode") == "public_key":
                return self.public_key_id
        return self.platform.serial_hex

    def sign_headers(self, body: bytes, serial: str) -> dict[str, str]:
        ts = str(int(time.time()))
        nonce = random_token(32)
        return {
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": rsa_sign(self.platform.key, response_message(ts, nonce, body)),
            "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": SCHEME,
        }

    def respond(
        self, request: web.Request, status: int, payload: dict[str, Any] | None
    ) -> web.Response:
        """A signed answer; `payload` None gives an empty body (204)."""
        body = b"" if payload is None else dumps(payload)
        headers = self.sign_headers(body, self.serial_for(request.get(MERCHANT_KEY), request))
        headers["Request-ID"] = uuid.uuid4().hex
        if payload is None:
            return web.Response(status=status, headers=headers)
        return web.Response(
            status=status,
            body=body,
            headers=headers,
            content_type="application/json",
            charset="utf-8",
        )

    def error(self, request: web.Request, err: WeChatError) -> web.Response:
        return self.respond(request, err.status, {"code": err.code, "message": err.message})

    def fault_response(self, request: web.Request, status: int) -> web.StreamResponse:
        return self.error(request, WeChatError(status, "SYSTEM_ERROR", "系统错误 (sandbox fault)"))

    # --- trades and the payer page ---------------------------------------------------------

    def trade_state(self, trade: Trade) -> str:
        return views.trade_state(trade)

    def refund_state(self, refund: Refund) -> str:
        return views.refund_state(refund)

    def transfer_state(self, transfer: Transfer) -> str:
        return views.transfer_state(transfer)

    # --- callbacks ------------------------------------------------------------------------

    def _callback(
        self,
        merchant: Merchant,
        url: str,
        event_type: str,
        summary: str,
        original_type: str,
        resource: dict[str, Any],
        subject: str,
        out_trade_no: str,
        probe: bool = False,
    ) -> Coroutine[Any, Any, list[Delivery]]:
        nonce = random_token(12)
        ciphertext = aes_gcm_encrypt(
            merchant.extra["api_v3_key"], nonce, original_type, dumps(resource)
        )
        event_id = str(uuid.uuid4())
        body = dumps(
            {
                "id": event_id,
                "create_time": rfc3339(now()),
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": summary,
                "resource": {
                    "original_type": original_type,
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": ciphertext,
                    "associated_data": original_type,
                    "nonce": nonce,
                },
            }
        )
        serial = self.serial_for(merchant)

        def sign(data: bytes) -> dict[str, str]:
            headers = self.sign_headers(data, serial)
            if probe:
                fake = secrets.token_bytes(48).hex()
                headers["Wechatpay-Signature"] = f"WECHATPAY/SIGNTEST/{fake}"
            return headers

        return self.state.sender.send(
            channel=CHANNEL,
            merchant_id=merchant.merchant_id,
            event_type=event_type,
            event_id=event_id,
            url=url,
            subject=subject,
            out_trade_no=out_trade_no,
            body=body,
            sign=sign,
            probe=probe,
        )

    def _mismatch(self, out_trade_no: str, amount: int) -> int | None:
        f = self.state.faults.take(CHANNEL, "amount_mismatch", out_trade_no)
        if f is None:
            return None
        return f.amount if f.amount is not None else amount + f.delta

    def on_trade_paid(self, trade: Trade) -> None:
        merchant = self.state.merchant(CHANNEL, trade.merchant_id)
        if merchant is None or not trade.notify_url:
            return
        total = self._mismatch(trade.out_trade_no, trade.amount)
        resource = views.transaction(trade, total=total)
        self.state.spawn(
            self._callback(
                merchant, trade.notify_url, "TRANSACTION.SUCCESS", "支付成功", "transaction",
                resource, trade.out_trade_no, trade.out_trade_no,
            )
        )  # fmt: skip

    def on_refund_done(self, refund: Refund, trade: Trade) -> None:
        merchant = self.state.merchant(CHANNEL, refund.merchant_id)
        if merchant is None or not refund.notify_url:
            return
        amount = self._mismatch(trade.out_trade_no, refund.amount)
        resource = views.refund_resource(refund, trade, refund_amount=amount)
        ok = resource["refund_status"] == "SUCCESS"
        self.state.spawn(
            self._callback(
                merchant, refund.notify_url, "REFUND.SUCCESS" if ok else "REFUND.ABNORMAL",
                "退款成功" if ok else "退款异常", "refund", resource, refund.out_refund_no,
                trade.out_trade_no,
            )
        )  # fmt: skip

    def on_transfer_done(self, transfer: Transfer) -> None:
        merchant = self.state.merchant(CHANNEL, transfer.merchant_id)
        if merchant is None or not transfer.notify_url:
            return
        amount = self._mismatch(transfer.out_transfer_no, transfer.amount)
        resource = views.transfer(transfer, amount=amount)
        self.state.spawn(
            self._callback(
                merchant, transfer.notify_url, "MCHTRANSFER.BILL.FINISHED", "商家转账单据终态通知",
                "mch_payment", resource, transfer.out_transfer_no, transfer.out_transfer_no,
            )
        )  # fmt: skip

    async def probe_callback(
        self, trade: Trade | None, merchant: Merchant, notify_url: str
    ) -> list[Delivery]:
        if trade is not None:
            resource = views.transaction(trade, paid=True)
            subject = trade.out_trade_no
        else:
            subject = "PROBE" + random_digits(16)
            resource = {"mchid": merchant.merchant_id, "out_trade_no": subject,
                        "trade_state": "SUCCESS", "amount": {"total": 1, "currency": "CNY"}}  # fmt: skip
        return await self._callback(
            merchant, notify_url, "TRANSACTION.SUCCESS", "支付成功", "transaction",
            resource, subject, subject, probe=True,
        )  # fmt: skip
