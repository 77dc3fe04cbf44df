"""Fees against the account's agreed rate, on both storage columns: the sandbox charges
0.6 %; with `fee_rate_bp` 60 a day reconciles clean, with 38 (another rate) every payment is
FEE_DIFFERS while its money still settles; such a mismatch is accepted, never repaired."""

from __future__ import annotations

import uuid
from datetime import datetime

import aiohttp
import grpc
import pytest

from paymesh.channels.billfile import CHINA
from paymesh.config import factory as config_factory
from paymesh.dev.seed import private_key_pem, seed_app, seed_wechat
from paymesh.merchant.v1 import pay_service_pb2
from paymesh.ops.v1 import reconciliation_service_pb2 as rpc
from paymesh.ops.v1 import reconciliation_service_pb2_grpc as rpc_grpc
from tests.e2e.conftest import Mesh
from tests.e2e.helpers import eventually, out_no
from tests.e2e.test_reconciliation import _paid


async def test_fees_are_checked_against_the_agreed_rate(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    suffix = uuid.uuid4().hex[:6]
    account_id = f"wx-fee-{suffix}"
    account = await seed_wechat(mesh.repo, mesh.sandbox_url, private_key_pem(), account_id,
                                mchid=f"19{uuid.uuid4().int % 10**8:08d}", appid=f"wxfee{suffix}")  # fmt: skip
    app = await seed_app(mesh.repo, app_id=f"fee-{suffix}", wechat_account=account_id,
                         alipay_account=None)  # fmt: skip
    m = mesh.merchant(http, app)
    served = await config_factory.config_repository(mesh.server.context)

    async def rate(bp: int) -> None:  # stored, then seen by the running services
        await mesh.repo.put_channel_account(account.model_copy(update={"fee_rate_bp": bp}))

        async def seen() -> bool:
            return (await served.get_channel_account("wechat", account_id)).fee_rate_bp == bp

        await eventually(seen)

    async def ready() -> bool:
        status, _ = await m.post(
            "/v1/orders",
            {"out_trade_no": out_no(), "amount": 1, "subject": "warm-up", "method": "qr"},
            pay_service_pb2.CreateOrderRequest,
        )
        return status == 200

    await eventually(ready)
    await rate(60)
    big = await _paid(mesh, http, m, 10_000)  # fee 60 fen at 0.6 %
    small = await _paid(mesh, http, m, 1234)  # 7.404 fen
    today = datetime.now(CHINA).date().isoformat()
    request = rpc.RunReconciliationRequest(channel="wechat", account_id=account_id,
                                           bill_date=today)  # fmt: skip
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.server.port}") as channel:
        ops = rpc_grpc.ReconciliationServiceStub(channel)
        clean = await ops.RunReconciliation(request)
        assert (clean.run.status, clean.run.matched_count, clean.run.mismatch_count) == (
            "DONE", 2, 0,
        )  # fmt: skip
        assert clean.run.fee_amount == 67

        # another rate agreed (0.38 %): both lines' fees differ; the money still matched
        await rate(38)
        again = await ops.RunReconciliation(request)
        found = {(x.kind, x.object_id): x for x in again.mismatches}
        assert set(found) == {("FEE_DIFFERS", big), ("FEE_DIFFERS", small)}
        fee = found[("FEE_DIFFERS", big)]
        assert (fee.ours_amount, fee.provider_amount, fee.status) == (38, 60, "OPEN")
        assert again.run.matched_count == 2
        summary = await ops.GetSettlementSummary(rpc.GetSettlementSummaryRequest(bill_date=today))
        (mine,) = [s for s in summary.summaries if s.app_id == app.app_id]
        assert (mine.payment_count, mine.payment_amount, mine.fee_amount) == (2, 11_234, 67)

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ops.ResolveMismatch(
                rpc.ResolveMismatchRequest(mismatch_id=fee.mismatch_id,
                                           action=rpc.RESOLVE_ACTION_REPAIR, actor="ops-fee")
            )  # fmt: skip
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        accepted = await ops.ResolveMismatch(
            rpc.ResolveMismatchRequest(mismatch_id=fee.mismatch_id,
                                       action=rpc.RESOLVE_ACTION_ACCEPT, actor="ops-fee",
                                       note="promotional rate ended, provider ticket 7")
        )  # fmt: skip
        assert accepted.mismatch.status == "ACCEPTED"
        # the rate fixed back: the other one clears on the next run
        await rate(60)
        final = await ops.RunReconciliation(request)
        statuses = {(x.kind, x.object_id): x.status for x in final.mismatches}
        assert statuses == {("FEE_DIFFERS", big): "ACCEPTED", ("FEE_DIFFERS", small): "RESOLVED"}
        assert (final.run.mismatch_count, final.run.open_count) == (0, 0)
