"""`CreateOrder` with method `cashier`: an order with no channel yet, answered with the
signed link of paymesh's cashier page (`pay_data.pay_url`, and `code_url` for a QR code).

No channel is called: the trade is started by the cashier service once the payer commits
in a wallet (`paymesh.cashier`). The app must route at least one wallet the cashier offers.
"""

from __future__ import annotations

from paymesh.config.apps import AppConfig
from paymesh.core.cashier import CASHIER_METHOD, offered_wallets, order_pay_data
from paymesh.core.db.convert import order_message
from paymesh.core.db.orders import DEFAULT_EXPIRE_SECONDS, NewOrder
from paymesh.core.deps import CoreDeps
from paymesh.errors import ChannelNotEnabled
from paymesh.merchant.v1 import order_pb2
from paymesh.merchant.v1 import pay_service_pb2 as pay_pb


async def create_cashier_order(
    deps: CoreDeps, req: pay_pb.CreateOrderRequest, app: AppConfig
) -> order_pb2.Order:
    if not offered_wallets(app):
        raise ChannelNotEnabled(
            "app routes no wallet the cashier offers (wechat jsapi, alipay h5, unionpay page)",
            metadata={"method": CASHIER_METHOD},
        )
    created = await deps.store.insert_order(
        NewOrder(
            app_id=req.app_id,
            out_trade_no=req.out_trade_no,
            amount=req.amount,
            channel="",
            account_id="",
            method=CASHIER_METHOD,
            currency=req.currency or "CNY",
            subject=req.subject,
            description=req.description,
            notify_url=req.notify_url or app.notify_url or "",
            return_url=req.return_url,
            client_ip=req.client_ip,
            metadata=dict(req.metadata),
            expire_seconds=req.expire_seconds or DEFAULT_EXPIRE_SECONDS,
        )
    )
    order = created.row
    if not order.pay_data:  # new, or a retry after a crash between insert and this
        pay_data = order_pay_data(
            deps.callback_base_url, order.app_id, order.order_id, order.expire_time
        )
        order = (await deps.store.store_pay_data(order.order_id, pay_data)).row
    return order_message(order)


__all__ = ["create_cashier_order"]
