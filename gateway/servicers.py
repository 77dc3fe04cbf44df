"""The merchant-facing gRPC servicers. Thin: each RPC is one call into the operations."""

from __future__ import annotations

from typing import Any

import grpc

from paymesh.gateway import orders, refunds, transfers
from paymesh.gateway.deps import Deps, build_deps
from paymesh.merchant.v1 import pay_service_pb2 as pay_pb
from paymesh.merchant.v1 import pay_service_pb2_grpc as pay_grpc
from paymesh.merchant.v1 import query_service_pb2 as query_pb
from paymesh.merchant.v1 import query_service_pb2_grpc as query_grpc
from paymesh.merchant.v1 import refund_service_pb2 as refund_pb
from paymesh.merchant.v1 import refund_service_pb2_grpc as refund_grpc
from paymesh.merchant.v1 import transfer_service_pb2 as transfer_pb
from paymesh.merchant.v1 import transfer_service_pb2_grpc as transfer_grpc
from paymesh.runtime.context import ServiceContext

Ctx = grpc.aio.ServicerContext[Any, Any]


class PayServicer(pay_grpc.PayServiceServicer):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def CreateOrder(
        self, request: pay_pb.CreateOrderRequest, context: Ctx
    ) -> pay_pb.CreateOrderResponse:
        return pay_pb.CreateOrderResponse(order=await orders.create_order(self.deps, request))

    async def CloseOrder(
        self, request: pay_pb.CloseOrderRequest, context: Ctx
    ) -> pay_pb.CloseOrderResponse:
        return pay_pb.CloseOrderResponse(order=await orders.close_order(self.deps, request))


class QueryServicer(query_grpc.QueryServiceServicer):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def QueryOrder(
        self, request: query_pb.QueryOrderRequest, context: Ctx
    ) -> query_pb.QueryOrderResponse:
        return query_pb.QueryOrderResponse(order=await orders.query_order(self.deps, request))

    async def QueryRefund(
        self, request: query_pb.QueryRefundRequest, context: Ctx
    ) -> query_pb.QueryRefundResponse:
        return query_pb.QueryRefundResponse(refund=await refunds.query_refund(self.deps, request))

    async def QueryTransfer(
        self, request: query_pb.QueryTransferRequest, context: Ctx
    ) -> query_pb.QueryTransferResponse:
        return query_pb.QueryTransferResponse(
            transfer=await transfers.query_transfer(self.deps, request)
        )


class RefundServicer(refund_grpc.RefundServiceServicer):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def CreateRefund(
        self, request: refund_pb.CreateRefundRequest, context: Ctx
    ) -> refund_pb.CreateRefundResponse:
        return refund_pb.CreateRefundResponse(
            refund=await refunds.create_refund(self.deps, request)
        )


class TransferServicer(transfer_grpc.TransferServiceServicer):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def CreateTransfer(
        self, request: transfer_pb.CreateTransferRequest, context: Ctx
    ) -> transfer_pb.CreateTransferResponse:
        return transfer_pb.CreateTransferResponse(
            transfer=await transfers.create_transfer(self.deps, request)
        )

    async def CancelTransfer(
        self, request: transfer_pb.CancelTransferRequest, context: Ctx
    ) -> transfer_pb.CancelTransferResponse:
        return transfer_pb.CancelTransferResponse(
            transfer=await transfers.cancel_transfer(self.deps, request)
        )


def _name(module: Any, service: str) -> str:
    name: str = module.DESCRIPTOR.services_by_name[service].full_name
    return name


async def register_pay(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    pay_grpc.add_PayServiceServicer_to_server(PayServicer(await build_deps(ctx)), server)
    return [_name(pay_pb, "PayService")]


async def register_query(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    query_grpc.add_QueryServiceServicer_to_server(QueryServicer(await build_deps(ctx)), server)
    return [_name(query_pb, "QueryService")]


async def register_refund(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    refund_grpc.add_RefundServiceServicer_to_server(RefundServicer(await build_deps(ctx)), server)
    return [_name(refund_pb, "RefundService")]


async def register_transfer(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    transfer_grpc.add_TransferServiceServicer_to_server(
        TransferServicer(await build_deps(ctx)), server
    )
    return [_name(transfer_pb, "TransferService")]
