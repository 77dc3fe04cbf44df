"""UnionPay online payment (ACP 5.1.0) in the sandbox: certificates, request
authentication, signed `k=v` answers, backUrl notifies. The transactions themselves are
in `unionpay_api`.

Certificates: each sandbox makes its own chain on first use (root -> intermediate ->
"UnionPay" signing certificate whose CN owner part is 中国银联股份有限公司), like CFCA's
test chain. `POST /_sandbox/merchants {"channel": "unionpay", "merchant_id": <merId>}`
issues the merchant a signing certificate from the same intermediate and answers it as
base64 PKCS#12 (`sign_cert_p12`, `sign_cert_password`, `cert_id`) with the trust roots
(`root_cert_pem`, `middle_cert_pem`). `GET /_sandbox/unionpay/trust-roots` exports the
roots again (`paymesh sandbox-roots`).

Every request must be a form with `version=5.1.0`, `signMethod=01`, the registered
merchant's `merId` and `certId`, and a valid double-hash signature; otherwise the answer is
UnionPay's error shape `respCode` + `respMsg` (10 format error, 11 signature failed, 13
field missing; the sandbox's numbering of ACP's 应答码), signed like every answer, with
`signPubKeyCert`. The `http_500`/`timeout` faults answer respCode 03 with the fault's status.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from html import escape
from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import web

from paymesh.channels.sandbox.callbacks import Delivery
from paymesh.channels.sandbox.provider import Provider, RegistrationError
from paymesh.channels.sandbox.state import (
    Merchant,
    Refund,
    SandboxState,
    Trade,
    TradeStatus,
    random_digits,
)
from paymesh.channels.sandbox.unionpay_api import UnionpayApi
from paymesh.channels.sandbox.unionpay_errors import (
    CHANNEL,
    RESP_DECLINED,
    RESP_MERCHANT,
    RESP_SIGNATURE,
    UnionpayError,
    bad,
    missing,
)
from paymesh.channels.sandbox.unionpay_pki import Issued, UnionpayPKI
from paymesh.channels.unionpay import sign
from paymesh.channels.unionpay.transformers import encode_kv

API_PREFIX: Final = "/gateway/api/"
NOTIFY_CONTENT_TYPE: Final = "application/x-www-form-urlencoded; charset=UTF-8"
ECHO_FIELDS: Final = (
    "version", "encoding", "bizType", "txnType", "txnSubType", "accessType", "merId",
    "orderId", "txnTime",
)  # fmt: skip


class UnionpayProvider(Provider):
    channel = CHANNEL
    path_prefixes = (API_PREFIX,)

    def __init__(self, state: SandboxState) -> None:
        super().__init__(state)
        self._pki: UnionpayPKI | None = None

    @property
    def pki(self) -> UnionpayPKI:
        """The sandbox's UnionPay chain (made on first use: key generation is slow)."""
        if self._pki is None:
            self._pki = UnionpayPKI("paymesh sandbox CFCA")
        return self._pki

    def owns(self, path: str) -> bool:
        return path.startswith(API_PREFIX) or path == "/"  # "/" is the file host

    def routes(self) -> list[web.RouteDef]:
        return UnionpayApi(self).routes()

    def trust_roots(self) -> dict[str, str]:
        return {"root_cert_pem": self.pki.root_pem, "middle_cert_pem": self.pki.intermediate_pem}

    # --- merchants --------------------------------------------------------------------

    def register(self, body: dict[str, Any], existing: Merchant | None) -> Merchant:
        mer_id = str(body["merchant_id"])
        if not (len(mer_id) == 15 and mer_id.isalnum()):
            raise RegistrationError("unionpay: merchant_id is the 15-character merId")
        if existing is not None:
            return existing  # one certificate per merchant: registering again answers it
        issued = self.pki.issue_merchant(mer_id)
        password = secrets.token_hex(8)
        p12 = sign.export_pkcs12(issued.cert, issued.key, password)
        return Merchant(
            channel=CHANNEL,
            merchant_id=mer_id,
            app_id=str(body.get("app_id") or mer_id),
            public_key_pem=issued.cert_pem,
            public_key=issued.key.public_key(),
            serial_no=issued.serial_dec,
            extra={
                "sign_cert_p12": base64.b64encode(p12).decode("ascii"),
                "sign_cert_password": password,
            },
        )

    def registration_answer(self, merchant: Merchant) -> dict[str, Any]:
        return {
            "mer_id": merchant.merchant_id,
            "sign_cert_p12": merchant.extra["sign_cert_p12"],
            "sign_cert_password": merchant.extra["sign_cert_password"],
            "cert_id": merchant.serial_no,
            **self.trust_roots(),
            "trust_roots_pem": self.pki.root_pem + self.pki.intermediate_pem,
        }

    # --- request authentication -------------------------------------------------------

    def authenticate(self, fields: Mapping[str, str]) -> Merchant:
        for name in ("version", "encoding", "signMethod", "txnType", "txnSubType", "bizType",
                     "accessType", "merId", "certId", "signature"):  # fmt: skip
            if not fields.get(name):
                raise missing(name)
        if fields["version"] != "5.1.0":
            raise bad("version", "the sandbox speaks 5.1.0")
        if fields["encoding"].upper() != "UTF-8":
            raise bad("encoding", "UTF-8 only")
        if fields["signMethod"] != sign.SIGN_METHOD_RSA:
            raise bad("signMethod", "01 (RSA) only")
        merchant = self.state.merchant(CHANNEL, fields["merId"])
        if merchant is None:
            raise UnionpayError(RESP_MERCHANT, "商户状态不正确[unknown merId]")
        if fields["certId"] != merchant.serial_no:
            raise UnionpayError(RESP_SIGNATURE, "验证签名失败[certId]")
        if not sign.verify_fields(merchant.public_key, fields):
            raise UnionpayError(RESP_SIGNATURE, "验证签名失败")
        return merchant

    # --- signed answers -----------------------------------------------------------------

    def signed(self, fields: Mapping[str, str], signer: Issued | None = None) -> dict[str, str]:
        return self.pki.sign_as_unionpay({k: v for k, v in fields.items() if v != ""}, signer)

    def answer(
        self, request_fields: Mapping[str, str], fields: Mapping[str, str], status: int = 200
    ) -> web.Response:
        out = {k: request_fields[k] for k in ECHO_FIELDS if request_fields.get(k)}
        out.update(fields)
        body = encode_kv(self.signed(out))
        return web.Response(status=status, text=body, content_type="text/plain", charset="utf-8")

    def error(self, request_fields: Mapping[str, str], err: UnionpayError) -> web.Response:
        return self.answer(request_fields, {"respCode": err.code, "respMsg": err.msg})

    def fault_response(self, request: web.Request, status: int) -> web.StreamResponse:
        return self.answer(
            {}, {"respCode": "03", "respMsg": "交易通讯超时，请发起查询交易"}, status=status
        )

    # --- trades -------------------------------------------------------------------------

    def trade_state(self, trade: Trade) -> str:
        if trade.extra.get("cancelled"):
            return "CANCELLED"
        return trade.status

    def after_payment_html(self, trade: Trade) -> str:
        """UnionPay returns the payer's browser to `frontUrl` with the signed result (前台通知)
        as a form POST; here a button, so that the page can be seen first."""
        front_url = str(trade.extra.get("frontUrl", ""))
        if not front_url:
            return ""
        fields = self.signed(self.trade_notify(trade))
        inputs = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}"/>'
            for k, v in fields.items()
        )
        return (
            f'<form id="front_notify" method="post" action="{escape(front_url)}">{inputs}'
            '<button class="return">返回商户 / Return to the shop</button></form>'
        )

    # --- notifies -----------------------------------------------------------------------

    def _notify(
        self, merchant: Merchant, url: str, fields: dict[str, str], subject: str,
        out_trade_no: str, *, probe: bool = False,
    ) -> Any:  # fmt: skip
        signed = self.signed(fields)
        if probe:
            signed["signature"] = base64.b64encode(secrets.token_bytes(256)).decode("ascii")
        body = urlencode(signed).encode("utf-8")
        return self.state.sender.send(
            channel=CHANNEL,
            merchant_id=merchant.merchant_id,
            event_type=f"txnType={fields.get('txnType', '')}",
            event_id=fields.get("queryId", ""),
            url=url,
            subject=subject,
            out_trade_no=out_trade_no,
            body=body,
            sign=lambda _b: {"Content-Type": NOTIFY_CONTENT_TYPE},
            accept=lambda status, _text: status == 200,
            probe=probe,
        )

    def _amount(self, out_trade_no: str, amount: int) -> int:
        f = self.state.faults.take(CHANNEL, "amount_mismatch", out_trade_no)
        if f is None:
            return amount
        return f.amount if f.amount is not None else amount + f.delta

    def trade_notify(self, trade: Trade, amount: int | None = None) -> dict[str, str]:
        x = trade.extra
        amt = str(trade.amount if amount is None else amount)
        return {
            "version": "5.1.0", "encoding": "UTF-8", "bizType": x["bizType"],
            "txnType": "01", "txnSubType": "01", "accessType": x["accessType"],
            "merId": trade.merchant_id, "orderId": trade.out_trade_no, "txnTime": x["txnTime"],
            "txnAmt": amt, "currencyCode": "156", "queryId": trade.channel_trade_no,
            "respCode": "00", "respMsg": "success", "settleAmt": amt,
            "settleCurrencyCode": "156", "settleDate": x["txnTime"][4:8],
            "traceNo": trade.channel_trade_no[-6:], "traceTime": x["txnTime"][4:],
        }  # fmt: skip

    def on_trade_paid(self, trade: Trade) -> None:
        merchant = self.state.merchant(CHANNEL, trade.merchant_id)
        if merchant is None or not trade.notify_url:
            return
        fields = self.trade_notify(trade, self._amount(trade.out_trade_no, trade.amount))
        self.state.spawn(
            self._notify(merchant, trade.notify_url, fields, trade.out_trade_no,
                         trade.out_trade_no)
        )  # fmt: skip

    def refund_notify(self, refund: Refund, trade: Trade) -> dict[str, str]:
        x = refund.extra
        ok = refund.status == "SUCCEEDED"
        return {
            "version": "5.1.0", "encoding": "UTF-8", "bizType": "000201",
            "txnType": "04", "txnSubType": "00", "accessType": "0",
            "merId": refund.merchant_id, "orderId": refund.out_refund_no,
            "txnTime": x["txnTime"], "txnAmt": str(self._amount(trade.out_trade_no, refund.amount)),
            "currencyCode": "156", "queryId": refund.channel_refund_no,
            "origQryId": trade.channel_trade_no,
            "respCode": "00" if ok else RESP_DECLINED,
            "respMsg": "success" if ok else "交易失败",
        }  # fmt: skip

    def on_refund_done(self, refund: Refund, trade: Trade) -> None:
        merchant = self.state.merchant(CHANNEL, refund.merchant_id)
        if merchant is None or not refund.notify_url:
            return
        fields = self.refund_notify(refund, trade)
        self.state.spawn(
            self._notify(merchant, refund.notify_url, fields, refund.out_refund_no,
                         trade.out_trade_no)
        )  # fmt: skip

    async def probe_callback(
        self, trade: Trade | None, merchant: Merchant, notify_url: str
    ) -> list[Delivery]:
        if trade is not None:
            fields = self.trade_notify(trade)
            subject = trade.out_trade_no
        else:
            subject = "P" + random_digits(21)
            fields = {
                "version": "5.1.0", "txnType": "01", "txnSubType": "01", "merId":
                merchant.merchant_id, "orderId": subject, "txnAmt": "1", "respCode": "00",
                "queryId": random_digits(21),
            }  # fmt: skip
        result: list[Delivery] = await self._notify(
            merchant, notify_url, fields, subject, subject, probe=True
        )
        return result


def trade_is_open(trade: Trade) -> bool:
    return trade.status == TradeStatus.PENDING


__all__ = ["CHANNEL", "UnionpayError", "UnionpayProvider"]
