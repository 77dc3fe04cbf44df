"""Transfers (payouts): idempotent insert and terminal transitions with outbox events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from paymesh.core.db.base import Created, StoreBase, Transition
from paymesh.core.db.events import TRANSFER_FAILED, TRANSFER_SUCCEEDED, transfer_payload
from paymesh.core.db.models import Transfer, TransferStatus
from paymesh.errors import DuplicateOutTransferNo, InvalidArgument, TransferNotFound
from paymesh.runtime import metrics


@dataclass(frozen=True)
class NewTransfer:
    app_id: str
    out_transfer_no: str
    amount: int
    channel: str
    account_id: str
    payee_id: str
    currency: str = "CNY"
    payee_name: str = ""
    remark: str = ""
    notify_url: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    transfer_id: str = ""  # generated when empty


def same_transfer(existing: Transfer, new: NewTransfer) -> bool:
    return (
        existing.amount == new.amount
        and existing.currency == new.currency
        and existing.channel == new.channel
        and existing.payee_id == new.payee_id
    )


class TransferStore(StoreBase):
    async def insert_transfer(self, new: NewTransfer) -> Created[Transfer]:
        """Insert a PENDING transfer or return the existing one for a retried request."""
        if new.amount <= 0:
            raise InvalidArgument("amount must be positive", field="amount")
        now = self.clock()
        transfer_id = new.transfer_id or self.ids.transfer_id()

        def build() -> Transfer:
            return Transfer(
                transfer_id=transfer_id,
                app_id=new.app_id,
                out_transfer_no=new.out_transfer_no,
                amount=new.amount,
                currency=new.currency,
                channel=new.channel,
                account_id=new.account_id,
                payee_id=new.payee_id,
                payee_name=new.payee_name,
                remark=new.remark,
                status=TransferStatus.PENDING.value,
                channel_transfer_no="",
                fail_reason="",
                notify_url=new.notify_url,
                meta=dict(new.metadata),
                created_at=now,
                updated_at=now,
                version=1,
            )

        created = await self._insert_idempotent(
            build,
            lambda: self.get_transfer_by_out_transfer_no(new.app_id, new.out_transfer_no),
            lambda existing: same_transfer(existing, new),
            lambda existing: DuplicateOutTransferNo(
                "out_transfer_no already used with a different amount, channel or payee",
                metadata={
                    "out_transfer_no": new.out_transfer_no,
                    "transfer_id": existing.transfer_id,
                },
            ),
        )
        if created.created:
            metrics.transfer_moved("created")
        return created

    async def get_transfer(self, transfer_id: str, app_id: str | None = None) -> Transfer | None:
        async def tx(s: AsyncSession) -> Transfer | None:
            return await s.get(Transfer, transfer_id)

        row = await self._run(tx)
        if row is None or (app_id is not None and row.app_id != app_id):
            return None
        return row

    async def get_transfer_by_out_transfer_no(
        self, app_id: str, out_transfer_no: str
    ) -> Transfer | None:
        async def tx(s: AsyncSession) -> Transfer | None:
            stmt = sa.select(Transfer).where(
                Transfer.app_id == app_id, Transfer.out_transfer_no == out_transfer_no
            )
            return (await s.execute(stmt)).scalar_one_or_none()

        return await self._run(tx)

    async def list_transfers(
        self, status: TransferStatus, *, created_before: datetime | None = None, limit: int = 100
    ) -> list[Transfer]:
        async def tx(s: AsyncSession) -> list[Transfer]:
            stmt = sa.select(Transfer).where(Transfer.status == status.value)
            if created_before is not None:
                stmt = stmt.where(Transfer.created_at < created_before)
            stmt = stmt.order_by(Transfer.created_at, Transfer.transfer_id).limit(limit)
            return list((await s.execute(stmt)).scalars())

        return await self._run(tx)

    async def _transfer_transition(
        self,
        transfer_id: str,
        values: Mapping[str, Any],
        event_type: str | None,
        guard: tuple[sa.ColumnElement[bool], ...] = (),
    ) -> Transition[Transfer]:
        now = self.clock()

        async def tx(s: AsyncSession) -> Transition[Transfer]:
            changed = await self._update(
                s,
                Transfer,
                [
                    Transfer.transfer_id == transfer_id,
                    Transfer.status == TransferStatus.PENDING.value,
                    *guard,
                ],
                {**values, "updated_at": now, "version": Transfer.version + 1},
            )
            row = await self._load(s, Transfer, transfer_id)
            if row is None:
                raise TransferNotFound("transfer not found", metadata={"transfer_id": transfer_id})
            if changed and event_type is not None:
                await self._emit(
                    s,
                    event_type=event_type,
                    app_id=row.app_id,
                    aggregate_id=row.transfer_id,
                    notify_url=row.notify_url,
                    payload=transfer_payload(row, event_type),
                )
            return Transition(row, changed)

        moved = await self._run(tx)
        if moved.changed and "status" in values:
            metrics.transfer_moved(values["status"])
        return moved

    async def store_transfer_channel_no(
        self, transfer_id: str, channel_transfer_no: str
    ) -> Transition[Transfer]:
        """Remember the provider's bill number while the transfer is PENDING."""
        return await self.note_pending_transfer(
            transfer_id, channel_transfer_no=channel_transfer_no
        )

    async def note_pending_transfer(
        self,
        transfer_id: str,
        *,
        channel_transfer_no: str = "",
        channel_state: str = "",
        pending_reason: str = "",
        pay_data: dict[str, Any] | None = None,
    ) -> Transition[Transfer]:
        """Record what the provider said about a transfer that stays PENDING (bill number,
        its own state word, why it is still open, what the payee needs). No event."""
        values: dict[str, Any] = {}
        if channel_transfer_no:
            values["channel_transfer_no"] = channel_transfer_no
        if channel_state:
            values["channel_state"] = channel_state[:32]
        if pending_reason:
            values["pending_reason"] = pending_reason[:256]
        if pay_data is not None:
            values["pay_data"] = pay_data or None
        if not values:
            row = await self.get_transfer(transfer_id)
            if row is None:
                raise TransferNotFound("transfer not found", metadata={"transfer_id": transfer_id})
            return Transition(row, False)
        return await self._transfer_transition(transfer_id, values, None)

    async def claim_transfer_resubmit(
        self, transfer_id: str, attempts_seen: int, reason: str
    ) -> Transition[Transfer]:
        """Count one resubmission, guarded on the attempts the caller saw (one resubmission
        per answer, whoever else is sweeping). ``changed`` = go ahead."""
        return await self._transfer_transition(
            transfer_id,
            {"submit_attempts": attempts_seen + 1, "pending_reason": reason[:256]},
            None,
            (Transfer.submit_attempts == attempts_seen,),
        )

    async def mark_transfer_succeeded(
        self,
        transfer_id: str,
        channel_transfer_no: str = "",
        succeeded_at: datetime | None = None,
        *,
        channel_state: str = "",
    ) -> Transition[Transfer]:
        """PENDING -> SUCCEEDED; emits ``transfer.succeeded``."""
        values: dict[str, Any] = {
            "status": TransferStatus.SUCCEEDED.value,
            "succeeded_at": succeeded_at or self.clock(),
            "pay_data": None,
        }
        if channel_state:
            values["channel_state"] = channel_state[:32]
        if channel_transfer_no:
            values["channel_transfer_no"] = channel_transfer_no
        return await self._transfer_transition(transfer_id, values, TRANSFER_SUCCEEDED)

    async def mark_transfer_failed(
        self,
        transfer_id: str,
        reason: str = "",
        failed_at: datetime | None = None,
        *,
        channel_state: str = "",
    ) -> Transition[Transfer]:
        """PENDING -> FAILED; emits ``transfer.failed``. Only for a definitive refusal or
        failure state of the provider."""
        values: dict[str, Any] = {
            "status": TransferStatus.FAILED.value,
            "fail_reason": reason[:256],
            "failed_at": failed_at or self.clock(),
            "pay_data": None,
        }
        if channel_state:
            values["channel_state"] = channel_state[:32]
        return await self._transfer_transition(transfer_id, values, TRANSFER_FAILED)
