"""Alipay wire views of the sandbox's records: statuses, yuan amounts, answers, notifies.

Statuses: a trade is `WAIT_BUYER_PAY` while open, `TRADE_SUCCESS` once paid and
`TRADE_CLOSED` when closed, failed, or paid and then refunded in full (as Alipay does);
`TRADE_FINISHED` (no longer refundable) is not reached in the sandbox. Transfers are
`DEALING` until final, then `SUCCESS` or `FAIL`.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from paymesh.channels.alipay.sign import notify_canonical
from paymesh.channels.sandbox.state import (
    CHINA_TZ,
    ItemStatus,
    Merchant,
    Refund,
    Trade,
    TradeStatus,
    Transfer,
    now,
)
from paymesh.money import yuan

_YUAN = re.compile(r"^(0|[1-9]\d{0,9})(\.\d{1,2})?$")


def fen(text: str) -> int | None:
    """Minor units of a yuan string ("0.01" -> 1); None when it is not one."""
    m = _YUAN.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        return None
    whole, frac = m.group(1), (m.group(2) or ".")[1:]
    return int(whole) * 100 + int(frac.ljust(2, "0"))


def alipay_time(value: dt.datetime | None, millis: bool = False) -> str:
    """`yyyy-MM-dd HH:mm:ss[.SSS]`, Beijing time ("" for None)."""
    if value is None:
        return ""
    local = value.astimezone(CHINA_TZ)
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{local.microsecond // 1000:03d}" if millis else text


def refunded(refunds: Iterable[Refund]) -> int:
    """Sum of the successful refunds."""
    return sum(r.amount for r in refunds if r.status == ItemStatus.SUCCEEDED)


def trade_status(trade: Trade, refunds: Iterable[Refund] = ()) -> str:
    if trade.status == TradeStatus.PAID:
        return "TRADE_CLOSED" if refunded(refunds) >= trade.amount else "TRADE_SUCCESS"
    if trade.status == TradeStatus.PENDING:
        return "WAIT_BUYER_PAY"
    return "TRADE_CLOSED"


def refund_state(refund: Refund) -> str:
    return {ItemStatus.SUCCEEDED: "REFUND_SUCCESS", ItemStatus.FAILED: "REFUND_FAIL"}.get(
        refund.status, "REFUND_PROCESSING"
    )


def transfer_status(transfer: Transfer) -> str:
    return {ItemStatus.SUCCEEDED: "SUCCESS", ItemStatus.FAILED: "FAIL"}.get(
        transfer.status, "DEALING"
    )


def _buyer(trade: Trade) -> dict[str, str]:
    return {
        "buyer_user_id": str(trade.extra.get("buyer_id", "")),
        "buyer_logon_id": str(trade.extra.get("buyer_logon_id", "")),
    }


def trade_query(trade: Trade, refunds: list[Refund]) -> dict[str, Any]:
    """`alipay.trade.query` answer fields (after code/msg)."""
    status = trade_status(trade, refunds)
    out: dict[str, Any] = {
        "trade_no": trade.channel_trade_no,
        "out_trade_no": trade.out_trade_no,
        "trade_status": status,
        "total_amount": yuan(trade.amount),
    }
    if trade.status == TradeStatus.PAID:
        out.update(_buyer(trade))
        out.update(
            buyer_pay_amount=yuan(trade.amount),
            receipt_amount=yuan(trade.amount),
            invoice_amount=yuan(trade.amount),
            point_amount="0.00",
            send_pay_date=alipay_time(trade.paid_at),
            fund_bill_list=[{"fund_channel": "ALIPAYACCOUNT", "amount": yuan(trade.amount)}],
        )
    return out


def trade_notify(
    trade: Trade,
    merchant: Merchant,
    refunds: list[Refund],
    *,
    total: int | None = None,
    paid: bool = False,
    refund: Refund | None = None,
    refund_fee: int | None = None,
) -> dict[str, str]:
    """A `trade_status_sync` notify's params (unsigned); `total` overrides the amount."""
    amount = yuan(trade.amount if total is None else total)
    status = "TRADE_SUCCESS" if paid else trade_status(trade, refunds)
    params = {
        "notify_time": alipay_time(now()),
        "notify_type": "trade_status_sync",
        "auth_app_id": merchant.app_id,
        "trade_no": trade.channel_trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_id": str(trade.extra.get("buyer_id", "")),
        "buyer_logon_id": str(trade.extra.get("buyer_logon_id", "")),
        "seller_id": str(merchant.extra.get("seller_id", "")),
        "trade_status": status,
        "total_amount": amount,
        "receipt_amount": amount,
        "invoice_amount": amount,
        "buyer_pay_amount": amount,
        "point_amount": "0.00",
        "subject": trade.subject,
        "body": str(trade.extra.get("body", "")),
        "passback_params": str(trade.extra.get("passback_params", "")),
        "gmt_create": alipay_time(trade.created_at),
        "gmt_payment": alipay_time(trade.paid_at or (now() if paid else None)),
        "fund_bill_list": json.dumps(
            [{"amount": amount, "fundChannel": "ALIPAYACCOUNT"}], separators=(",", ":")
        ),
    }
    if refund is not None:
        fee = refunded(refunds) if refund_fee is None else refund_fee
        params.update(
            out_biz_no=refund.out_refund_no,
            refund_fee=yuan(fee),
            gmt_refund=alipay_time(refund.success_at, millis=True),
        )
        if status == "TRADE_CLOSED":
            params["gmt_close"] = alipay_time(refund.success_at)
    return params


