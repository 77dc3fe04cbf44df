"""WeChat Pay API v3 endpoints of the sandbox, with WeChat-like validation.

Every request is authenticated (`WeChatProvider.authenticate`) before anything else and
every answer, errors included, is signed (`WeChatProvider.respond`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gzip
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from paymesh.channels.sandbox import bills, fundflow
from paymesh.channels.sandbox import wechat_views as views
from paymesh.channels.sandbox.state import (
    Merchant,
    Refund,
    Trade,
    TradeStatus,
    now,
    random_digits,
    random_token,
    rfc3339,
)
from paymesh.channels.sandbox.wechat_errors import CHANNEL, WeChatError
from paymesh.channels.sandbox.wechat_params import (
    _DEFAULT_EXPIRY,
    _OUT_REFUND_NO,
    _OUT_TRADE_NO,
    Answer,
    Json,
    _check_appid,
    _check_mchid,
    _currency,
    _fingerprint,
    _int,
    _obj,
    _param,
    _str,
    _url,
)
from paymesh.channels.sandbox.wechat_transfers import WeChatTransfers
from paymesh.channels.wechat.sign import aes_gcm_encrypt

if TYPE_CHECKING:
    from paymesh.channels.sandbox.wechat import WeChatProvider

Endpoint = Callable[[web.Request, Merchant, Json], Awaitable[Answer]]


class WeChatApi:
    def __init__(self, provider: WeChatProvider) -> None:
        self.p = provider
        self.state = provider.state

    def routes(self) -> list[web.RouteDef]:
        w = self._wrap
        base = "/v3/pay/transactions"
        bills = "/v3/fund-app/mch-transfer/transfer-bills"
        return [
            web.post(base + "/{kind:native|jsapi|app|h5}", w(self.create_trade)),
            web.get(base + "/out-trade-no/{no}", w(self.query_trade)),
            web.get(base + "/id/{id}", w(self.query_trade_by_id)),
            web.post(base + "/out-trade-no/{no}/close", w(self.close_trade)),
            web.post("/v3/refund/domestic/refunds", w(self.create_refund)),
            web.get("/v3/refund/domestic/refunds/{no}", w(self.query_refund)),
            *WeChatTransfers(self).routes(bills),
            web.get("/v3/certificates", w(self.certificates)),
            web.get("/v3/bill/tradebill", w(self.tradebill)),
            web.get("/v3/bill/fundflowbill", w(self.fundflowbill)),
            web.get("/v3/billdownload/file", self.bill_file),
        ]

    def _wrap(self, endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                merchant, body = await self.p.authenticate(request)
                data: Json = {}
                if request.method == "POST" and body:
                    try:
                        parsed = json.loads(body)
                    except ValueError as e:
                        raise _param("请求体不是合法的JSON") from e
                    if not isinstance(parsed, dict):
                        raise _param("请求体必须是JSON对象")
                    data = parsed
                status, payload = await endpoint(request, merchant, data)
            except WeChatError as e:
                return self.p.error(request, e)
            return self.p.respond(request, status, payload)

        return handler

    def _base_url(self, request: web.Request) -> str:
        return self.state.public_url or f"{request.scheme}://{request.host}"

    # --- trades -------------------------------------------------------------------------

    async def create_trade(self, request: web.Request, m: Merchant, data: Json) -> Answer:
        kind = request.match_info["kind"]
        _check_mchid(m, _str(data, "mchid", 32))
        appid = _str(data, "appid", 32)
        description = _str(data, "description", 127)
        out_trade_no = _str(data, "out_trade_no", 32)
        if not _OUT_TRADE_NO.match(out_trade_no):
            raise _param("out_trade_no must be 6-32 characters of [A-Za-z0-9_-|*@]")
        notify_url = _url(data, "notify_url", required=True)
        amount = _obj(data, "amount")
        total = _int(amount, "total", "amount")
        currency = _currency(amount)
        attach = _str(data, "attach", 128, required=False)
        payer_openid = ""
        if kind == "jsapi":
            payer_openid = _str(_obj(data, "payer"), "openid", 128)
        if kind == "h5":
            scene = _obj(data, "scene_info")
            _str(scene, "payer_client_ip", 45)
            _str(_obj(scene, "h5_info"), "type", 32)
        expire_at = now() + _DEFAULT_EXPIRY
        if data.get("time_expire"):
            try:
                expire_at = dt.datetime.fromisoformat(_str(data, "time_expire", 64))
            except ValueError as e:
                raise _param("time_expire must be RFC 3339 (2018-06-08T10:34:56+08:00)") from e
            if expire_at.tzinfo is None:
                raise _param("time_expire must carry a time zone offset")
        _check_appid(m, appid)

        fingerprint = _fingerprint({"kind": kind, **data})
        trade = self.state.trade(CHANNEL, m.merchant_id, out_trade_no)
        if trade is not None:
            if trade.fingerprint != fingerprint:
                raise WeChatError(400, "INVALID_REQUEST", "201 商户订单号重复")
            if trade.status == TradeStatus.PAID:
                raise WeChatError(400, "ORDERPAID", "该订单已支付")
            if trade.status != TradeStatus.PENDING:
                raise WeChatError(400, "ORDER_CLOSED", "订单已关闭")
            return 200, trade.extra["answer"]
        created = now()
        trade = Trade(
            channel=CHANNEL,
            merchant_id=m.merchant_id,
            out_trade_no=out_trade_no,
            amount=total,
            currency=currency,
            subject=description,
            method=kind,
            notify_url=notify_url,
            channel_trade_no="4200" + created.strftime("%Y%m%d") + random_digits(16),
            fingerprint=fingerprint,
            created_at=created,
            expire_at=expire_at,
            extra={"appid": appid, "attach": attach},
        )
        if payer_openid:
            trade.extra["payer_openid"] = payer_openid
        url = self.p.pay_url(trade, self._base_url(request))
        prepay_id = "wx" + created.strftime("%d%H%M%S") + secrets.token_hex(13)
        answer: Json = {
            "native": {"code_url": url},
            "h5": {"h5_url": url},
        }.get(kind, {"prepay_id": prepay_id})
        trade.extra.update(answer=answer, prepay_id=prepay_id)
        self.state.trades[(CHANNEL, m.merchant_id, out_trade_no)] = trade
        return 200, answer

    def _query_mchid(self, request: web.Request, m: Merchant) -> None:
        mchid = request.query.get("mchid")
        if not mchid:
            raise _param("输入源“/query/mchid”映射到字段“mchid”必填性规则校验失败，此字段为必填项")
        _check_mchid(m, mchid)

    async def query_trade(self, request: web.Request, m: Merchant, _data: Json) -> Answer:
        self._query_mchid(request, m)
        trade = self.state.trade(CHANNEL, m.merchant_id, request.match_info["no"])
        if trade is None:
            raise WeChatError(404, "ORDER_NOT_EXIST", "订单不存在")
        return 200, views.transaction(trade)

    async def query_trade_by_id(self, request: web.Request, m: Merchant, _data: Json) -> Answer:
        self._query_mchid(request, m)
        wanted = request.match_info["id"]
        for trade in self.state.trades.values():
            if (trade.channel, trade.merchant_id, trade.channel_trade_no) == (
                CHANNEL,
                m.merchant_id,
                wanted,
            ) and trade.status == TradeStatus.PAID:
                return 200, views.transaction(trade)
        raise WeChatError(404, "ORDER_NOT_EXIST", "订单不存在")

    async def close_trade(self, request: web.Request, m: Merchant, data: Json) -> Answer:
        _check_mchid(m, _str(data, "mchid", 32))
        trade = self.state.trade(CHANNEL, m.merchant_id, request.match_info["no"])
        if trade is None:
            raise WeChatError(404, "ORDER_NOT_EXIST", "订单不存在")
        if trade.status == TradeStatus.PAID:
            raise WeChatError(400, "ORDERPAID", "订单已支付")
        race = self.state.faults.take(CHANNEL, "pay_during_close", trade.out_trade_no)
        if race is not None:  # answered "closed"; the payment in flight lands a moment later
            asyncio.get_running_loop().call_later(race.seconds, self._pay_in_flight, trade)
            return 204, None
        trade.status = TradeStatus.CLOSED
        return 204, None

    def _pay_in_flight(self, trade: Trade) -> None:
        with contextlib.suppress(ValueError):  # expired meanwhile: nothing was paid
            self.state.settle(trade, "paid")

    # --- refunds ------------------------------------------------------------------------

    def _find_trade(self, m: Merchant, data: Json) -> Trade | None:
        out_trade_no = _str(data, "out_trade_no", 32, required=False)
        transaction_id = _str(data, "transaction_id", 32, required=False)
        if not out_trade_no and not transaction_id:
            raise _param("transaction_id or out_trade_no is required")
        for trade in self.state.trades.values():
            if trade.channel != CHANNEL or trade.merchant_id != m.merchant_id:
                continue
            if transaction_id and trade.channel_trade_no == transaction_id:
                return trade
            if out_trade_no and trade.out_trade_no == out_trade_no:
                return trade
        return None

    async def create_refund(self, request: web.Request, m: Merchant, data: Json) -> Answer:
        out_refund_no = _str(data, "out_refund_no", 64)
        if not _OUT_REFUND_NO.match(out_refund_no):
            raise _param("out_refund_no must be 1-64 characters of [A-Za-z0-9_-|*@]")
        amount = _obj(data, "amount")
        refund_amount = _int(amount, "refund", "amount")
        total = _int(amount, "total", "amount")
        currency = _currency(amount)
        notify_url = _url(data, "notify_url", required=False)
        _str(data, "reason", 80, required=False)
        trade = self._find_trade(m, data)
        key = (CHANNEL, m.merchant_id, out_refund_no)
        fingerprint = _fingerprint(data)
        existing = self.state.refunds.get(key)
        if existing is not None:
            if existing.fingerprint != fingerprint or trade is None:
                raise WeChatError(400, "INVALID_REQUEST", "退款单号重复，且与之前的请求参数不一致")
            return 200, views.refund(existing, trade)
        if trade is None:
            raise WeChatError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        if trade.status != TradeStatus.PAID:
            raise WeChatError(400, "INVALID_REQUEST", "订单未支付，不能退款")
        if total != trade.amount:
            raise _param("amount.total does not equal the order's amount")
        if refund_amount > trade.amount - trade.refunded:
            raise WeChatError(403, "NOT_ENOUGH", "申请退款金额超过订单可退金额")
        refund = Refund(
            channel=CHANNEL,
            merchant_id=m.merchant_id,
            out_refund_no=out_refund_no,
            out_trade_no=trade.out_trade_no,
            amount=refund_amount,
            total=total,
            currency=currency,
            notify_url=notify_url,
            channel_refund_no="5030" + now().strftime("%Y%m%d") + random_digits(20),
            fingerprint=fingerprint,
            extra={"funds_account": data.get("funds_account") or "AVAILABLE"},
        )
        trade.refunded += refund_amount
        self.state.refunds[key] = refund
        self.state.schedule_refund(refund, trade)
        return 200, views.refund(refund, trade)

    async def query_refund(self, request: web.Request, m: Merchant, _data: Json) -> Answer:
        refund = self.state.refunds.get((CHANNEL, m.merchant_id, request.match_info["no"]))
        trade = self.state.trade(CHANNEL, m.merchant_id, refund.out_trade_no) if refund else None
        if refund is None or trade is None:
            raise WeChatError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return 200, views.refund(refund, trade)

    # --- platform certificates ------------------------------------------------------------

    async def certificates(self, request: web.Request, m: Merchant, _data: Json) -> Answer:
        cert = self.p.platform
        nonce = random_token(12)
        ciphertext = aes_gcm_encrypt(m.extra["api_v3_key"], nonce, "certificate", cert.cert_pem)
        entry = {
            "serial_no": cert.serial_hex,
            "effective_time": rfc3339(cert.cert.not_valid_before_utc),
            "expire_time": rfc3339(cert.cert.not_valid_after_utc),
            "encrypt_certificate": {
                "algorithm": "AEAD_AES_256_GCM",
                "nonce": nonce,
                "associated_data": "certificate",
                "ciphertext": ciphertext,
            },
        }
        return 200, {"data": [entry]}

    # --- bills ----------------------------------------------------------------------------

    def _bill_query(self, request: web.Request) -> tuple[dt.date, str]:
        try:
            day = dt.date.fromisoformat(request.query.get("bill_date", ""))
        except ValueError as e:
            raise _param("bill_date must be yyyy-MM-dd") from e
        tar = request.query.get("tar_type", "")
        if tar not in ("", "GZIP"):
            raise _param("tar_type must be GZIP or absent")
        return day, tar

    def _park(self, request: web.Request, m: Merchant, raw: bytes, tar: str) -> Answer:
        """The file is parked behind a download token; `hash_value` is the SHA1 of the
        uncompressed file."""
        token = secrets.token_urlsafe(24)
        data = gzip.compress(raw) if tar == "GZIP" else raw
        self.state.bill_files[token] = (f"{CHANNEL}/{m.merchant_id}", data)
        url = f"{self._base_url(request)}/v3/billdownload/file?token={token}"
        return 200, {"hash_type": "SHA1", "hash_value": bills.sha1_hex(raw), "download_url": url}

    async def tradebill(self, request: web.Request, m: Merchant, _data: Json) -> Answer:
        """`GET /v3/bill/tradebill`: the day's bill, generated now."""
        day, tar = self._bill_query(request)
        if request.query.get("bill_type", "ALL") != "ALL":
            raise _param("the sandbox serves bill_type=ALL only")
        lines = bills.entries(self.state, CHANNEL, m.merchant_id, day)
        if not lines:
            raise WeChatError(400, "NO_STATEMENT_EXIST", "请求的账单文件不存在")
        return self._park(request, m, bills.wechat_csv(lines, m.merchant_id, m.app_id), tar)

    async def fundflowbill(self, request: web.Request, m: Merchant, _data: Json) -> Answer:
        """`GET /v3/bill/fundflowbill`: the BASIC account's movements of the day (the
        OPERATION and FEES accounts never move in the sandbox: no bill)."""
        day, tar = self._bill_query(request)
        account_type = request.query.get("account_type", "BASIC")
        if account_type not in ("BASIC", "OPERATION", "FEES"):
            raise _param("account_type must be BASIC, OPERATION or FEES")
        lines = bills.entries(self.state, CHANNEL, m.merchant_id, day)
        faults = self.state.faults.armed(CHANNEL)
        moves = fundflow.apply_faults(fundflow.movements(lines, m.merchant_id), faults)
        if account_type != "BASIC" or not moves:
            raise WeChatError(400, "NO_STATEMENT_EXIST", "请求的账单文件不存在")
        return self._park(request, m, fundflow.fund_flow_csv(moves, m.merchant_id, day), tar)

    async def bill_file(self, request: web.Request) -> web.StreamResponse:
        """The download: a signed request like any other; the answer is not signed."""
        try:
            merchant, _ = await self.p.authenticate(request)
        except WeChatError as e:
            return self.p.error(request, e)
        owner, data = self.state.bill_files.get(request.query.get("token", ""), ("", b""))
        if owner != f"{CHANNEL}/{merchant.merchant_id}":
            return self.p.error(request, WeChatError(400, "PARAM_ERROR", "token 无效或已过期"))
        return web.Response(body=data, content_type="application/octet-stream")


__all__ = ["WeChatApi"]
