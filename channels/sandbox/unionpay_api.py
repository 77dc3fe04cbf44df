"""UnionPay ACP 5.1.0 transactions of the sandbox (`/gateway/api/*.do`).

- `frontTransReq.do` (consume 01/01, channelType 07/08): the payer's browser posts the
  signed form; the trade is created (or re-opened by the same request) and the browser is
  sent to the payer page. Errors are an HTML page carrying respCode/respMsg.
- `appTransReq.do` (consume, channelType 08): answers a `tn`; the trade waits for the payer.
- `queryTrans.do` (00/00): by orderId + txnTime of an order, refund or cancel. A consume
  not paid (yet), closed or unknown -> respCode 34; paid -> 00 with origRespCode 00;
  failed -> origRespCode 30. A refund: origRespCode 05 while in process, 00, or 30.
- `backTransReq.do`: refund 04/00 (origQryId of a paid consume, txnAmt up to what is left,
  its own orderId; answers 00 = accepted, the result follows by backUrl notify and query)
  and consume cancel 31/00 (same day, full amount, nothing refunded: the trade is
  reversed and closed).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import zlib
from html import escape
from typing import TYPE_CHECKING

from aiohttp import web

from paymesh.channels.sandbox import bills
from paymesh.channels.sandbox.control import base_url
from paymesh.channels.sandbox.state import (
    CHINA_TZ,
    ItemStatus,
    Merchant,
    Refund,
    Trade,
    TradeStatus,
    now,
    random_digits,
)
from paymesh.channels.sandbox.unionpay_errors import (
    CHANNEL,
    RESP_DECLINED,
    RESP_DUPLICATE,
    RESP_NOT_FOUND,
    RESP_ORIGINAL,
    UnionpayError,
    bad,
    missing,
)

if TYPE_CHECKING:
    from paymesh.channels.sandbox.unionpay import UnionpayProvider

Fields = dict[str, str]
MAX_FEN = 10**12 - 1


def _required(fields: Fields, name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise missing(name)
    return value


def _order_id(fields: Fields, name: str = "orderId") -> str:
    value = _required(fields, name)
    if not (8 <= len(value) <= 40 and value.isalnum() and value.isascii()):
        raise bad(name, "8-40 letters or digits")
    return value


def _time(fields: Fields, name: str, required: bool = True) -> dt.datetime | None:
    value = _required(fields, name) if required else fields.get(name, "")
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=CHINA_TZ)
    except ValueError as e:
        raise bad(name, "yyyyMMddHHmmss") from e


def _amount(fields: Fields) -> int:
    value = _required(fields, "txnAmt")
    if not value.isdigit() or not 0 < int(value) <= MAX_FEN:
        raise bad("txnAmt", "1 to 12 digits of fen")
    return int(value)


def _fingerprint(fields: Fields) -> str:
    keep = {k: v for k, v in fields.items() if k not in ("signature", "certId")}
    return json.dumps(keep, sort_keys=True)


class UnionpayApi:
    def __init__(self, provider: UnionpayProvider) -> None:
        self.p = provider
        self.state = provider.state

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/gateway/api/frontTransReq.do", self.front),
            web.post("/gateway/api/appTransReq.do", self.app),
            web.post("/gateway/api/queryTrans.do", self.query),
            web.post("/gateway/api/backTransReq.do", self.back),
            web.post("/", self.file_transfer),
            web.get("/_sandbox/unionpay/trust-roots", self.trust_roots),
        ]

    async def trust_roots(self, request: web.Request) -> web.Response:
        return web.json_response(self.p.trust_roots())

    async def _fields(self, request: web.Request) -> Fields:
        form = await request.post()
        return {k: v for k, v in form.items() if isinstance(v, str)}

    # --- consume ---------------------------------------------------------------------------

    def _consume(self, merchant: Merchant, fields: Fields, channel_types: tuple[str, ...]) -> Trade:
        if (fields["txnType"], fields["txnSubType"]) != ("01", "01"):
            raise bad("txnType", "consume is 01/01 here")
        if fields["bizType"] != "000201":
            raise bad("bizType", "000201 (gateway payment)")
        channel_type = _required(fields, "channelType")
        if channel_type not in channel_types:
            raise bad("channelType", "/".join(channel_types))
        order_id = _order_id(fields)
        _time(fields, "txnTime")
        amount = _amount(fields)
        if _required(fields, "currencyCode") != "156":
            raise bad("currencyCode", "156")
        back_url = _required(fields, "backUrl")
        expire = _time(fields, "payTimeout", required=False)
        fingerprint = _fingerprint(fields)
        existing = self.state.trade(CHANNEL, merchant.merchant_id, order_id)
        if existing is not None:
            if existing.fingerprint != fingerprint:
                raise UnionpayError(RESP_DUPLICATE, "重复交易")
            return existing
        method = {"07": "page", "08": "h5"}[channel_type]
        trade = Trade(
            channel=CHANNEL, merchant_id=merchant.merchant_id, out_trade_no=order_id,
            amount=amount, currency="CNY", subject=fields.get("orderDesc", "UnionPay order"),
            method=method, notify_url=back_url, channel_trade_no=random_digits(21),
            fingerprint=fingerprint, expire_at=expire,
            extra={k: fields.get(k, "") for k in (
                "txnTime", "bizType", "accessType", "channelType", "frontUrl")},
        )  # fmt: skip
        self.state.trades[(CHANNEL, merchant.merchant_id, order_id)] = trade
        return trade

    async def front(self, request: web.Request) -> web.StreamResponse:
        fields = await self._fields(request)
        try:
            merchant = self.p.authenticate(fields)
            trade = self._consume(merchant, fields, ("07", "08"))
        except UnionpayError as e:
            body = (
                "<!doctype html><html><head><meta charset='utf-8'><title>银联 - 错误</title>"
                f"</head><body><h1>交易失败</h1><p>respCode={escape(e.code)}</p>"
                f"<p>respMsg={escape(e.msg)}</p></body></html>"
            )
            return web.Response(text=body, content_type="text/html", status=400)
        if trade.status != TradeStatus.PENDING:
            return web.Response(text="该订单已处理", content_type="text/html", status=409)
        raise web.HTTPSeeOther(self.p.pay_url(trade, base_url(request)))

    async def app(self, request: web.Request) -> web.Response:
        fields = await self._fields(request)
        try:
            merchant = self.p.authenticate(fields)
            trade = self._consume(merchant, fields, ("08",))
        except UnionpayError as e:
            return self.p.error(fields, e)
        trade.method = "app"
        tn = trade.extra.setdefault("tn", random_digits(21))
        return self.p.answer(fields, {"respCode": "00", "respMsg": "成功[0000000]", "tn": tn})

    # --- query -----------------------------------------------------------------------------

    async def query(self, request: web.Request) -> web.Response:
        fields = await self._fields(request)
        try:
            merchant = self.p.authenticate(fields)
            if (fields["txnType"], fields["txnSubType"]) != ("00", "00"):
                raise bad("txnType", "query is 00/00")
            order_id = _order_id(fields)
            txn_time = _required(fields, "txnTime")
            answer = self._query(merchant, order_id, txn_time)
        except UnionpayError as e:
            return self.p.error(fields, e)
        return self.p.answer(fields, answer)

    def _query(self, merchant: Merchant, order_id: str, txn_time: str) -> Fields:
        not_found = UnionpayError(RESP_NOT_FOUND, "查无此交易")
        trade = self.state.trade(CHANNEL, merchant.merchant_id, order_id)
        if trade is not None:
            if trade.extra["txnTime"] != txn_time:
                raise not_found
            if trade.status == TradeStatus.PAID or trade.extra.get("cancelled"):
                orig = "00"
            elif trade.status == TradeStatus.FAILED:
                orig = RESP_DECLINED
            else:
                raise not_found
            return {
                "respCode": "00", "respMsg": "成功[0000000]", "origRespCode": orig,
                "origRespMsg": "成功[0000000]" if orig == "00" else "交易失败",
                "txnType": "01", "txnSubType": "01", "queryId": trade.channel_trade_no,
                "txnAmt": str(trade.amount), "currencyCode": "156",
                "settleAmt": str(trade.amount), "settleDate": txn_time[4:8],
                "traceNo": trade.channel_trade_no[-6:], "traceTime": txn_time[4:],
            }  # fmt: skip
        refund = self.state.refunds.get((CHANNEL, merchant.merchant_id, order_id))
        if refund is None or refund.extra["txnTime"] != txn_time:
            raise not_found
        orig = {ItemStatus.SUCCEEDED: "00", ItemStatus.FAILED: RESP_DECLINED}.get(
            refund.status, "05"
        )
        return {
            "respCode": "00", "respMsg": "成功[0000000]", "origRespCode": orig,
            "origRespMsg": {"00": "成功[0000000]", "05": "交易处理中"}.get(orig, "交易失败"),
            "txnType": "04", "txnSubType": "00", "queryId": refund.channel_refund_no,
            "txnAmt": str(refund.amount), "currencyCode": "156",
        }  # fmt: skip

    # --- refund and cancel -----------------------------------------------------------------

    async def back(self, request: web.Request) -> web.Response:
        fields = await self._fields(request)
        try:
            merchant = self.p.authenticate(fields)
            txn = (fields["txnType"], fields["txnSubType"])
            if txn == ("04", "00"):
                answer = self._refund(merchant, fields)
            elif txn == ("31", "00"):
                answer = self._cancel(merchant, fields)
            else:
                raise bad("txnType", "backTransReq takes 04/00 and 31/00 here")
        except UnionpayError as e:
            return self.p.error(fields, e)
        return self.p.answer(fields, {"respCode": "00", "respMsg": "成功[0000000]", **answer})

    def _original(self, merchant: Merchant, fields: Fields) -> Trade:
        orig = _required(fields, "origQryId")
        for trade in self.state.trades.values():
            if (
                trade.merchant_id == merchant.merchant_id
                and trade.channel == CHANNEL
                and (trade.channel_trade_no == orig)
            ):
                if trade.status != TradeStatus.PAID:
                    raise UnionpayError(RESP_ORIGINAL, "原交易状态不正确")
                return trade
        raise UnionpayError(RESP_ORIGINAL, "原交易不存在")

    def _refund(self, merchant: Merchant, fields: Fields) -> Fields:
        order_id = _order_id(fields)
        _time(fields, "txnTime")
        amount = _amount(fields)
        trade = self._original(merchant, fields)
        key = (CHANNEL, merchant.merchant_id, order_id)
        fingerprint = _fingerprint(fields)
        existing = self.state.refunds.get(key)
        if existing is not None or self.state.trade(*key) is not None:
            if existing is not None and existing.fingerprint == fingerprint:
                return {"queryId": existing.channel_refund_no}
            raise UnionpayError(RESP_DUPLICATE, "重复交易")
        if amount > trade.amount - trade.refunded:
            raise UnionpayError(RESP_ORIGINAL, "退货金额超限")
        refund = Refund(
            channel=CHANNEL, merchant_id=merchant.merchant_id, out_refund_no=order_id,
            out_trade_no=trade.out_trade_no, amount=amount, total=trade.amount,
            currency="CNY", notify_url=fields.get("backUrl", ""),
            channel_refund_no=random_digits(21), fingerprint=fingerprint,
            extra={"txnTime": fields["txnTime"]},
        )  # fmt: skip
        self.state.refunds[key] = refund
        trade.refunded += amount
        self.state.schedule_refund(refund, trade)
        return {"queryId": refund.channel_refund_no}

    def _cancel(self, merchant: Merchant, fields: Fields) -> Fields:
        _order_id(fields)
        _time(fields, "txnTime")
        amount = _amount(fields)
        trade = self._original(merchant, fields)
        if trade.extra["txnTime"][:8] != now().strftime("%Y%m%d"):
            raise UnionpayError(RESP_ORIGINAL, "原交易非当日交易，不能撤销")
        if amount != trade.amount or trade.refunded:
            raise UnionpayError(RESP_ORIGINAL, "撤销金额须与原交易金额一致")
        trade.status = TradeStatus.CLOSED
        trade.extra["cancelled"] = True
        return {"queryId": random_digits(21), "origQryId": trade.channel_trade_no}

    # --- reconciliation file -----------------------------------------------------------------

    async def file_transfer(self, request: web.Request) -> web.Response:
        """76/01 fileType 00 `settleDate=MMDD` (the latest such day up to today): the day's
        zip as `fileContent` = base64(deflate(zip)); respCode 98 when there is nothing."""
        fields = await self._fields(request)
        try:
            merchant = self.p.authenticate(fields)
            if (fields["txnType"], fields["txnSubType"]) != ("76", "01"):
                raise bad("txnType", "the file host takes 76/01")
            if _required(fields, "fileType") != "00":
                raise bad("fileType", "00 (the merchant's reconciliation file)")
            day = _settle_day(_required(fields, "settleDate"))
        except UnionpayError as e:
            return self.p.error(fields, e)
        lines = bills.entries(self.state, CHANNEL, merchant.merchant_id, day)
        if not lines:
            return self.p.answer(fields, {"respCode": "98", "respMsg": "文件不存在"})
        data = bills.unionpay_zip(lines, merchant.merchant_id, day)
        return self.p.answer(
            fields,
            {
                "respCode": "00", "respMsg": "成功[0000000]", "settleDate": fields["settleDate"],
                "fileType": "00", "fileName": f"{merchant.merchant_id}_{day:%Y%m%d}.zip",
                "fileContent": base64.b64encode(zlib.compress(data)).decode("ascii"),
            },
        )  # fmt: skip


def _settle_day(mmdd: str) -> dt.date:
    today = now().date()
    try:
        day = dt.datetime.strptime(f"{today.year}{mmdd}", "%Y%m%d").date()
    except ValueError as e:
        raise bad("settleDate", "MMDD") from e
    return day if day <= today else day.replace(year=today.year - 1)


__all__ = ["UnionpayApi"]
