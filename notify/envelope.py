"""What travels on the bus (an `OutboxEvent` proto) and what the merchant receives (a signed
`Notification` JSON body of the merchant API)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from google.protobuf import json_format

from paymesh.core.signing import SecretLike, SignType, canonical_from_mapping, sign
from paymesh.events.v1.events_pb2 import Notification, OutboxEvent
from paymesh.notify.bus import SUBJECT_PREFIX

RESEND_SEPARATOR = ".r"


def subject_for(event_type: str, prefix: str = SUBJECT_PREFIX) -> str:
    """``paymesh.events.order.paid`` for ``order.paid``."""
    return f"{prefix}.{event_type}"


def resend_msg_id(event_id: str, round_no: int) -> str:
    """A message id JetStream has not seen, so a re-send is not dropped as a duplicate."""
    return f"{event_id}{RESEND_SEPARATOR}{round_no}"


def encode_event(
    *,
    event_id: str,
    event_type: str,
    app_id: str,
    notify_url: str,
    payload: Mapping[str, Any],
    created_at: datetime | None,
) -> bytes:
    notification = Notification()
    json_format.ParseDict(dict(payload), notification, ignore_unknown_fields=True)
    notification.event_id = event_id
    notification.event_type = event_type
    notification.app_id = app_id
    event = OutboxEvent(
        event_id=event_id,
        event_type=event_type,
        app_id=app_id,
        notify_url=notify_url,
        notification=notification,
    )
    if created_at is not None:
        event.created_at.FromDatetime(created_at)
    return event.SerializeToString()


def decode_event(data: bytes) -> OutboxEvent:
    event = OutboxEvent()
    event.ParseFromString(data)
    if not event.event_id:
        raise ValueError("bus message is not an OutboxEvent (no event_id)")
    return event


def notification_fields(notification: Notification) -> dict[str, Any]:
    """The set fields as JSON values: int64 stay integers, maps become dicts."""
    out: dict[str, Any] = {}
    for field, value in notification.ListFields():
        if field.name in ("sign", "sign_type", "timestamp"):
            continue
        if field.message_type is not None:  # the metadata map
            out[field.name] = dict(value)
        else:
            out[field.name] = value
    return out


def signed_body(
    notification: Notification, *, sign_type: str, key: SecretLike, timestamp: int
) -> dict[str, Any]:
    """The JSON body sent to the merchant: the notification plus timestamp, sign_type, sign.

    The signature is over the canonical string of every non-empty field but ``sign``, the
    same string `canonical_from_message` gives for the `Notification` proto.
    """
    body = notification_fields(notification)
    body["timestamp"] = int(timestamp)
    body["sign_type"] = SignType(sign_type).value
    body["sign"] = sign(canonical_from_mapping(body), sign_type, key)
    return body


__all__ = [
    "RESEND_SEPARATOR",
    "decode_event",
    "encode_event",
    "notification_fields",
    "resend_msg_id",
    "signed_body",
    "subject_for",
]
