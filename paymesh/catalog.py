"""The one list of payment channels; everything that names channels derives from it.

- `paymesh serve <channel>` (the service registry in `paymesh.runtime.registry`),
- the channel implementations a channel service builds (`paymesh.channels.registry`),
- which `channel` values a merchant request may name (`paymesh.gateway.validation`),
- the k8s manifests (`paymesh.deploy.k8s` renders them from the service registry).

Adding a channel is one entry here plus its package under `channels/` (channels/README.md).
This module imports nothing: it sits at the bottom of the layers with `paymesh.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelEntry:
    name: str  # AccountRef.channel, config keys, `paymesh serve <name>`, the k8s component
    title: str  # for people: help texts, the ops console
    implementation: str  # "module:Class" of its `Channel`, loaded lazily by the channel service


CHANNELS: tuple[ChannelEntry, ...] = (
    ChannelEntry("wechat", "WeChat Pay", "paymesh.channels.wechat.channel:WechatChannel"),
    ChannelEntry("alipay", "Alipay", "paymesh.channels.alipay.channel:AlipayChannel"),
    ChannelEntry("unionpay", "UnionPay", "paymesh.channels.unionpay.channel:UnionpayChannel"),
)

CHANNEL_NAMES: frozenset[str] = frozenset(c.name for c in CHANNELS)

__all__ = ["CHANNELS", "CHANNEL_NAMES", "ChannelEntry"]
