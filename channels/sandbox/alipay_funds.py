"""The sandbox's Alipay fund methods: `alipay.fund.trans.uni.transfer` (at least 0.10 yuan),
`alipay.fund.trans.common.query`, and the daily bill (`alipay.data.dataservice.bill.
downloadurl.query` and the file it points at)."""

from __future__ import annotations

import datetime as dt
import secrets
from urllib.parse import urlencode

from aiohttp import web

from paymesh.channels.sandbox import alipay_params as ap
from paymesh.channels.sandbox import alipay_views as views
from paymesh.channels.sandbox import bills
from paymesh.channels.sandbox.alipay_errors import CHANNEL, business
from paymesh.channels.sandbox.alipay_params import Json, Params, ok
from paymesh.channels.sandbox.control import base_url as control_base_url
from paymesh.channels.sandbox.state import (
    ItemStatus,
    Merchant,
    SandboxState,
    Transfer,
    now,
    random_digits,
)

BILL_FILE_PATH = "/downloadBillFile.resource"
_MIN_TRANSFER = 10


class AlipayFundsApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    # --- transfers ----------------------------------------------------------------------

    async def transfer(self, request: web.Request, m: Merchant, params: Params, biz: Json) -> Json:
        out_biz_no = ap.out_no(biz, "out_biz_no", prefix="")
        amount = ap.amount(biz, "trans_amount", prefix="")
        product_code = ap.str_param(biz, "product_code", 64, prefix="")
        if product_code != "TRANS_ACCOUNT_NO_PWD":
            raise ap.bad("product_code must be TRANS_ACCOUNT_NO_PWD", "")
        biz_scene = (
            ap.str_param(biz, "biz_scene", 64, required=False, prefix="") or "DIRECT_TRANSFER"
        )
        title = ap.str_param(biz, "order_title", 128, prefix="")
        remark = ap.str_param(biz, "remark", 200, required=False, prefix="")
        payee = biz.get("payee_info")
        if not isinstance(payee, dict):
            raise ap.bad("payee_info is required", "")
        identity = ap.str_param(payee, "identity", 100, prefix="")
        identity_type = ap.str_param(payee, "identity_type", 32, prefix="")
        if identity_type not in ("ALIPAY_USER_ID", "ALIPAY_LOGON_ID", "ALIPAY_OPEN_ID"):
            raise ap.bad("payee_info.identity_type must be ALIPAY_USER_ID or ALIPAY_LOGON_ID", "")
        if identity_type == "ALIPAY_LOGON_ID" and not ap.str_param(payee, "name", 64, False, ""):
            raise ap.bad("payee_info.name is required for ALIPAY_LOGON_ID", "")
        if amount < _MIN_TRANSFER:
            raise business("EXCEED_LIMIT_SM_MIN_AMOUNT", "单笔最低转账金额0.1元")
        key = (CHANNEL, m.merchant_id, out_biz_no)
        fingerprint = ap.fingerprint({"amount": amount, "payee": payee, "scene": biz_scene})
        existing = self.state.transfers.get(key)
        if existing is not None:
            if existing.fingerprint != fingerprint:
                raise business("PAYMENT_INFO_INCONSISTENCY", "两次请求商户单号一样，但是参数不一致")
            return self._transfer_answer(existing)
        created = now()
        transfer = Transfer(
            channel=CHANNEL,
            merchant_id=m.merchant_id,
            out_transfer_no=out_biz_no,
            amount=amount,
            payee=identity,
            remark=remark or title,
            notify_url=params.get("notify_url", ""),
            channel_transfer_no=created.strftime("%Y%m%d") + "1100" + random_digits(22),
            fingerprint=fingerprint,
            extra={
                "pay_fund_order_id": created.strftime("%Y%m%d") + "1100" + random_digits(22),
                "biz_scene": biz_scene,
                "product_code": product_code,
                "order_title": title,
                "identity_type": identity_type,
            },
        )
        self.state.transfers[key] = transfer
        self.state.schedule_transfer(transfer)
        return self._transfer_answer(transfer)

    @staticmethod
    def _transfer_answer(transfer: Transfer) -> Json:
        if transfer.status == ItemStatus.FAILED:
            reason = transfer.fail_reason or "PAYEE_ACCOUNT_ABNORMAL"
            raise business(reason, f"转账失败: {reason}")
        return ok(**views.transfer_answer(transfer))

    async def transfer_query(
        self, request: web.Request, m: Merchant, params: Params, biz: Json
    ) -> Json:
        out_biz_no = ap.str_param(biz, "out_biz_no", 64, required=False, prefix="")
        order_id = ap.str_param(biz, "order_id", 64, required=False, prefix="")
        fund_id = ap.str_param(biz, "pay_fund_order_id", 64, required=False, prefix="")
        if not (out_biz_no or order_id or fund_id):
            raise ap.bad("out_biz_no, order_id or pay_fund_order_id is required", "")
        for t in self.state.transfers.values():
            if t.channel != CHANNEL or t.merchant_id != m.merchant_id:
                continue
            if out_biz_no and t.out_transfer_no != out_biz_no:
                continue
            if order_id and t.channel_transfer_no != order_id:
                continue
            if fund_id and t.extra.get("pay_fund_order_id") != fund_id:
                continue
            return ok(**views.transfer_query(t))
        raise business("ORDER_NOT_EXIST", "转账订单不存在")

    # --- bills ----------------------------------------------------------------------------

    async def bill_url(self, request: web.Request, m: Merchant, params: Params, biz: Json) -> Json:
        """`bill_type` trade, a daily `bill_date`; the URL serves the zip (no signature)."""
        if ap.str_param(biz, "bill_type", 16, prefix="isv.") != "trade":
            raise ap.bad("the sandbox serves bill_type trade only", "isv.")
        try:
            day = dt.date.fromisoformat(ap.str_param(biz, "bill_date", 10, prefix="isv."))
        except ValueError as e:
            raise ap.bad("bill_date must be yyyy-MM-dd (daily bills)", "isv.") from e
        lines = bills.entries(self.state, CHANNEL, m.merchant_id, day)
        if not lines:
            raise business("isp.bill_not_exist", "账单不存在")
        pid = "2088" + str(int(bills.sha1_hex(m.merchant_id.encode()), 16) % 10**12).zfill(12)
        token = secrets.token_urlsafe(24)
        self.state.bill_files[token] = (
            f"{CHANNEL}/{m.merchant_id}",
            bills.alipay_zip(lines, pid, day),
        )
        stamp = day.strftime("%Y%m%d")
        query = urlencode({"bizType": "trade", "userId": f"{pid}0156", "fileType": "csv.zip",
                           "bizDates": stamp, "downloadFileName": f"{pid}0156_{stamp}.csv.zip",
                           "fileId": token})  # fmt: skip
        return ok(bill_download_url=f"{control_base_url(request)}{BILL_FILE_PATH}?{query}")

    async def bill_file(self, request: web.Request) -> web.StreamResponse:
        """The zip behind a bill_download_url (its `fileId` is the token)."""
        owner, data = self.state.bill_files.get(request.query.get("fileId", ""), ("", b""))
        if not owner.startswith(f"{CHANNEL}/"):
            return web.Response(status=404, text="下载超时，请重新下载")
        return web.Response(body=data, content_type="application/oct-stream")


__all__ = ["BILL_FILE_PATH", "AlipayFundsApi"]
