"""Rows to the merchant proto messages (`Order`, `Refund`, `Transfer`) and bus events."""

from __future__ import annotations

from datetime import datetime

from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from paymesh.common.v1 import pay_data_pb2
from paymesh.core.db import models
from paymesh.events.v1 import events_pb2
from paymesh.merchant.v1 import order_pb2, refund_pb2, transfer_pb2


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def pay_data_message(data: dict[str, object] | None) -> pay_data_pb2.PayData | None:
    if not data:
        return None
    return json_format.ParseDict(data, pay_data_pb2.PayData(), ignore_unknown_fields=True)


def order_message(
    row: models.PayOrder,
    late: models.LatePayment | None = None,
    *,
    pay_data: pay_data_pb2.PayData | None = None,
) -> order_pb2.Order:
    """The merchant's view of an order; `late`: its late payment, when it has one;
    `pay_data`: the message the row's pay data was stored from, when the caller has it (it
    spares parsing the row's JSON back)."""
    message = order_pb2.Order(
        order_id=row.order_id,
        app_id=row.app_id,
        out_trade_no=row.out_trade_no,
        status=row.status,
        amount=row.amount,
        currency=row.currency,
        channel=row.channel,
        method=row.method,
        pay_data=pay_data if pay_data is not None else pay_data_message(row.pay_data),
        channel_trade_no=row.channel_trade_no,
        expire_time=_ts(row.expire_time),
        created_at=_ts(row.created_at),
        paid_at=_ts(row.paid_at),
        refunded_amount=row.refunded_amount,
        subject=row.subject,
        metadata=dict(row.meta or {}),
    )
    if late is not None:
        message.late_payment.CopyFrom(
            order_pb2.LatePayment(
                amount=late.amount,
                channel_trade_no=late.channel_trade_no,
                policy=late.policy,
                refund_id=late.refund_id,
                paid_at=_ts(late.paid_at),
                order_status=late.order_status,
            )
        )
    return message


def refund_message(row: models.Refund) -> refund_pb2.Refund:
    return refund_pb2.Refund(
        refund_id=row.refund_id,
        app_id=row.app_id,
        out_refund_no=row.out_refund_no,
        order_id=row.order_id,
        out_trade_no=row.out_trade_no,
        status=row.status,
        amount=row.amount,
        currency=row.currency,
        channel=row.channel,
        channel_refund_no=row.channel_refund_no,
        reason=row.reason,
        created_at=_ts(row.created_at),
        succeeded_at=_ts(row.succeeded_at),
        metadata=dict(row.meta or {}),
        channel_state=row.channel_state or "",
    )


def transfer_message(row: models.Transfer) -> transfer_pb2.Transfer:
    return transfer_pb2.Transfer(
        transfer_id=row.transfer_id,
        app_id=row.app_id,
        out_transfer_no=row.out_transfer_no,
        status=row.status,
        amount=row.amount,
        currency=row.currency,
        channel=row.channel,
        payee_id=row.payee_id,
        payee_name=row.payee_name,
        remark=row.remark,
        channel_transfer_no=row.channel_transfer_no,
        fail_reason=row.fail_reason,
        created_at=_ts(row.created_at),
        succeeded_at=_ts(row.succeeded_at),
        metadata=dict(row.meta or {}),
        channel_state=row.channel_state or "",
        pay_data=pay_data_message(row.pay_data),
    )


def notification_message(row: models.OutboxEvent) -> events_pb2.Notification:
    """The unsigned notification stored with an outbox event."""
    return json_format.ParseDict(row.payload, events_pb2.Notification(), ignore_unknown_fields=True)


def outbox_message(row: models.OutboxEvent) -> events_pb2.OutboxEvent:
    """What the relay publishes on the bus for one outbox row."""
    return events_pb2.OutboxEvent(
        event_id=row.event_id,
        event_type=row.event_type,
        app_id=row.app_id,
        notify_url=row.notify_url,
        notification=notification_message(row),
        created_at=_ts(row.created_at),
    )
