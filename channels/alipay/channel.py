"""AlipayChannel: the Alipay OpenAPI `Channel`, gluing the pure adapter to the `Transport`.

Stateless. page/h5/app are signed locally (no HTTP call). Barcode (alipay.trade.pay) whose
outcome is unknown (20000, system error, timeout, 5xx) follows Alipay's guidance: one
alipay.trade.query; PAID or still WAIT_BUYER_PAY is reported as such, anything else
(not found, closed, or the query itself inconclusive) is cancelled with
alipay.trade.cancel so that no money can move after we answered. A cancel that does not
go through leaves the outcome unknown (ChannelUnavailable: the order stays PENDING).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels import billfile
from paymesh.channels.alipay import adapter, bill, certs, oauth, transfers
from paymesh.channels.alipay.config import ALIPAY_METHODS, AlipayAccount
from paymesh.channels.alipay.notify import NACK, parse_notify
from paymesh.channels.alipay.protocol import CertKeys, UnknownAlipayCert
from paymesh.channels.base import TRADE_PAID, ChannelBase
from paymesh.channels.transport import HttpRequest, HttpResponse, Transport
from paymesh.errors import (
    ChannelError,
    ChannelNotEnabled,
    ChannelUnavailable,
    OperationNotOffered,
)
from paymesh.runtime.clock import utcnow
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.channels.alipay")

T = TypeVar("T")


class AlipayChannel(ChannelBase[AlipayAccount, CertKeys]):
    """Alipay OpenAPI (RSA2; public-key or certificate mode).

    Certificate mode follows an Alipay certificate rotation as the official SDK does
    (alipay-sdk-java-all AbstractAlipayClient.checkResponseCertSign): an answer signed under
    an `alipay_cert_sn` the account does not hold makes the channel download that
    certificate (alipay.open.app.alipaycert.download), check it chains to the configured
    root, cache it per account and parse the answer again with it (`certs`). A failed
    download or a certificate that does not chain leaves the answer unverifiable.
    """

    # What a notify for an unknown account is answered with: the same as a forged one.
    rejected_notify_reply = NACK

    account_class = AlipayAccount
    pay_methods = frozenset(ALIPAY_METHODS)

    def __init__(self, transport: Transport, *, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(transport, clock=clock)
        self._certs = certs.CertCache()
        self._cert_locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    async def _keys(
        self, account: AlipayAccount, exchanges: list[channel_pb2.Exchange], *, refresh: bool
    ) -> CertKeys:
        """The configured Alipay key (or certificate) is in the account config; these are
        the keys of rotated certificates downloaded since (certificate mode)."""
        return self._certs.keys(account, self._clock())

    async def _call(
        self,
        account: AlipayAccount,
        request: HttpRequest,
        parse: Callable[[HttpResponse, CertKeys], T],
        exchanges: list[channel_pb2.Exchange],
    ) -> T:
        """One round trip; an answer signed under an unknown certificate SN is parsed again
        once that certificate is downloaded and trusted (else it stays unverifiable)."""
        response = await self._send(account, request, exchanges)
        try:
            return parse(response, await self._keys(account, exchanges, refresh=False))
        except UnknownAlipayCert as e:
            if not await self._follow_rotation(account, e.cert_sn, exchanges):
                raise
        return parse(response, await self._keys(account, exchanges, refresh=True))

    async def _follow_rotation(
        self, account: AlipayAccount, cert_sn: str, exchanges: list[channel_pb2.Exchange]
    ) -> bool:
        """Download the Alipay certificate `cert_sn` and cache it when it chains to the
        account's root; False (logged) when it cannot be trusted or the download fails."""
        lock = self._cert_locks.setdefault(certs.cache_key(account), asyncio.Lock())
        async with lock:
            if cert_sn in self._certs.keys(account, self._clock()):
                return True  # another call downloaded it meanwhile
            if self._certs.recently_refused(account, cert_sn, time.monotonic()):
                return False
            request = certs.build_download_request(account, cert_sn, self._clock())
            try:
                response = await self._send(account, request, exchanges)
                cert = certs.parse_download_response(response, account, cert_sn, self._clock())
            except (certs.CertRefused, ChannelUnavailable, ChannelError) as e:
                self._certs.refuse(account, cert_sn, time.monotonic())
                log.warning(
                    "alipay_cert_rotation_refused",
                    account_id=account.account_id,
                    alipay_cert_sn=cert_sn,
                    configured_cert_sn=account.alipay_cert_sn,
                    reason=str(e),
                )
                return False
            self._certs.add(account, cert)
            log.info(
                "alipay_cert_rotated",
                account_id=account.account_id,
                alipay_cert_sn=cert_sn,
                configured_cert_sn=account.alipay_cert_sn,
                not_after=cert.not_valid_after_utc.isoformat(),
            )
            return True

    # --- pay -------------------------------------------------------------------------------

    async def pay(self, account: AlipayAccount, request: svc.PayRequest) -> svc.PayResponse:
        now = self._clock()
        if request.method in adapter.CLIENT_METHODS:
            pay_data = adapter.build_client_pay_data(request, account, now)
            return svc.PayResponse(pay_data=pay_data, trade=adapter.pending_trade(request))
        ex: list[channel_pb2.Exchange] = []
        http = adapter.build_pay_request(request, account, now)
        try:
            out = await self._call(
                account, http, lambda r, k: adapter.parse_pay_response(request, account, r, k), ex
            )
        except ChannelUnavailable as e:
            if request.method != "barcode":
                raise
            log.warning(
                "alipay_barcode_unknown", account_id=account.account_id, order_id=request.order_id
            )
            trade = await self._settle_barcode(account, request, ex, e)
            out = svc.PayResponse(trade=trade)
        out.exchanges.extend(ex)
        return out

    async def _settle_barcode(
        self,
        account: AlipayAccount,
        request: svc.PayRequest,
        ex: list[channel_pb2.Exchange],
        cause: ChannelUnavailable,
    ) -> channel_pb2.TradeResult:
        query = svc.QueryRequest(account=request.account, order_id=request.order_id)
        try:
            found = await self._call(
                account,
                adapter.build_query_request(query, account, self._clock()),
                lambda r, k: adapter.parse_query_response(query, account, r, k),
                ex,
            )
        except (ChannelUnavailable, ChannelError):
            found = None
        if found is not None and found.trade.state == TRADE_PAID:
            return found.trade
        if found is not None and found.trade.provider_state == "WAIT_BUYER_PAY":
            return found.trade  # the buyer is confirming: the monitor keeps asking
        try:
            return await self._call(
                account,
                adapter.build_cancel_request(request.order_id, account, self._clock()),
                lambda r, k: adapter.parse_cancel_response(request.order_id, account, r, k),
                ex,
            )
        except (ChannelUnavailable, ChannelError) as e:
            log.warning(
                "alipay_barcode_cancel_failed",
                account_id=account.account_id,
                order_id=request.order_id,
                error=e.message,
            )
            raise ChannelUnavailable(
                "Alipay barcode outcome unknown and the cancel did not go through",
                metadata=dict(cause.metadata),
            ) from e

    async def identify_payer(
        self, account: AlipayAccount, request: svc.IdentifyPayerRequest
    ) -> svc.IdentifyPayerResponse:
        """auth_base: the OAuth auth_code -> the buyer's id (alipay.system.oauth.token)."""
        ex: list[channel_pb2.Exchange] = []
        http = oauth.build_token_request(account, request.code, self._clock())
        payer = await self._call(
            account, http, lambda r, k: oauth.parse_token_response(account, r, k), ex
        )
        return svc.IdentifyPayerResponse(payer_id=payer, exchanges=ex)

    # --- follow-ups ---------------------------------------------------------------------------

    async def query(self, account: AlipayAccount, request: svc.QueryRequest) -> svc.QueryResponse:
        http = adapter.build_query_request(request, account, self._clock())
        return await self._logged(
            account, http, lambda r, k: adapter.parse_query_response(request, account, r, k)
        )

    async def close(self, account: AlipayAccount, request: svc.CloseRequest) -> svc.CloseResponse:
        if request.method == "barcode":
            # 当面付 条码支付: a barcode trade still unpaid after the ~30 s of polling (10003
            # "等待用户付款", or 20000 / unknown) is cancelled with alipay.trade.cancel, not
            # closed: cancel also reverses a payment that went through meanwhile.
            http = adapter.build_cancel_request(request.order_id, account, self._clock())
            ex: list[channel_pb2.Exchange] = []
            await self._call(
                account,
                http,
                lambda r, k: adapter.parse_cancel_response(request.order_id, account, r, k),
                ex,
            )
            return svc.CloseResponse(exchanges=ex)
        http = adapter.build_close_request(request, account, self._clock())
        return await self._logged(
            account, http, lambda r, k: adapter.parse_close_response(account, r, k)
        )

    async def refund(
        self, account: AlipayAccount, request: svc.RefundRequest
    ) -> svc.RefundResponse:
        http = adapter.build_refund_request(request, account, self._clock())
        return await self._logged(
            account, http, lambda r, k: adapter.parse_refund_response(request, account, r, k)
        )

    async def query_refund(
        self, account: AlipayAccount, request: svc.QueryRefundRequest
    ) -> svc.QueryRefundResponse:
        http = adapter.build_query_refund_request(request, account, self._clock())
        return await self._logged(
            account, http, lambda r, k: adapter.parse_query_refund_response(request, account, r, k)
        )

    async def transfer(
        self, account: AlipayAccount, request: svc.TransferRequest
    ) -> svc.TransferResponse:
        if account.mode != "certificate":
            # 单笔转账到账户 quick start, https://docs.open.alipay.com/309/106236/ (配置密钥):
            # "由于单笔转账到账户产品涉及到资金转账接口,为了保障资金安全,开放平台要求开发者使用
            # “公钥证书”模式配置密钥并调用接口". Refused here, before any provider call.
            raise ChannelNotEnabled(
                "Alipay transfers need a certificate-mode account (public-key certificates); "
                f"account {account.account_id!r} is in {account.mode} mode",
                metadata={
                    "channel": self.name,
                    "account_id": account.account_id,
                    "required_mode": "certificate",
                    "provider_code": "CERTIFICATE_MODE_REQUIRED",
                },
            )
        http = transfers.build_transfer_request(request, account, self._clock())
        return await self._logged(
            account, http, lambda r, k: transfers.parse_transfer_response(request, account, r, k)
        )

    async def query_transfer(
        self, account: AlipayAccount, request: svc.QueryTransferRequest
    ) -> svc.QueryTransferResponse:
        http = transfers.build_query_transfer_request(request, account, self._clock())
        return await self._logged(
            account,
            http,
            lambda r, k: transfers.parse_query_transfer_response(request, account, r, k),
        )

    async def cancel_transfer(
        self, account: AlipayAccount, request: svc.CancelTransferRequest
    ) -> svc.CancelTransferResponse:
        """alipay.fund.trans.uni.transfer pays at once: there is no confirmation to cancel."""
        raise OperationNotOffered(
            "Alipay transfers are not cancellable (no payee confirmation step)",
            metadata={"channel": self.name},
        )

    async def download_bill(
        self, account: AlipayAccount, request: svc.DownloadBillRequest
    ) -> svc.DownloadBillResponse:
        day = billfile.parse_bill_date(request.bill_date)
        ex: list[channel_pb2.Exchange] = []
        http = bill.build_bill_url_request(account, day, self._clock())
        url = await self._call(
            account, http, lambda r, k: bill.parse_bill_url_response(r, account, k), ex
        )
        if url is None:
            return billfile.bill_response(None, ex)
        detail, summary = await self._call(
            account, bill.build_download_request(url), lambda r, _: bill.bill_files(r), ex
        )
        return billfile.bill_response(bill.parse_trade_bill(detail, summary), ex)

    async def parse_notify(
        self, account: AlipayAccount, request: svc.ParseNotifyRequest
    ) -> svc.ParseNotifyResponse:
        out = parse_notify(request, account, self._certs.keys(account, self._clock()))
        if out.reject_reason:
            log.warning(
                "alipay_notify_rejected",
                account_id=account.account_id,
                reason=out.reject_reason,
                event_id=out.provider_event_id,
            )
        return out


__all__ = ["AlipayChannel"]
