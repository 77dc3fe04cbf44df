"""UnionpayChannel: the UnionPay ACP 5.1.0 `Channel`, gluing the pure adapter to `Transport`.

Stateless. page/h5 are signed forms (no server call); app asks appTransReq.do for a `tn`.
Refund and Close need the consume's `queryId` (origQryId), so they query it first:
- Refund: the consume must be paid (origRespCode 00/A6), then refund 04/00;
- Close: no consume at UnionPay (respCode 34) or a failed attempt -> closed (UnionPay
  refuses payment after payTimeout); in process -> ChannelUnavailable; paid the same day
  (China time) -> consume cancel 31/00 for the full amount, which reverses it; paid on an
  earlier day -> ChannelError (refund it instead).
Transfer is not part of UnionPay online payment: OperationNotOffered (UNIMPLEMENTED).
"""

from __future__ import annotations

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels import billfile
from paymesh.channels.base import TRADE_PAID, ChannelBase
from paymesh.channels.unionpay import adapter, bill
from paymesh.channels.unionpay.config import UNIONPAY_METHODS, UnionpayAccount
from paymesh.channels.unionpay.notify import parse_notify
from paymesh.channels.unionpay.transformers import (
    CHINA_TZ,
    RESP_UNKNOWN,
    is_failure,
    optional_fen,
)
from paymesh.errors import ChannelError, ChannelUnavailable, OperationNotOffered
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.channels.unionpay")


