"""PayService: CreateOrder, CloseOrder."""

from __future__ import annotations

from typing import Any

import grpc

from paymesh.errors import Internal
from paymesh.gateway.validation import validate_create_order
from paymesh.merchant.v1 import pay_service_pb2 as pb
from paymesh.merchant.v1 import pay_service_pb2_grpc as pb_grpc
from paymesh.runtime.context import ServiceContext


class PayServicer(pb_grpc.PayServiceServicer):
    async def CreateOrder(
        self, request: pb.CreateOrderRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.CreateOrderResponse:
        validate_create_order(request)
        raise Internal("order storage is not wired yet")

    async def CloseOrder(  # noqa: N802
        self, request: pb.CloseOrderRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.CloseOrderResponse:
        raise Internal("order storage is not wired yet")


async def register(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    pb_grpc.add_PayServiceServicer_to_server(PayServicer(), server)
    return [pb.DESCRIPTOR.services_by_name["PayService"].full_name]
