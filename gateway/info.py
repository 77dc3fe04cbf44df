"""InfoService: version and served services (GET /v1/version)."""

from __future__ import annotations

from typing import Any

import grpc

from paymesh import API_VERSION, __version__
from paymesh.merchant.v1 import info_service_pb2 as pb
from paymesh.merchant.v1 import info_service_pb2_grpc as pb_grpc
from paymesh.runtime.context import ServiceContext


class InfoServicer(pb_grpc.InfoServiceServicer):
    def __init__(self, services: list[str]) -> None:
        self._services = services

    async def GetVersion(
        self, request: pb.GetVersionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetVersionResponse:
        return pb.GetVersionResponse(version=__version__, api=API_VERSION, services=self._services)


async def register(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    pb_grpc.add_InfoServiceServicer_to_server(InfoServicer(ctx.services), server)
    return [pb.DESCRIPTOR.services_by_name["InfoService"].full_name]