def probe_notify(merchant: Merchant, out_trade_no: str) -> dict[str, str]:
    t = alipay_time(now())
    return {
        "notify_time": t,
        "notify_type": "trade_status_sync",
        "auth_app_id": merchant.app_id,
        "trade_no": "2099" + out_trade_no[-20:],
        "out_trade_no": out_trade_no,
        "seller_id": str(merchant.extra.get("seller_id", "")),
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "0.01",
        "gmt_payment": t,
    }


def transfer_answer(t: Transfer) -> dict[str, Any]:
    """`alipay.fund.trans.uni.transfer` answer fields."""
    out: dict[str, Any] = {
        "out_biz_no": t.out_transfer_no,
        "order_id": t.channel_transfer_no,
        "pay_fund_order_id": str(t.extra.get("pay_fund_order_id", "")),
        "status": transfer_status(t),
    }
    if t.status == ItemStatus.SUCCEEDED:
        out["trans_date"] = alipay_time(t.updated_at)
    return out


def transfer_query(t: Transfer, amount: int | None = None) -> dict[str, Any]:
    """`alipay.fund.trans.common.query` answer fields; also the notify's biz_content."""
    out: dict[str, Any] = {
        "order_id": t.channel_transfer_no,
        "pay_fund_order_id": str(t.extra.get("pay_fund_order_id", "")),
        "out_biz_no": t.out_transfer_no,
        "trans_amount": yuan(t.amount if amount is None else amount),
        "status": transfer_status(t),
        "order_fee": "0.00",
    }
    if t.status == ItemStatus.SUCCEEDED:
        out["pay_date"] = alipay_time(t.updated_at)
        out["arrival_time_end"] = alipay_time(t.updated_at)
    if t.status == ItemStatus.FAILED:
        out["fail_reason"] = t.fail_reason
        out["error_code"] = t.fail_reason
    return out


def transfer_notify(t: Transfer, amount: int | None = None) -> dict[str, str]:
    """An `alipay.fund.trans.order.changed` message's params (unsigned)."""
    biz = {
        **transfer_query(t, amount),
        "biz_scene": str(t.extra.get("biz_scene", "DIRECT_TRANSFER")),
        "product_code": str(t.extra.get("product_code", "TRANS_ACCOUNT_NO_PWD")),
        "origin_interface": "alipay.fund.trans.uni.transfer",
        "action_type": "FINISH",
    }
    return {
        "msg_method": "alipay.fund.trans.order.changed",
        "utc_timestamp": str(int(time.time() * 1000)),
        "version": "1.1",
        "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
    }


def return_params(trade: Trade, app_id: str, sign_with: Callable[[str], str]) -> dict[str, str]:
    """The synchronous return (同步返回) Alipay appends to a page/wap `return_url` once the
    payer paid: the trade's numbers and amount, signed RSA2 like a notify (Alipay's docs,
    "alipay.trade.wap.pay" 同步通知参数; merchants must not trust it without the notify or
    a query, which is what paymesh's cashier does)."""
    params = {
        "app_id": app_id,
        "auth_app_id": app_id,
        "charset": "utf-8",
        "method": f"alipay.trade.{'wap' if trade.method == 'h5' else 'page'}.pay.return",
        "out_trade_no": trade.out_trade_no,
        "seller_id": str(trade.extra.get("seller_id", "")),
        "timestamp": alipay_time(trade.paid_at),
        "total_amount": yuan(trade.amount),
        "trade_no": trade.channel_trade_no,
        "version": "1.0",
        "sign_type": "RSA2",
    }
    params["sign"] = sign_with(notify_canonical(params))
    return params


def return_link(trade: Trade, merchant: Merchant | None, sign_with: Callable[[str], str]) -> str:
    """A page/wap payment returns the payer's browser to `return_url` (a GET with the
    signed synchronous return); on the payer page a link, so that the page is seen first."""
    return_url = str(trade.extra.get("return_url", ""))
    if not return_url or merchant is None:
        return ""
    params = return_params(trade, merchant.app_id, sign_with)
    sep = "&" if "?" in return_url else "?"
    href = html.escape(f"{return_url}{sep}{urlencode(params)}")
    return f'<p><a class="return" href="{href}">返回商户 / Return to the shop</a></p>'
