"""What a provider module (wechat, alipay, unionpay) plugs into the sandbox.

The shared server owns state, faults, callbacks, the control API and the payer page; a
provider owns its wire protocol: routes, signatures, error shapes, callback bodies, and the
provider-specific fields of the merchant registration answer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from aiohttp import web

from paymesh.channels.sandbox.callbacks import Delivery
from paymesh.channels.sandbox.state import Merchant, Refund, SandboxState, Trade, Transfer


class RegistrationError(ValueError):
    """The merchant registration request is invalid."""


class Provider(ABC):
    channel: ClassVar[str]
    path_prefixes: ClassVar[tuple[str, ...]]
    """Request paths (no query) this provider serves; request faults apply to them."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @abstractmethod
    def routes(self) -> list[web.RouteDef]: ...

    @abstractmethod
    def register(self, body: dict[str, Any], existing: Merchant | None) -> Merchant:
        """Build (or update) the merchant record from `POST /_sandbox/merchants`."""

    @abstractmethod
    def registration_answer(self, merchant: Merchant) -> dict[str, Any]:
        """Provider fields of the registration answer (keys, certificates, serials)."""

    @abstractmethod
    def fault_response(self, request: web.Request, status: int) -> web.StreamResponse:
        """The provider's own system-error answer (for the `http_500` fault)."""

    @abstractmethod
    def trade_state(self, trade: Trade) -> str:
        """The provider's name for the trade's state (e.g. WeChat `NOTPAY`)."""

    def refund_state(self, refund: Refund) -> str:
        return refund.status

    def transfer_state(self, transfer: Transfer) -> str:
        return transfer.status

    def pay_url(self, trade: Trade, base_url: str) -> str:
        """Where a person pays this trade (the payer page)."""
        return (
            f"{base_url}/_sandbox/pay/{self.channel}/{trade.out_trade_no}"
            f"?merchant_id={trade.merchant_id}"
        )

    def after_payment_html(self, trade: Trade) -> str:
        """Extra HTML on the payer page of a paid trade (e.g. the way back to the shop)."""
        return ""

    @abstractmethod
    def on_trade_paid(self, trade: Trade) -> None:
        """The trade became PAID: send the callback (in the background)."""

    def on_refund_done(self, refund: Refund, trade: Trade) -> None:
        """The refund reached a final state: send the callback (in the background)."""
        return None

    def on_transfer_done(self, transfer: Transfer) -> None:
        """The transfer reached a final state: send the callback (in the background)."""
        return None

    @abstractmethod
    async def probe_callback(
        self, trade: Trade | None, merchant: Merchant, notify_url: str
    ) -> list[Delivery]:
        """Send a well-formed callback with an invalid signature."""

    def owns(self, path: str) -> bool:
        return path.startswith(self.path_prefixes)