class UnionpayChannel(ChannelBase[UnionpayAccount, None]):
    """UnionPay online payment (ACP 5.1.0, signMethod 01). The trust roots that verify
    UnionPay's answers are in the account config: no keys to fetch."""

    account_class = UnionpayAccount
    pay_methods = frozenset(UNIONPAY_METHODS)

    async def _keys(
        self, account: UnionpayAccount, exchanges: list[channel_pb2.Exchange], *, refresh: bool
    ) -> None:
        return None

    async def _consume(
        self, account: UnionpayAccount, order_id: str, ex: list[channel_pb2.Exchange]
    ) -> dict[str, str] | None:
        """The consume's query answer (None: UnionPay has no such transaction)."""
        http = adapter.build_query_request(order_id, account, "order_id")
        return await self._call(
            account, http, lambda r, _: adapter.parse_query(order_id, account, r, self._clock()), ex
        )

    # --- pay -------------------------------------------------------------------------------

    async def pay(self, account: UnionpayAccount, request: svc.PayRequest) -> svc.PayResponse:
        now = self._clock()
        if request.method in adapter.FRONT_CHANNELS:
            pay_data = adapter.build_front_pay_data(request, account, now)
            return svc.PayResponse(pay_data=pay_data, trade=adapter.pending_trade(request))
        http = adapter.build_app_request(request, account, now)
        return await self._logged(
            account, http, lambda r, _: adapter.parse_app_response(request, account, r, now)
        )

    # --- follow-ups ----------------------------------------------------------------------------

    async def query(self, account: UnionpayAccount, request: svc.QueryRequest) -> svc.QueryResponse:
        http = adapter.build_query_request(request.order_id, account, "order_id")
        return await self._logged(
            account,
            http,
            lambda r, _: adapter.parse_query_response(request, account, r, self._clock()),
        )

    async def close(self, account: UnionpayAccount, request: svc.CloseRequest) -> svc.CloseResponse:
        ex: list[channel_pb2.Exchange] = []
        found = await self._consume(account, request.order_id, ex)
        out = await self._close(account, request.order_id, found, ex)
        out.exchanges.extend(ex)
        return out

    async def _close(
        self,
        account: UnionpayAccount,
        order_id: str,
        found: dict[str, str] | None,
        ex: list[channel_pb2.Exchange],
    ) -> svc.CloseResponse:
        if found is None or is_failure(found["origRespCode"]):
            return svc.CloseResponse()
        if found["origRespCode"] in RESP_UNKNOWN:
            raise ChannelUnavailable(
                "UnionPay consume in process: cannot close yet",
                metadata={"provider_code": found["origRespCode"]},
            )
        trade = adapter.trade_from_query(order_id, found)
        if trade.state != TRADE_PAID:
            raise ChannelUnavailable("UnionPay consume state unclear: cannot close")
        now = self._clock()
        paid_day = found.get("txnTime", "")[:8]
        if paid_day != now.astimezone(CHINA_TZ).strftime("%Y%m%d"):
            raise ChannelError(
                "the order is paid and past its day: refund it instead",
                provider_code="ORDER_PAID",
            )
        log.warning("unionpay_close_cancels_paid_consume", order_id=order_id)
        http = adapter.build_cancel_request(
            order_id, optional_fen(found, "txnAmt"), found.get("queryId", ""), account, now
        )
        return await self._call(
            account, http, lambda r, _: adapter.parse_cancel_response(order_id, account, r, now), ex
        )

    async def refund(
        self, account: UnionpayAccount, request: svc.RefundRequest
    ) -> svc.RefundResponse:
        ex: list[channel_pb2.Exchange] = []
        found = await self._consume(account, request.order_id, ex)
        trade = adapter.trade_from_query(request.order_id, found)
        if found is None or trade.state != TRADE_PAID:
            raise ChannelError(
                "UnionPay has no paid consume for this order",
                provider_code=(found or {}).get("origRespCode", "34"),
            )
        http = adapter.build_refund_request(request, account, found.get("queryId", ""))
        out = await self._call(
            account,
            http,
            lambda r, _: adapter.parse_refund_response(request, account, r, self._clock()),
            ex,
        )
        out.exchanges.extend(ex)
        return out

    async def query_refund(
        self, account: UnionpayAccount, request: svc.QueryRefundRequest
    ) -> svc.QueryRefundResponse:
        http = adapter.build_query_request(request.refund_id, account, "refund_id")
        return await self._logged(
            account,
            http,
            lambda r, _: adapter.parse_query_refund_response(request, account, r, self._clock()),
        )

    async def transfer(
        self, account: UnionpayAccount, request: svc.TransferRequest
    ) -> svc.TransferResponse:
        raise OperationNotOffered(
            "UnionPay online payment offers no transfers (payouts)",
            metadata={"channel": self.name},
        )

    async def query_transfer(
        self, account: UnionpayAccount, request: svc.QueryTransferRequest
    ) -> svc.QueryTransferResponse:
        raise OperationNotOffered(
            "UnionPay online payment offers no transfers (payouts)",
            metadata={"channel": self.name},
        )

    async def cancel_transfer(
        self, account: UnionpayAccount, request: svc.CancelTransferRequest
    ) -> svc.CancelTransferResponse:
        raise OperationNotOffered(
            "UnionPay online payment offers no transfers (payouts)",
            metadata={"channel": self.name},
        )

    async def download_bill(
        self, account: UnionpayAccount, request: svc.DownloadBillRequest
    ) -> svc.DownloadBillResponse:
        day = billfile.parse_bill_date(request.bill_date)
        now = self._clock()
        ex: list[channel_pb2.Exchange] = []
        got = await self._call(
            account,
            bill.build_file_request(account, day, now),
            lambda r, _: bill.parse_file_response(r, account, now),
            ex,
        )
        if got is None:
            return billfile.bill_response(None, ex)
        return billfile.bill_response(bill.parse_zm(bill.zm_file(got[1]), day), ex)

    async def parse_notify(
        self, account: UnionpayAccount, request: svc.ParseNotifyRequest
    ) -> svc.ParseNotifyResponse:
        out = parse_notify(request, account, self._clock())
        if out.reject_reason:
            log.warning(
                "unionpay_notify_rejected",
                account_id=account.account_id,
                reason=out.reject_reason,
                event_id=out.provider_event_id,
            )
        return out


__all__ = ["UnionpayChannel"]
