"""Alipay transfers (money out to a person's Alipay account): `alipay.fund.trans.uni.transfer`
and `alipay.fund.trans.common.query`, as pure `build_*` / `parse_*` functions like `adapter`'s.

Our transfer_id is Alipay's out_biz_no.
"""

from __future__ import annotations

from datetime import datetime

from paymesh.channel.v1 import channel_pb2
from paymesh.channel.v1 import channel_service_pb2 as svc
from paymesh.channels.alipay.config import AlipayAccount
from paymesh.channels.alipay.protocol import (
    TRANSFER_NOT_FOUND,
    TRANSFER_REFUSALS,
    CertKeys,
    checked_content,
    post,
    raise_for_code,
    signed_params,
    verified_content,
)
from paymesh.channels.alipay.transformers import (
    M_TRANSFER,
    M_TRANSFER_QUERY,
    TRANSFER_PRODUCT,
    TRANSFER_SCENE,
    get_str,
    required_id,
    transfer_biz,
    transfer_result,
    transfer_state,
)
from paymesh.channels.base import (
    expect_same,
)
from paymesh.channels.transport import HttpRequest, HttpResponse
from paymesh.errors import ChannelUnavailable


def build_transfer_request(
    req: svc.TransferRequest, account: AlipayAccount, now: datetime
) -> HttpRequest:
    biz = transfer_biz(req, account.transfer_order_title)
    return post(account, signed_params(account, M_TRANSFER, biz, now), personal_data=True)


def parse_transfer_response(
    req: svc.TransferRequest,
    account: AlipayAccount,
    resp: HttpResponse,
    keys: CertKeys | None = None,
) -> svc.TransferResponse:
    content = checked_content(resp, account, M_TRANSFER, refusals=TRANSFER_REFUSALS, keys=keys)
    transfer = transfer_result(content, amount=req.amount)
    expect_same("Alipay", "out_biz_no", req.transfer_id, transfer.transfer_id)
    transfer.transfer_id = req.transfer_id
    return svc.TransferResponse(transfer=transfer)


def build_query_transfer_request(
    req: svc.QueryTransferRequest, account: AlipayAccount, now: datetime
) -> HttpRequest:
    biz = {
        "out_biz_no": required_id(req.transfer_id, "transfer_id"),
        "product_code": TRANSFER_PRODUCT,
        "biz_scene": TRANSFER_SCENE,
    }
    return post(account, signed_params(account, M_TRANSFER_QUERY, biz, now))


def parse_query_transfer_response(
    req: svc.QueryTransferRequest,
    account: AlipayAccount,
    resp: HttpResponse,
    keys: CertKeys | None = None,
) -> svc.QueryTransferResponse:
    content = verified_content(resp, account, M_TRANSFER_QUERY, money_out=True, keys=keys)
    if get_str(content, "sub_code") == TRANSFER_NOT_FOUND:
        # alipay.fund.trans.common.query ORDER_NOT_EXIST: never received; Alipay asks for a
        # retry with the same out_biz_no.
        return svc.QueryTransferResponse(
            transfer=channel_pb2.TransferResult(
                state=transfer_state(""),
                transfer_id=req.transfer_id,
                provider_state=TRANSFER_NOT_FOUND,
                not_found=True,
            )
        )
    raise_for_code(content)
    transfer = transfer_result(content)
    expect_same("Alipay", "out_biz_no", req.transfer_id, transfer.transfer_id)
    if not transfer.provider_state:
        raise ChannelUnavailable("malformed Alipay response: no transfer status")
    transfer.transfer_id = req.transfer_id
    return svc.QueryTransferResponse(transfer=transfer)


__all__ = [
    "build_query_transfer_request",
    "build_transfer_request",
    "parse_query_transfer_response",
    "parse_transfer_response",
]
