"""WechatChannel: the WeChat Pay v3 `Channel`, gluing the pure adapter to the `Transport`.

Stateless with respect to orders. It caches one thing per account: platform certificates
downloaded from `/v3/certificates` (download mode), refreshed every 12 hours and when an
answer or a callback names a serial we do not know (at most once a minute per account).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric import rsa

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels import billfile
from paymesh.channels.base import ChannelBase
from paymesh.channels.transport import HttpRequest, Transport
from paymesh.channels.wechat import adapter, bill, fundflow, oauth, protocol, transfers
from paymesh.channels.wechat.config import WECHAT_METHODS, WechatAccount
from paymesh.channels.wechat.notify import fail_reply, parse_notify
from paymesh.channels.wechat.protocol import PlatformKeys, UnknownSerial
from paymesh.runtime.clock import utcnow
from paymesh.runtime.logging import get_logger

log = get_logger("paymesh.channels.wechat")

T = TypeVar("T")

CERT_TTL_SECONDS = 12 * 3600
MIN_REFRESH_SECONDS = 60.0


def new_nonce() -> str:
    return secrets.token_hex(16).upper()


@dataclass
class _CertCache:
    keys: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)
    fetched_at: float = 0.0  # monotonic
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class WechatChannel(ChannelBase[WechatAccount, PlatformKeys]):
    """WeChat Pay API v3 (直连商户)."""

    # What a callback for an unknown account is answered with: the same as a forged one.
    rejected_notify_reply = fail_reply(401, "callback signature invalid")

    account_class = WechatAccount
    pay_methods = frozenset(WECHAT_METHODS)

    def __init__(
        self,
        transport: Transport,
        *,
        clock: Callable[[], datetime] = utcnow,
        nonce: Callable[[], str] = new_nonce,
    ) -> None:
        super().__init__(transport, clock=clock)
        self._nonce = nonce
        self._certs: dict[str, _CertCache] = {}

    # --- platform keys ----------------------------------------------------------------

    async def _download(
        self, account: WechatAccount, cache: _CertCache, exchanges: list[channel_pb2.Exchange]
    ) -> None:
        request = protocol.build_certificates_request(account, self._clock(), self._nonce())
        response = await self._send(account, request, exchanges)
        known = {**protocol.configured_platform_keys(account), **cache.keys}
        downloaded = protocol.parse_certificates_response(response, account, self._clock(), known)
        cache.keys = downloaded
        cache.fetched_at = time.monotonic()
        log.info(
            "wechat_platform_certificates",
            account_id=account.account_id,
            serials=sorted(downloaded),
        )

    async def platform_keys(
        self,
        account: WechatAccount,
        exchanges: list[channel_pb2.Exchange],
        *,
        force_refresh: bool = False,
    ) -> PlatformKeys:
        configured = protocol.configured_platform_keys(account)
        if not account.download_certificates:
            return configured
        cache = self._certs.setdefault(protocol.account_cache_key(account), _CertCache())
        async with cache.lock:
            age = time.monotonic() - cache.fetched_at
            due = not cache.fetched_at or age > CERT_TTL_SECONDS
            if due or (force_refresh and age > MIN_REFRESH_SECONDS):
                await self._download(account, cache, exchanges)
        return {**configured, **cache.keys}

    # --- plumbing ----------------------------------------------------------------------

    async def _keys(
        self, account: WechatAccount, exchanges: list[channel_pb2.Exchange], *, refresh: bool
    ) -> PlatformKeys:
        return await self.platform_keys(account, exchanges, force_refresh=refresh)

    def _stale_keys(self, account: WechatAccount, error: Exception) -> bool:
        return isinstance(error, UnknownSerial) and account.download_certificates

    # --- Channel ---------------------------------------------------------------------------

    async def identify_payer(
        self, account: WechatAccount, request: svc.IdentifyPayerRequest
    ) -> svc.IdentifyPayerResponse:
        """snsapi_base: the OAuth code -> the payer's openid (sns/oauth2/access_token)."""
        ex: list[channel_pb2.Exchange] = []
        http = oauth.build_access_token_request(account, request.code)
        response = await self._send(account, http, ex)
        return svc.IdentifyPayerResponse(
            payer_id=oauth.parse_access_token_response(response), exchanges=ex
        )

    async def pay(self, account: WechatAccount, request: svc.PayRequest) -> svc.PayResponse:
        ex: list[channel_pb2.Exchange] = []
        now = self._clock()
        http = adapter.build_pay_request(request, account, now, self._nonce())
        client_nonce = self._nonce()
        out = await self._call(
            account,
            http,
            lambda r, k: adapter.parse_pay_response(
                request, account, r, k, self._clock(), client_nonce
            ),
            ex,
        )
        out.exchanges.extend(ex)
        return out

    async def query(self, account: WechatAccount, request: svc.QueryRequest) -> svc.QueryResponse:
        http = adapter.build_query_request(request, account, self._clock(), self._nonce())
        return await self._logged(
            account, http, lambda r, k: adapter.parse_query_response(request, r, k, self._clock())
        )

    async def close(self, account: WechatAccount, request: svc.CloseRequest) -> svc.CloseResponse:
        http = adapter.build_close_request(request, account, self._clock(), self._nonce())
        return await self._logged(
            account, http, lambda r, k: adapter.parse_close_response(r, k, self._clock())
        )

    async def refund(
        self, account: WechatAccount, request: svc.RefundRequest
    ) -> svc.RefundResponse:
        http = adapter.build_refund_request(request, account, self._clock(), self._nonce())
        return await self._logged(
            account, http, lambda r, k: adapter.parse_refund_response(request, r, k, self._clock())
        )

    async def query_refund(
        self, account: WechatAccount, request: svc.QueryRefundRequest
    ) -> svc.QueryRefundResponse:
        http = adapter.build_query_refund_request(request, account, self._clock(), self._nonce())
        return await self._logged(
            account,
            http,
            lambda r, k: adapter.parse_query_refund_response(request, r, k, self._clock()),
        )

    async def transfer(
        self, account: WechatAccount, request: svc.TransferRequest
    ) -> svc.TransferResponse:
        ex: list[channel_pb2.Exchange] = []
        keys = await self.platform_keys(account, ex) if request.payee_name else None
        http = transfers.build_transfer_request(
            request, account, self._clock(), self._nonce(), keys
        )
        out = await self._call(
            account,
            http,
            lambda r, k: transfers.parse_transfer_response(request, r, k, self._clock(), account),
            ex,
        )
        out.exchanges.extend(ex)
        return out

    async def query_transfer(
        self, account: WechatAccount, request: svc.QueryTransferRequest
    ) -> svc.QueryTransferResponse:
        http = transfers.build_query_transfer_request(
            request, account, self._clock(), self._nonce()
        )
        return await self._logged(
            account,
            http,
            lambda r, k: transfers.parse_query_transfer_response(request, r, k, self._clock()),
        )

    async def _bill_file(
        self, account: WechatAccount, http: HttpRequest, ex: list[channel_pb2.Exchange]
    ) -> bytes | None:
        """One bill of WeChat's two-step download (trade or fund flow): the answer names
        `download_url` and its SHA1; the signed download is gunzipped and hash checked.
        None: WeChat has no such bill that day."""
        found = await self._call(
            account, http, lambda r, k: bill.parse_tradebill_response(r, k, self._clock()), ex
        )
        if found is None:
            return None
        url, sha1 = found
        download = bill.build_download_request(account, url, self._clock(), self._nonce())
        return bill.bill_bytes(await self._send(account, download, ex), sha1)

    async def download_bill(
        self, account: WechatAccount, request: svc.DownloadBillRequest
    ) -> svc.DownloadBillResponse:
        """The trade bill (ALL) and the BASIC account's fund flow bill of the day."""
        day = billfile.parse_bill_date(request.bill_date)
        ex: list[channel_pb2.Exchange] = []
        http = bill.build_tradebill_request(account, day, self._clock(), self._nonce())
        raw = await self._bill_file(account, http, ex)
        lines = None if raw is None else bill.parse_trade_bill(raw)
        http = fundflow.build_fundflowbill_request(account, day, self._clock(), self._nonce())
        raw = await self._bill_file(account, http, ex)
        flows = None if raw is None else fundflow.parse_fund_flow_bill(raw)
        out = billfile.bill_response(lines, ex)
        out.fund_flow.CopyFrom(fundflow.summarize(flows))
        return out

    async def cancel_transfer(
        self, account: WechatAccount, request: svc.CancelTransferRequest
    ) -> svc.CancelTransferResponse:
        http = transfers.build_cancel_transfer_request(
            request, account, self._clock(), self._nonce()
        )
        return await self._logged(
            account,
            http,
            lambda r, k: transfers.parse_cancel_transfer_response(request, r, k, self._clock()),
        )

    async def parse_notify(
        self, account: WechatAccount, request: svc.ParseNotifyRequest
    ) -> svc.ParseNotifyResponse:
        ex: list[channel_pb2.Exchange] = []
        keys = await self.platform_keys(account, ex)
        try:
            out = parse_notify(
                request,
                account,
                keys,
                self._clock(),
                raise_unknown_serial=account.download_certificates,
            )
        except UnknownSerial:
            keys = await self.platform_keys(account, ex, force_refresh=True)
            out = parse_notify(request, account, keys, self._clock())
        if out.reject_reason:
            log.warning(
                "wechat_notify_rejected",
                account_id=account.account_id,
                reason=out.reject_reason,
                event_id=out.provider_event_id,
            )
        return out


__all__ = ["WechatChannel", "new_nonce"]
