"""Alipay OpenAPI methods of the sandbox's `/gateway.do`.

The gateway takes GET (every parameter in the query string) and POST (a form, with the common
parameters possibly in the query string, as the official SDKs send them). Every request is
authenticated (`AlipayProvider.authenticate`) before anything else; every answer is signed.

Methods: `alipay.trade.precreate` (its `qr_code` is the payer page);
`alipay.trade.page.pay` / `wap.pay` / `app.pay` (a browser opening the signed URL or form is
redirected to the payer page of the trade, created then; so, as at Alipay, a close before that
answers ACQ.TRADE_NOT_EXIST and the URL stays payable until its time_expire: a payment after
close, which paymesh must treat as a late payment); `alipay.trade.pay` (barcode; the
`auth_code` picks the outcome: starting `10003` -> code 10003, the buyer has to confirm (pay
it from the payer page or `/_sandbox/pay`); `20000` -> code 20000, outcome unknown (the trade
exists, open); `40004` -> code 40004 `ACQ.PAYMENT_AUTH_CODE_INVALID`, no trade; anything else
-> paid at once, code 10000); `alipay.trade.query`; `alipay.trade.close`;
`alipay.trade.cancel` (closes an open trade, `action` close; refunds a paid one in full,
`action` refund); `alipay.trade.refund` (`out_request_no`, default the out_trade_no; a repeat
answers `fund_change` N; a failed one may be retried); `alipay.trade.fastpay.refund.query`
(`refund_status` REFUND_SUCCESS only once succeeded); `alipay.fund.trans.uni.transfer` (at
least 0.10 yuan); `alipay.fund.trans.common.query`; `alipay.open.app.alipaycert.download`
(certificate mode: the Alipay certificate named by `alipay_cert_sn`, see `rotate_cert`). An open trade past its expiry
(`timeout_express` / `time_expire`, default 2 h) is closed when next looked at.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from paymesh.channels.alipay.sign import response_key
from paymesh.channels.sandbox import alipay_params as ap
from paymesh.channels.sandbox import alipay_views as views
from paymesh.channels.sandbox.alipay_errors import (
    CHANNEL,
    PARAMS_KEY,
    AlipayError,
    business,
    invalid,
    missing,
)
from paymesh.channels.sandbox.alipay_funds import BILL_FILE_PATH, AlipayFundsApi
from paymesh.channels.sandbox.alipay_params import Json, Params, ok, read_params
from paymesh.channels.sandbox.control import base_url as control_base_url
from paymesh.channels.sandbox.pki import cert_pem
from paymesh.channels.sandbox.state import (
    ItemStatus,
    Merchant,
    Refund,
    Trade,
    TradeStatus,
    now,
    random_digits,
)
from paymesh.money import yuan

if TYPE_CHECKING:
    from paymesh.channels.sandbox.alipay import AlipayProvider

Method = Callable[[web.Request, Merchant, Params, Json], Awaitable[Json]]

PAGE_METHODS = {
    "alipay.trade.page.pay": ("page", "FAST_INSTANT_TRADE_PAY"),
    "alipay.trade.wap.pay": ("wap", "QUICK_WAP_WAY"),
    "alipay.trade.app.pay": ("app", "QUICK_MSECURITY_PAY"),
}


class AlipayApi:
    def __init__(self, provider: AlipayProvider) -> None:
        self.p = provider
        self.state = provider.state
        self.funds = AlipayFundsApi(provider.state)
        self.bill_file = self.funds.bill_file
        self.methods: dict[str, Method] = {
            "alipay.trade.precreate": self.precreate,
            "alipay.trade.pay": self.pay,
            "alipay.trade.query": self.query,
            "alipay.trade.close": self.close,
            "alipay.trade.cancel": self.cancel,
            "alipay.trade.refund": self.refund,
            "alipay.trade.fastpay.refund.query": self.refund_query,
            "alipay.fund.trans.uni.transfer": self.funds.transfer,
            "alipay.fund.trans.common.query": self.funds.transfer_query,
            "alipay.data.dataservice.bill.downloadurl.query": self.funds.bill_url,
            "alipay.open.app.alipaycert.download": self.cert_download,
        }

    async def gateway(self, request: web.Request) -> web.StreamResponse:
        params = await read_params(request)
        request[PARAMS_KEY] = params
        method = params.get("method", "")
        merchant: Merchant | None = None
        try:
            if not method:
                raise missing("isv.missing-method", "缺少方法名参数")
            if method not in self.methods and method not in PAGE_METHODS:
                raise invalid("isv.invalid-method", "不存在的方法名")
            merchant = self.p.authenticate(params)
            biz = ap.biz_content(params)
            if method in PAGE_METHODS:
                return await self.page_pay(request, merchant, params, biz)
            payload = await self.methods[method](request, merchant, params, biz)
        except AlipayError as e:
            if method in PAGE_METHODS:
                return ap.error_page(e)
            return self.p.error(method, e, merchant)
        return self.p.respond(response_key(method), payload, merchant)

    def _base_url(self, request: web.Request) -> str:
        return control_base_url(request)

    # --- trades -------------------------------------------------------------------------

    def _find_trade(self, m: Merchant, biz: Json) -> Trade | None:
        out_trade_no = ap.str_param(biz, "out_trade_no", 64, required=False)
        trade_no = ap.str_param(biz, "trade_no", 64, required=False)
        if not out_trade_no and not trade_no:
            raise ap.bad("out_trade_no or trade_no is required")
        for trade in self.state.trades.values():
            if trade.channel != CHANNEL or trade.merchant_id != m.merchant_id:
                continue
            if trade_no and trade.channel_trade_no != trade_no:
                continue
            if out_trade_no and trade.out_trade_no != out_trade_no:
                continue
            self._expire(trade)
            return trade
        return None

    def _trade(self, m: Merchant, biz: Json) -> Trade:
        trade = self._find_trade(m, biz)
        if trade is None:
            raise business("ACQ.TRADE_NOT_EXIST", "交易不存在")
        return trade

    @staticmethod
    def _expire(trade: Trade) -> None:
        if (
            trade.status == TradeStatus.PENDING
            and trade.expire_at is not None
            and now() > trade.expire_at
        ):
            trade.status = TradeStatus.CLOSED

    def _open_trade(
        self, m: Merchant, params: Params, biz: Json, kind: str, with_expiry: bool = True
    ) -> tuple[Trade, bool]:
        """The trade `biz` describes: (an existing identical one, False) or (a new one, True)."""
        out_trade_no = ap.out_no(biz, "out_trade_no")
        total = ap.amount(biz, "total_amount")
        subject = ap.str_param(biz, "subject", 256)
        body = ap.str_param(biz, "body", 128, required=False)
        passback = ap.str_param(biz, "passback_params", 512, required=False)
        notify_url = params.get("notify_url", "")
        if notify_url and not notify_url.startswith(("http://", "https://")):
            raise invalid("isv.invalid-notify-url", "notify_url must be an http(s) URL")
        expire_at = ap.expiry(biz) if with_expiry else None
        fingerprint = ap.fingerprint({"total": total, "subject": subject})
        trade = self.state.trade(CHANNEL, m.merchant_id, out_trade_no)
        if trade is not None:
            self._expire(trade)
            if trade.fingerprint != fingerprint:
                raise business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
            if trade.status == TradeStatus.PAID:
                raise business("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
            if trade.status != TradeStatus.PENDING:
                raise business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
            return trade, False
        created = now()
        trade = Trade(
            channel=CHANNEL,
            merchant_id=m.merchant_id,
            out_trade_no=out_trade_no,
            amount=total,
            currency="CNY",
            subject=subject,
            method=kind,
            notify_url=notify_url,
            channel_trade_no=created.strftime("%Y%m%d") + "22001" + random_digits(15),
            fingerprint=fingerprint,
            created_at=created,
            expire_at=expire_at,
            extra={
                "body": body,
                "passback_params": passback,
                "buyer_id": "2088" + random_digits(12),
                "buyer_logon_id": f"{random_digits(3)}***@sandbox.alipay.com",
            },
        )
        self.state.trades[(CHANNEL, m.merchant_id, out_trade_no)] = trade
        return trade, True

    async def precreate(self, request: web.Request, m: Merchant, params: Params, biz: Json) -> Json:
        trade, _new = self._open_trade(m, params, biz, "qr")
        return ok(out_trade_no=trade.out_trade_no,
                  qr_code=self.p.pay_url(trade, self._base_url(request)))  # fmt: skip

    async def page_pay(
        self, request: web.Request, m: Merchant, params: Params, biz: Json
    ) -> web.StreamResponse:
        kind, product_code = PAGE_METHODS[params["method"]]
        trade, new = self._open_trade(m, params, biz, kind)
        if new:
            trade.extra.update(
                product_code=ap.str_param(biz, "product_code", 64, required=False) or product_code,
                return_url=params.get("return_url", ""),
            )
        raise web.HTTPFound(self.p.pay_url(trade, self._base_url(request)))

    def _paid_fields(self, trade: Trade) -> Json:
        return {
            "trade_no": trade.channel_trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": trade.extra.get("buyer_logon_id", ""),
            "buyer_user_id": trade.extra.get("buyer_id", ""),
            "total_amount": yuan(trade.amount),
        }

    async def pay(self, request: web.Request, m: Merchant, params: Params, biz: Json) -> Json:
        scene = ap.str_param(biz, "scene", 32, required=False) or "bar_code"
        if scene not in ("bar_code", "security_code"):
            raise ap.bad("scene must be bar_code or security_code")
        auth_code = ap.str_param(biz, "auth_code", 64)
        existing = self.state.trade(CHANNEL, m.merchant_id, ap.out_no(biz, "out_trade_no"))
        if existing is not None:
            self._expire(existing)
            if existing.status == TradeStatus.PAID and existing.method == "barcode":
                return self._pay_success(existing)
        if auth_code.startswith("40004"):
            raise business(
                "ACQ.PAYMENT_AUTH_CODE_INVALID",
                "支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款",
            )
        trade, new = self._open_trade(m, params, biz, "barcode")
        if new:
            trade.extra["auth_code"] = auth_code
        if auth_code.startswith("20000"):
            return {"code": "20000", "msg": "Service Currently Unavailable",
                    "sub_code": "ACQ.SYSTEM_ERROR", "sub_msg": "系统异常，请重新查询"}  # fmt: skip
        if auth_code.startswith("10003") or trade.extra.get("auth_code", "").startswith("10003"):
            return {"code": "10003", "msg": "Order success pay inprocess",
                    **self._paid_fields(trade)}  # fmt: skip
        try:
            self.state.settle(trade, "paid")
        except ValueError as e:
            raise business("ACQ.TRADE_HAS_CLOSE", f"交易已经关闭: {e}") from e
        return self._pay_success(trade)

    def _pay_success(self, trade: Trade) -> Json:
        amount = yuan(trade.amount)
        return ok(
            **self._paid_fields(trade),
            receipt_amount=amount,
            buyer_pay_amount=amount,
            point_amount="0.00",
            invoice_amount=amount,
            gmt_payment=views.alipay_time(trade.paid_at),
            fund_bill_list=[{"fund_channel": "ALIPAYACCOUNT", "amount": amount}],
        )

    async def query(self, request: web.Request, m: Merchant, params: Params, biz: Json) -> Json:
        trade = self._trade(m, biz)
        return ok(**views.trade_query(trade, self.state.refunds_of(trade)))

    async def close(self, request: web.Request, m: Merchant, params: Params, biz: Json) -> Json:
        trade = self._trade(m, biz)
        if trade.status == TradeStatus.PAID:
            raise business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade.status = TradeStatus.CLOSED
        return ok(trade_no=trade.channel_trade_no, out_trade_no=trade.out_trade_no)

    async def cancel(self, request: web.Request, m: Merchant, params: Params, biz: Json) -> Json:
        """Close an open trade; refund a paid one in full (barcode reversal)."""
        trade = self._trade(m, biz)
        action = "close"
        if trade.status == TradeStatus.PAID:
            action = "refund"
            remaining = trade.amount - trade.refunded
            key = (CHANNEL, m.merchant_id, f"{trade.out_trade_no}|CANCEL")
            if remaining > 0 and key not in self.state.refunds:
                refund = self._new_refund(m, trade, "CANCEL", remaining, "cancel", "")
                self.state.refunds[key] = refund
                self.state.schedule_refund(refund, trade)
        else:
            trade.status = TradeStatus.CLOSED
        return ok(trade_no=trade.channel_trade_no, out_trade_no=trade.out_trade_no,
                  retry_flag="N", action=action)  # fmt: skip

    # --- refunds ------------------------------------------------------------------------

    @staticmethod
    def _new_refund(
        m: Merchant, trade: Trade, out_request_no: str, amount: int, fingerprint: str, reason: str
    ) -> Refund:
        trade.refunded += amount
        return Refund(
            channel=CHANNEL,
            merchant_id=m.merchant_id,
            out_refund_no=out_request_no,
            out_trade_no=trade.out_trade_no,
            amount=amount,
            total=trade.amount,
            currency=trade.currency,
            notify_url=trade.notify_url,
            channel_refund_no=trade.channel_trade_no + random_digits(6),
            fingerprint=fingerprint,
            extra={"reason": reason},
        )

    async def refund(self, request: web.Request, m: Merchant, params: Params, biz: Json) -> Json:
        amount = ap.amount(biz, "refund_amount")
        trade = self._trade(m, biz)
        out_request_no = ap.out_no(biz, "out_request_no", required=False) or trade.out_trade_no
        reason = ap.str_param(biz, "refund_reason", 256, required=False)
        key = (CHANNEL, m.merchant_id, f"{trade.out_trade_no}|{out_request_no}")
        fingerprint = ap.fingerprint({"amount": amount})
        existing = self.state.refunds.get(key)
        if existing is not None and existing.status != ItemStatus.FAILED:
            if existing.fingerprint != fingerprint:
                raise business("ACQ.DISCORDANT_REPEAT_REQUEST", "再次请求的参数与前一次不一致")
            return self._refund_answer(trade, existing, fund_change="N")
        if trade.status != TradeStatus.PAID:
            raise business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        if amount > trade.amount - trade.refunded:
            raise business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        refund = self._new_refund(m, trade, out_request_no, amount, fingerprint, reason)
        self.state.refunds[key] = refund
        self.state.schedule_refund(refund, trade)
        if refund.status == ItemStatus.FAILED:
            raise business("ACQ.SYSTEM_ERROR", "退款失败，请使用相同的退款请求号重试")
        return self._refund_answer(trade, refund, fund_change="Y")

    def _refund_answer(self, trade: Trade, refund: Refund, fund_change: str) -> Json:
        return ok(
            trade_no=trade.channel_trade_no,
            out_trade_no=trade.out_trade_no,
            buyer_logon_id=trade.extra.get("buyer_logon_id", ""),
            buyer_user_id=trade.extra.get("buyer_id", ""),
            fund_change=fund_change,
            refund_fee=yuan(trade.refunded),
            send_back_fee=yuan(refund.amount),
            gmt_refund_pay=views.alipay_time(refund.success_at or refund.created_at),
        )

    async def refund_query(
        self, request: web.Request, m: Merchant, params: Params, biz: Json
    ) -> Json:
        out_request_no = ap.out_no(biz, "out_request_no")
        trade = self._trade(m, biz)
        refund = self.state.refunds.get(
            (CHANNEL, m.merchant_id, f"{trade.out_trade_no}|{out_request_no}")
        )
        if refund is None:
            return ok()
        out = ok(
            trade_no=trade.channel_trade_no,
            out_trade_no=trade.out_trade_no,
            out_request_no=out_request_no,
            total_amount=yuan(trade.amount),
            refund_amount=yuan(refund.amount),
        )
        if refund.status == ItemStatus.SUCCEEDED:
            out["refund_status"] = "REFUND_SUCCESS"
            options = biz.get("query_options")
            if isinstance(options, list) and "gmt_refund_pay" in options:
                out["gmt_refund_pay"] = views.alipay_time(refund.success_at)
        return out

    # --- certificates -------------------------------------------------------------------

    async def cert_download(
        self, request: web.Request, m: Merchant, params: Params, biz: Json
    ) -> Json:
        """alipay.open.app.alipaycert.download (应用支付宝公钥证书下载): the Alipay public-key
        certificate named by `alipay_cert_sn`, as `alipay_cert_content` (base64 of its PEM).
        An SN the app has no certificate under is refused (40004; the sub code is the
        sandbox's own, Alipay does not publish this method's error table)."""
        sn = ap.str_param(biz, "alipay_cert_sn", 64, prefix="")
        cert = self.p.download_cert(m, sn)
        if cert is None:
            raise business("CERT_NOT_EXIST", "支付宝公钥证书不存在")
        return ok(alipay_cert_content=base64.b64encode(cert_pem(cert).encode()).decode("ascii"))


__all__ = ["BILL_FILE_PATH", "AlipayApi"]
