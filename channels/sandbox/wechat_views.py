"""WeChat Pay v3 wire views of the sandbox's records (responses and callback resources)."""

from __future__ import annotations

from typing import Any

from paymesh.channels.sandbox.state import (
    ItemStatus,
    Refund,
    Trade,
    TradeStatus,
    Transfer,
    rfc3339,
)

TRADE_TYPES = {"native": "NATIVE", "jsapi": "JSAPI", "app": "APP", "h5": "MWEB"}

_TRADE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "CLOSED": "订单已关闭",
    "PAYERROR": "支付失败，请重新下单支付",
}


def trade_state(trade: Trade) -> str:
    if trade.status == TradeStatus.PAID:
        return "REFUND" if trade.refunded > 0 else "SUCCESS"
    return {
        TradeStatus.PENDING: "NOTPAY",
        TradeStatus.CLOSED: "CLOSED",
        TradeStatus.FAILED: "PAYERROR",
    }.get(trade.status, "NOTPAY")


def refund_state(refund: Refund) -> str:
    return {ItemStatus.SUCCEEDED: "SUCCESS", ItemStatus.FAILED: "ABNORMAL"}.get(
        refund.status, "PROCESSING"
    )


def transfer_state(transfer: Transfer) -> str:
    cancel = transfer.extra.get("cancel")
    if cancel:
        return str(cancel)  # CANCELING, then CANCELLED
    if transfer.status == ItemStatus.PENDING and transfer.extra.get("wait_confirm"):
        return "WAIT_USER_CONFIRM"
    return {ItemStatus.SUCCEEDED: "SUCCESS", ItemStatus.FAILED: "FAIL"}.get(
        transfer.status, "ACCEPTED"
    )


def transaction(trade: Trade, total: int | None = None, paid: bool | None = None) -> dict[str, Any]:
    """Query answer and TRANSACTION.SUCCESS resource (`total` overrides the amount)."""
    amount = trade.amount if total is None else total
    state = "SUCCESS" if paid else trade_state(trade)
    out: dict[str, Any] = {
        "appid": trade.extra.get("appid", ""),
        "mchid": trade.merchant_id,
        "out_trade_no": trade.out_trade_no,
        "trade_type": TRADE_TYPES.get(trade.method, "NATIVE"),
        "trade_state": state,
        "trade_state_desc": _TRADE_DESC[state],
        "attach": trade.extra.get("attach", ""),
        "amount": {"total": amount, "currency": trade.currency},
    }
    openid = trade.extra.get("payer_openid")
    if trade.status == TradeStatus.PAID or paid:
        out["transaction_id"] = trade.channel_trade_no
        out["bank_type"] = "OTHERS"
        out["success_time"] = rfc3339(trade.paid_at or trade.created_at)
        out["amount"].update(payer_total=amount, payer_currency=trade.currency)
        out["promotion_detail"] = []
    if openid:
        out["payer"] = {"openid": openid}
    return out


def refund(r: Refund, trade: Trade, refund_amount: int | None = None) -> dict[str, Any]:
    amount = r.amount if refund_amount is None else refund_amount
    out: dict[str, Any] = {
        "refund_id": r.channel_refund_no,
        "out_refund_no": r.out_refund_no,
        "transaction_id": trade.channel_trade_no,
        "out_trade_no": r.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": rfc3339(r.created_at),
        "status": refund_state(r),
        "funds_account": r.extra.get("funds_account", "AVAILABLE"),
        "amount": {
            "total": r.total,
            "refund": amount,
            "from": [],
            "payer_total": r.total,
            "payer_refund": amount,
            "settlement_refund": amount,
            "settlement_total": r.total,
            "discount_refund": 0,
            "currency": r.currency,
            "refund_fee": 0,
        },
        "promotion_detail": [],
    }
    if r.success_at:
        out["success_time"] = rfc3339(r.success_at)
    return out


def refund_resource(r: Refund, trade: Trade, refund_amount: int | None = None) -> dict[str, Any]:
    """REFUND.SUCCESS callback resource."""
    amount = r.amount if refund_amount is None else refund_amount
    out: dict[str, Any] = {
        "mchid": r.merchant_id,
        "out_trade_no": r.out_trade_no,
        "transaction_id": trade.channel_trade_no,
        "out_refund_no": r.out_refund_no,
        "refund_id": r.channel_refund_no,
        "refund_status": refund_state(r),
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": r.total,
            "refund": amount,
            "payer_total": r.total,
            "payer_refund": amount,
        },
    }
    if r.success_at:
        out["success_time"] = rfc3339(r.success_at)
    return out


def transfer_created(t: Transfer) -> dict[str, Any]:
    out = {
        "out_bill_no": t.out_transfer_no,
        "transfer_bill_no": t.channel_transfer_no,
        "create_time": rfc3339(t.created_at),
        "state": transfer_state(t),
    }
    if t.extra.get("wait_confirm"):
        out["package_info"] = t.extra["package_info"]
    return out


def transfer_cancel(t: Transfer) -> dict[str, Any]:
    """Answer of 撤销转账."""
    return {
        "out_bill_no": t.out_transfer_no,
        "transfer_bill_no": t.channel_transfer_no,
        "state": transfer_state(t),
        "update_time": rfc3339(t.updated_at),
    }


def transfer(t: Transfer, amount: int | None = None) -> dict[str, Any]:
    """Query answer; also the MCHTRANSFER.BILL.FINISHED resource."""
    out: dict[str, Any] = {
        "mch_id": t.merchant_id,
        "out_bill_no": t.out_transfer_no,
        "transfer_bill_no": t.channel_transfer_no,
        "appid": t.extra.get("appid", ""),
        "state": transfer_state(t),
        "transfer_amount": t.amount if amount is None else amount,
        "transfer_remark": t.remark,
        "openid": t.payee,
        "create_time": rfc3339(t.created_at),
        "update_time": rfc3339(t.updated_at),
    }
    if t.fail_reason:
        out["fail_reason"] = t.fail_reason
    return out
