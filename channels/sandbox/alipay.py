"""Alipay OpenAPI in the sandbox: keys, the `/gateway.do` gateway, signed answers,
async notifies. The methods themselves are in `alipay_api`, the wire views in `alipay_views`.

Keys: one "Alipay" RSA key pair per sandbox, certified by an Alipay root of its own (its
names carry an OU, as Alipay's do, so every SDK's SN algorithm agrees: `alipay_pki`). A merchant (an
Alipay app, `merchant_id` = its app_id) registers its app public key and picks a key mode:
- `public_key` (default): requests are signed with the app key; answers and notifies are
  verified with `alipay_public_key_pem`.
- `certificate` (`"key_mode": "certificate"`, or `public_key_pem` is itself a certificate):
  the sandbox CA issues `app_cert_pem` for the app key (unless one is given); requests must
  carry `app_cert_sn` (MD5 of the issuer's RFC 4514 name followed by the decimal serial, as
  Alipay's Java SDK computes it) and an `alipay_root_cert_sn` naming the sandbox root; answers
  carry `alipay_cert_sn`.

Certificate rotation (the `rotate_cert` fault, see `faults`): Alipay re-issues its
public-key certificate and signs certificate-mode apps' answers under it; the answers name it
in `alipay_cert_sn`, and `alipay.open.app.alipaycert.download` (biz_content
`{"alipay_cert_sn"}`) answers `alipay_cert_content`, the base64 of the certificate's PEM, as
Alipay's open platform describes its "支付宝公钥证书无感知升级" (the SDK downloads the certificate
named by an unknown `alipay_cert_sn`, checks it against the Alipay root and verifies with it).
Notifies carry no certificate SN; they are signed with the current key too. Public-key mode
apps are not affected (they trust a bare Alipay public key, not a certificate).

Gateway errors (unknown method or app_id, missing or invalid common parameters, a bad
signature) answer `{"error_response": {"code", "msg", "sub_code", "sub_msg"}, "sign": ..}`;
business errors answer under the method's own `<method_with_underscores>_response` key. Every
answer is HTTP 200, signed over the exact bytes of the response object, `"sign"` right after it.
The `http_500` / `timeout` faults answer a signed `20000` system error with the fault's status.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Coroutine, Mapping
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from cryptography import x509

from paymesh.channels.alipay import sign
from paymesh.channels.alipay.sign import cert_sn, response_key
from paymesh.channels.sandbox import alipay_views as views
from paymesh.channels.sandbox.alipay_api import BILL_FILE_PATH, AlipayApi
from paymesh.channels.sandbox.alipay_errors import (
    CHANNEL,
    PARAMS_KEY,
    SYSTEM_ERROR,
    AlipayError,
    invalid,
    missing,
)
from paymesh.channels.sandbox.alipay_pki import issue_for, load_key_and_cert, new_root
from paymesh.channels.sandbox.alipay_wallet import AlipayWallet
from paymesh.channels.sandbox.callbacks import Delivery
from paymesh.channels.sandbox.faults import Fault
from paymesh.channels.sandbox.pki import Issued, cert_pem, new_key
from paymesh.channels.sandbox.provider import Provider, RegistrationError
from paymesh.channels.sandbox.state import (
    Merchant,
    Refund,
    SandboxState,
    Trade,
    Transfer,
    random_digits,
)

GATEWAY_PATH = "/gateway.do"
KEY_MODES = ("public_key", "certificate")
NOTIFY_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"


class AlipayProvider(Provider):
    channel = CHANNEL
    path_prefixes = (GATEWAY_PATH,)

    def __init__(self, state: SandboxState) -> None:
        super().__init__(state)
        self._root: Issued | None = None
        self._alipay: Issued | None = None
        self._rotated: dict[str, Issued] = {}  # by `rotate_cert` fault id

    @property
    def root(self) -> Issued:
        """The Alipay root CA of this sandbox (made on first use: key generation is slow)."""
        if self._root is None:
            self._root = new_root()
        return self._root

    @property
    def alipay(self) -> Issued:
        """The sandbox's Alipay key and its certificate issued by `root`."""
        if self._alipay is None:
            key = new_key()
            cert = issue_for(self.root, "Alipay sandbox public key", key.public_key())
            self._alipay = Issued(key, cert)
        return self._alipay

    def rotation(self, merchant: Merchant | None) -> tuple[Fault, Issued] | None:
        """The armed `rotate_cert` for a certificate-mode app, with its new certificate."""
        if merchant is None or merchant.extra["key_mode"] != "certificate":
            return None
        fault = self.state.faults.state(CHANNEL, "rotate_cert", merchant.merchant_id)
        if fault is None:
            return None
        issued = self._rotated.get(fault.id)
        if issued is None:
            key = self.alipay.key if fault.extra["same_key"] else new_key()
            root = new_root() if fault.extra["foreign_root"] else self.root
            cert = issue_for(root, "Alipay sandbox public key", key.public_key())
            issued = self._rotated[fault.id] = Issued(key, cert)
        return fault, issued

    def signer(self, merchant: Merchant | None) -> Issued:
        """The Alipay key (and certificate) that signs for this app now."""
        rotated = self.rotation(merchant)
        return rotated[1] if rotated is not None else self.alipay

    def download_cert(self, merchant: Merchant, sn: str) -> x509.Certificate | None:
        """alipay.open.app.alipaycert.download: the Alipay certificate `sn` of this app."""
        if merchant.extra["key_mode"] != "certificate":
            return None
        rotated = self.rotation(merchant)
        if rotated is not None and cert_sn(rotated[1].cert) == sn:
            rotated[0].extra["downloads"] += 1
            return rotated[1].cert
        return self.alipay.cert if sn == self.alipay_cert_sn else None

    def routes(self) -> list[web.RouteDef]:
        api = AlipayApi(self)
        wallet = AlipayWallet(api)  # the cashier's JSAPI: OAuth, trade.create, the bridge
        api.methods.update(wallet.methods())
        return [
            web.get(GATEWAY_PATH, api.gateway),
            web.post(GATEWAY_PATH, api.gateway),
            web.get(BILL_FILE_PATH, api.bill_file),
            *wallet.routes(),
        ]

    # --- merchants --------------------------------------------------------------------

    def register(self, body: dict[str, Any], existing: Merchant | None) -> Merchant:
        app_id = str(body["merchant_id"])
        if body.get("app_id") and str(body["app_id"]) != app_id:
            raise RegistrationError("alipay: app_id must equal merchant_id (the Alipay app_id)")
        pem = body.get("public_key_pem")
        if not isinstance(pem, str) or not pem.strip():
            raise RegistrationError("public_key_pem is required")
        try:
            key, cert = load_key_and_cert(pem)
        except ValueError as e:
            raise RegistrationError(f"public_key_pem is not an RSA key or certificate: {e}") from e
        given_cert = body.get("app_cert_pem")
        if given_cert:
            if not isinstance(given_cert, str):
                raise RegistrationError("app_cert_pem must be a PEM string")
            try:
                key, cert = load_key_and_cert(given_cert)
            except ValueError as e:
                raise RegistrationError(f"app_cert_pem is not an RSA certificate: {e}") from e
        mode = body.get("key_mode") or ("certificate" if cert is not None else "public_key")
        if mode not in KEY_MODES:
            raise RegistrationError(f"key_mode must be one of {list(KEY_MODES)}")
        extra: dict[str, Any] = {
            "key_mode": mode,
            "seller_id": existing.extra["seller_id"] if existing else "2088" + random_digits(12),
        }
        if mode == "certificate":
            if cert is None:
                cert = issue_for(self.root, f"Alipay app {app_id}", key)
            extra.update(app_cert_pem=cert_pem(cert), app_cert_sn=cert_sn(cert))
        return Merchant(
            channel=CHANNEL,
            merchant_id=app_id,
            app_id=app_id,
            public_key_pem=pem,
            public_key=key,
            extra=extra,
        )

    def registration_answer(self, merchant: Merchant) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "alipay_public_key_pem": sign.public_key_pem(self.alipay.key.public_key()),
            "key_mode": merchant.extra["key_mode"],
            "seller_id": merchant.extra["seller_id"],
            "gateway_path": GATEWAY_PATH,
        }
        if merchant.extra["key_mode"] == "certificate":
            answer.update(
                app_cert_pem=merchant.extra["app_cert_pem"],
                app_cert_sn=merchant.extra["app_cert_sn"],
                alipay_public_cert_pem=self.alipay.cert_pem,
                alipay_cert_sn=self.alipay_cert_sn,
                alipay_root_cert_pem=self.root.cert_pem,
                alipay_root_cert_sn=self.root_cert_sn,
            )
        return answer

    @property
    def alipay_cert_sn(self) -> str:
        return cert_sn(self.alipay.cert)

    @property
    def root_cert_sn(self) -> str:
        return cert_sn(self.root.cert)

    # --- request authentication ---------------------------------------------------------

    def authenticate(self, params: Mapping[str, str]) -> Merchant:
        """Check the common parameters and the RSA2 signature; returns the merchant."""
        app_id = params.get("app_id", "")
        if not app_id:
            raise missing("isv.missing-app-id", "缺少AppID参数")
        merchant = self.state.merchant(CHANNEL, app_id)
        if merchant is None:
            raise invalid("isv.invalid-app-id", "无效的AppID参数")
        if not params.get("sign"):
            raise missing("isv.missing-signature", "缺少签名参数")
        sign_type = params.get("sign_type", "")
        if not sign_type:
            raise missing("isv.missing-signature-type", "缺少签名类型参数")
        if sign_type != "RSA2":
            raise invalid("isv.invalid-signature-type", "无效的签名类型参数 (the sandbox: RSA2)")
        charset = params.get("charset", "utf-8")
        if charset.lower() not in ("utf-8", "utf8"):
            raise invalid("isv.invalid-charset", "字符集错误 (the sandbox: utf-8)")
        if params.get("format", "JSON").upper() != "JSON":
            raise invalid("isv.invalid-format", "无效的数据格式参数")
        timestamp = params.get("timestamp", "")
        if not timestamp:
            raise missing("isv.missing-timestamp", "缺少时间戳参数")
        try:
            dt.datetime.strptime(timestamp, "%Y-%m-%d %H:%M:%S")
        except ValueError as e:
            raise invalid("isv.invalid-timestamp", "非法的时间戳参数 (yyyy-MM-dd HH:mm:ss)") from e
        version = params.get("version", "")
        if not version:
            raise missing("isv.missing-version", "缺少版本参数")
        if version != "1.0":
            raise invalid("isv.invalid-parameter", "version must be 1.0")
        content = sign.canonical(params)
        if not sign.rsa_verify(merchant.public_key, content, params["sign"]):
            raise invalid(
                "isv.invalid-signature",
                "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，"
                f"网关生成的验签字符串为：{content}",
            )
        if merchant.extra["key_mode"] == "certificate":
            sn = params.get("app_cert_sn", "")
            if not sn:
                raise missing("isv.missing-app-cert-sn", "缺少应用公钥证书序列号")
            if sn != merchant.extra["app_cert_sn"]:
                raise invalid("isv.invalid-app-cert-sn", "应用公钥证书序列号不匹配")
            root = params.get("alipay_root_cert_sn", "")
            if not root:
                raise missing("isv.missing-alipay-root-cert-sn", "缺少支付宝根证书序列号")
            if self.root_cert_sn not in root.split("_"):
                raise invalid("isv.invalid-alipay-root-cert-sn", "支付宝根证书序列号不匹配")
        return merchant

    # --- signed answers -----------------------------------------------------------------

    def signed_body(self, key: str, payload: Mapping[str, Any], merchant: Merchant | None) -> bytes:
        """`{"<key>": payload, "sign": RSA2 over payload's exact bytes[, "alipay_cert_sn"]}`
        (`alipay_cert_sn` for certificate-mode apps: the certificate of the signing key)."""
        signer = self.signer(merchant)
        inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        signature = sign.rsa_sign(signer.key, inner)
        tail = f',"sign":"{signature}"'
        if merchant is not None and merchant.extra["key_mode"] == "certificate":
            tail += f',"alipay_cert_sn":"{cert_sn(signer.cert)}"'
        return b"{" + json.dumps(key).encode() + b":" + inner + tail.encode() + b"}"

    def respond(self, key: str, payload: Mapping[str, Any], merchant: Merchant | None = None,
                status: int = 200) -> web.Response:  # fmt: skip
        return web.Response(
            status=status,
            body=self.signed_body(key, payload, merchant),
            content_type="application/json",
            charset="utf-8",
        )

    def error(self, method: str, err: AlipayError, merchant: Merchant | None) -> web.Response:
        key = "error_response" if err.gateway or not method else response_key(method)
        return self.respond(key, err.payload(), merchant)

    def fault_response(self, request: web.Request, status: int) -> web.StreamResponse:
        params: dict[str, str] = request.get(PARAMS_KEY) or dict(request.query)
        method = params.get("method", "")
        merchant = self.state.merchant(CHANNEL, params.get("app_id", ""))
        key = response_key(method) if method else "error_response"
        return self.respond(key, SYSTEM_ERROR.payload(), merchant, status=status)

    # --- trades and the payer page ---------------------------------------------------------

    def trade_state(self, trade: Trade) -> str:
        return views.trade_status(trade, self.state.refunds_of(trade))

    def after_payment_html(self, trade: Trade) -> str:
        merchant = self.state.merchant(CHANNEL, trade.merchant_id)
        key = self.signer(merchant).key
        return views.return_link(trade, merchant, lambda t: sign.rsa_sign(key, t))

    def refund_state(self, refund: Refund) -> str:
        return views.refund_state(refund)

    def transfer_state(self, transfer: Transfer) -> str:
        return views.transfer_status(transfer)

    # --- notifies -----------------------------------------------------------------------

    def _notify(
        self,
        merchant: Merchant,
        url: str,
        params: dict[str, str],
        subject: str,
        out_trade_no: str,
        probe: bool = False,
    ) -> Coroutine[Any, Any, list[Delivery]]:
        params = {k: v for k, v in params.items() if v != ""}
        params.update(app_id=merchant.app_id, charset="utf-8", sign_type="RSA2")
        params.setdefault("notify_id", uuid.uuid4().hex + random_digits(8))
        params.setdefault("version", "1.0")
        if probe:
            params["sign"] = base64.b64encode(uuid.uuid4().bytes * 16).decode("ascii")
        else:
            params["sign"] = sign.rsa_sign(self.signer(merchant).key, sign.notify_canonical(params))
        body = urlencode(params).encode("utf-8")
        event_type = params.get("notify_type") or params.get("msg_method") or "notify"
        return self.state.sender.send(
            channel=CHANNEL,
            merchant_id=merchant.merchant_id,
            event_type=event_type,
            event_id=params["notify_id"],
            url=url,
            subject=subject,
            out_trade_no=out_trade_no,
            body=body,
            sign=lambda _body: {"Content-Type": NOTIFY_CONTENT_TYPE},
            accept=lambda status, text: status == 200 and text == "success",
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
        params = views.trade_notify(trade, merchant, [], total=total)
        self.state.spawn(
            self._notify(merchant, trade.notify_url, params, trade.out_trade_no, trade.out_trade_no)
        )

    def on_refund_done(self, refund: Refund, trade: Trade) -> None:
        merchant = self.state.merchant(CHANNEL, refund.merchant_id)
        if merchant is None or not refund.notify_url or not refund.success_at:
            return
        refunds = self.state.refunds_of(trade)
        refunded = views.refunded(refunds)
        fee = self._mismatch(trade.out_trade_no, refunded)
        params = views.trade_notify(trade, merchant, refunds, refund=refund, refund_fee=fee)
        self.state.spawn(
            self._notify(merchant, refund.notify_url, params, refund.out_refund_no,
                         trade.out_trade_no)
        )  # fmt: skip

    def on_transfer_done(self, transfer: Transfer) -> None:
        merchant = self.state.merchant(CHANNEL, transfer.merchant_id)
        if merchant is None or not transfer.notify_url:
            return
        amount = self._mismatch(transfer.out_transfer_no, transfer.amount)
        params = views.transfer_notify(transfer, amount=amount)
        self.state.spawn(
            self._notify(merchant, transfer.notify_url, params, transfer.out_transfer_no,
                         transfer.out_transfer_no)
        )  # fmt: skip

    async def probe_callback(
        self, trade: Trade | None, merchant: Merchant, notify_url: str
    ) -> list[Delivery]:
        if trade is not None:
            params = views.trade_notify(trade, merchant, [], paid=True)
            subject = trade.out_trade_no
        else:
            subject = "PROBE" + random_digits(16)
            params = views.probe_notify(merchant, subject)
        return await self._notify(merchant, notify_url, params, subject, subject, probe=True)
