"""WeChat 商家转账 (transfer bills) in the sandbox, with the payee's confirmation.

- `POST /v3/fund-app/mch-transfer/transfer-bills` (发起转账,
  https://pay.weixin.qq.com/doc/v3/merchant/4012716434): requires `transfer_scene_report_infos`
  (non-empty list of `{info_type, info_content}`) and accepts `user_recv_perception`.
  Normally the bill is ACCEPTED and succeeds after the sandbox's transfer delay; with the
  `confirm_transfers` fault armed it waits for the payee instead: `WAIT_USER_CONFIRM` with a
  `package_info` (the real API's user-confirmation mode).
- `GET .../out-bill-no/{no}`: the bill.
- `POST .../out-bill-no/{no}/cancel` (撤销转账, https://pay.weixin.qq.com/doc/v3/merchant/4012716458):
  a bill not yet confirmed answers `CANCELING` and becomes `CANCELLED` (callback) after the
  transfer delay; a finished bill is refused (400 INVALID_REQUEST).
- The payee's side: `GET /_sandbox/transfers/wechat/{out_bill_no}` shows the confirm page,
  `POST` to it (or `POST /_sandbox/transfers/confirm {"channel", "out_transfer_no"}`)
  confirms receipt: the bill then succeeds as usual.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from aiohttp import web

from paymesh.channels.sandbox import wechat_views as views
from paymesh.channels.sandbox.control import ControlError, _json_handler
from paymesh.channels.sandbox.state import (
    ItemStatus,
    Merchant,
    SandboxState,
    Transfer,
    now,
    random_digits,
    random_token,
)
from paymesh.channels.sandbox.wechat_errors import CHANNEL, WeChatError
from paymesh.channels.sandbox.wechat_params import (
    Answer,
    Json,
    _check_appid,
    _fingerprint,
    _int,
    _param,
    _str,
    _url,
)

if TYPE_CHECKING:
    from paymesh.channels.sandbox.wechat_api import WeChatApi

_BILL_NO_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _report_infos(data: Json) -> list[dict[str, str]]:
    infos = data.get("transfer_scene_report_infos")
    if not isinstance(infos, list) or not infos:
        raise _param("transfer_scene_report_infos is required for this transfer scene")
    out = []
    for item in infos:
        if not isinstance(item, dict):
            raise _param("transfer_scene_report_infos entries must be objects")
        out.append(
            {
                "info_type": _str(item, "info_type", 15),
                "info_content": _str(item, "info_content", 32),
            }
        )
    return out


class WeChatTransfers:
    def __init__(self, api: WeChatApi) -> None:
        self.api = api
        self.state: SandboxState = api.state

    def routes(self, bills: str) -> list[web.RouteDef]:
        w = self.api._wrap
        return [
            web.post(bills, w(self.create)),
            web.get(bills + "/out-bill-no/{no}", w(self.query)),
            web.post(bills + "/out-bill-no/{no}/cancel", w(self.cancel)),
            web.get("/_sandbox/transfers/wechat/{no}", self.confirm_page),
            web.post("/_sandbox/transfers/wechat/{no}", self.confirm_form),
            web.post("/_sandbox/transfers/confirm", _json_handler(self.confirm_api)),
        ]

    # --- provider API ---------------------------------------------------------------------

    async def create(self, request: web.Request, m: Merchant, data: Json) -> Answer:
        appid = _str(data, "appid", 32)
        out_bill_no = _str(data, "out_bill_no", 32)
        if not 5 <= len(out_bill_no) <= 32 or not set(out_bill_no) <= _BILL_NO_CHARS:
            raise _param("out_bill_no must be 5-32 letters or digits")
        _str(data, "transfer_scene_id", 36)
        openid = _str(data, "openid", 64)
        amount = _int(data, "transfer_amount", "body")
        remark = _str(data, "transfer_remark", 32)
        notify_url = _url(data, "notify_url", required=False)
        infos = _report_infos(data)
        perception = data.get("user_recv_perception", "")
        if not isinstance(perception, str) or len(perception) > 32:
            raise _param("user_recv_perception must be a string of at most 32 characters")
        _check_appid(m, appid)
        key = (CHANNEL, m.merchant_id, out_bill_no)
        fingerprint = _fingerprint({k: v for k, v in data.items() if k != "user_name"})
        existing = self.state.transfers.get(key)
        if existing is not None:
            if existing.fingerprint != fingerprint:
                raise WeChatError(400, "INVALID_REQUEST", "商户单号重复，且与之前的请求参数不一致")
            return 200, views.transfer_created(existing)
        transfer = Transfer(
            channel=CHANNEL,
            merchant_id=m.merchant_id,
            out_transfer_no=out_bill_no,
            amount=amount,
            payee=openid,
            remark=remark,
            notify_url=notify_url,
            channel_transfer_no="1330" + now().strftime("%Y%m%d") + random_digits(24),
            fingerprint=fingerprint,
            extra={"appid": appid, "report_infos": infos, "perception": perception},
        )
        self.state.transfers[key] = transfer
        if self.state.faults.take(CHANNEL, "confirm_transfers", out_bill_no):
            transfer.extra["wait_confirm"] = True
            transfer.extra["package_info"] = "ABBQO+oYAAABAAAAAAB" + random_token(40)
        else:
            self.state.schedule_transfer(transfer)
        return 200, views.transfer_created(transfer)

    async def query(self, request: web.Request, m: Merchant, _data: Json) -> Answer:
        transfer = self.state.transfers.get((CHANNEL, m.merchant_id, request.match_info["no"]))
        if transfer is None:
            raise WeChatError(404, "NOT_FOUND", "记录不存在")
        return 200, views.transfer(transfer)

    async def cancel(self, request: web.Request, m: Merchant, _data: Json) -> Answer:
        transfer = self.state.transfers.get((CHANNEL, m.merchant_id, request.match_info["no"]))
        if transfer is None:
            raise WeChatError(404, "NOT_FOUND", "记录不存在")
        if transfer.extra.get("cancel"):
            return 200, views.transfer_cancel(transfer)
        if transfer.status != ItemStatus.PENDING or not transfer.extra.get("wait_confirm"):
            raise WeChatError(400, "INVALID_REQUEST", "当前转账单状态不支持撤销")
        transfer.extra["cancel"] = "CANCELING"
        transfer.extra.pop("wait_confirm", None)

        def finish() -> None:
            transfer.extra["cancel"] = "CANCELLED"
            transfer.status = ItemStatus.FAILED
            transfer.fail_reason = "MERCHANT_REVOCATION"
            transfer.updated_at = now()
            self.state.providers[CHANNEL].on_transfer_done(transfer)

        self.state._later(self.state.transfer_delay, finish)
        return 200, views.transfer_cancel(transfer)

    # --- the payee ------------------------------------------------------------------------

    def _waiting(self, out_bill_no: str, merchant_id: str | None = None) -> Transfer:
        found = [
            t
            for (ch, mid, no), t in self.state.transfers.items()
            if ch == CHANNEL and no == out_bill_no and merchant_id in (None, mid)
        ]
        if len(found) != 1:
            raise ControlError(404, "NOT_FOUND", "no such transfer")
        return found[0]

    def _confirm(self, transfer: Transfer) -> None:
        if not transfer.extra.get("wait_confirm"):
            raise ControlError(409, "NOT_WAITING", "the transfer is not waiting for the payee")
        transfer.extra.pop("wait_confirm")
        transfer.extra.pop("package_info", None)
        self.state.schedule_transfer(transfer)

    async def confirm_page(self, request: web.Request) -> web.Response:
        try:
            t = self._waiting(request.match_info["no"])
        except ControlError as e:
            return web.Response(status=e.status, text=e.message)
        waiting = bool(t.extra.get("wait_confirm"))
        button = (
            "<form method='post'><button class='pay'>确认收款</button></form>" if waiting else ""
        )
        body = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>确认收款</title></head>"
            f"<body><h1>确认收款</h1><p>{escape(t.remark)}</p>"
            f"<p class='amount'>¥{t.amount // 100}.{t.amount % 100:02d}</p>"
            f"<p class='state'>{escape(views.transfer_state(t))}</p>{button}</body></html>"
        )
        return web.Response(text=body, content_type="text/html")

    async def confirm_form(self, request: web.Request) -> web.Response:
        try:
            self._confirm(self._waiting(request.match_info["no"]))
        except ControlError as e:
            return web.Response(status=e.status, text=e.message)
        raise web.HTTPSeeOther(f"/_sandbox/transfers/wechat/{request.match_info['no']}")

    async def confirm_api(self, request: web.Request) -> dict[str, Any]:
        body = await request.json()
        if not isinstance(body, dict) or body.get("channel") != CHANNEL:
            raise ControlError(400, "INVALID_ARGUMENT", "channel must be wechat")
        t = self._waiting(str(body.get("out_transfer_no", "")), body.get("merchant_id"))
        self._confirm(t)
        return {
            "transfer": {"out_transfer_no": t.out_transfer_no, "state": views.transfer_state(t)}
        }


__all__ = ["WeChatTransfers"]
