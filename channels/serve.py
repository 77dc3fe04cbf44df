"""Registers the ChannelService for `paymesh serve <channel>` (channels of `paymesh.catalog`).

All channels named on one command line share one servicer, which dispatches by
`account.channel`; gateways reach each channel through `channel_targets`.
"""

from __future__ import annotations

import grpc

from paymesh.catalog import CHANNEL_NAMES
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channel.v1 import channel_service_pb2_grpc as svc_grpc
from paymesh.channels.registry import build_channels
from paymesh.channels.service import ChannelServicer
from paymesh.channels.transport import Transport
from paymesh.config import factory as config_factory
from paymesh.config.models import ChannelAccountBase
from paymesh.config.repository import ConfigRepository
from paymesh.runtime.context import ServiceContext

SERVICE = svc.DESCRIPTOR.services_by_name["ChannelService"].full_name


async def register(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    if not ctx.claim("channel-service"):
        return []  # a second channel name on the same command line: already served
    names = [n for n in ctx.services if n in CHANNEL_NAMES]
    transport = Transport(timeout_seconds=ctx.settings.channel_timeout_seconds)
    ctx.on_close(transport.close)
    servicer = ChannelServicer(
        SharedAccounts(await config_factory.config_repository(ctx)),
        build_channels(transport, names),
    )
    svc_grpc.add_ChannelServiceServicer_to_server(servicer, server)
    for name in names:  # gateways in this process call it directly (ChannelClient)
        ctx.provide(local_key(name), servicer)
    return [SERVICE]


def local_key(channel: str) -> str:
    return f"{SERVICE}/{channel}"


class SharedAccounts:
    """The config repository's cached account of the current revision (parsed and
    validated once, not copied per request: channels only read it)."""

    def __init__(self, repo: ConfigRepository) -> None:
        self._repo = repo

    async def get_channel_account(self, channel: str, account_id: str) -> ChannelAccountBase:
        return await self._repo.get_channel_account(channel, account_id, shared=True)
