"""Group commit for the order INSERT: concurrent single-row inserts sent as one.

While one batch's transaction is on its way to the database, the inserts that arrive queue
up; when it commits, they go together as one multi-row INSERT in one transaction. An idle
store sends a lone row at once (no timer, no added latency); a busy one pays one round trip
and one COMMIT per batch instead of per row. Each caller still learns its own row's fate
before it goes on: nothing is acknowledged before its COMMIT. A batch refused for a
duplicate key is sent again row by row, so only the duplicate's caller sees the
IntegrityError; any other failure is every caller's (the store's retries and outage mapping
run inside `run`, as for a single row).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from paymesh.core.db.fastexec import Params, Prepared
from paymesh.errors import DatabaseUnavailable
from paymesh.runtime.dberrors import database_unavailable

Run = Callable[[Callable[[AsyncConnection], Awaitable[Any]]], Awaitable[Any]]
MAX_ROWS = 64


class RowBatcher:
    def __init__(self, run: Run, stmt: Prepared, max_rows: int = MAX_ROWS) -> None:
        self._run = run
        self._stmt = stmt
        self._max = max_rows
        self._waiting: list[tuple[Params, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def insert(self, row: Params) -> None:
        """Insert ``row``; returns once it is committed, or raises what its batch raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.add_done_callback(_retrieved)
        self._waiting.append((row, done))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(done)  # a caller that gives up does not cancel the others

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max]
                del self._waiting[: self._max]
                await self._send(batch)
        finally:
            self._flusher = None

    async def _send(self, batch: list[tuple[Params, asyncio.Future[None]]]) -> None:
        rows = [row for row, _ in batch]
        try:
            await self._run(lambda conn: self._stmt.execute(conn, rows))
        except IntegrityError as e:
            if len(batch) == 1:
                _settle(batch, e)
                return
            for one in batch:  # each row alone: only the duplicate's caller is refused
                await self._send([one])
        except BaseException as e:
            _settle(batch, e)
            if not isinstance(e, Exception):
                raise
        else:
            _settle(batch, None)


async def run_steps(conn: AsyncConnection, steps: Sequence[Step], rows: Prepared) -> list[Any]:
    """The steps in turn on ``conn``, then the rows they asked for; their answers."""
    answers: list[Any] = []
    wanted: list[Params] = []
    for step in steps:
        answer, more = await step(conn)
        answers.append(answer)
        wanted.extend(more)
    if wanted:
        await rows.execute(conn, wanted)
    return answers


def _retrieved(done: asyncio.Future[Any]) -> None:
    """A caller that gave up (cancelled) never reads its answer: no "never retrieved" noise."""
    if not done.cancelled():
        done.exception()


def _outage(e: BaseException) -> bool:
    return isinstance(e, DatabaseUnavailable) or database_unavailable(e) is not None


def _settle(batch: list[tuple[Params, asyncio.Future[None]]], error: BaseException | None) -> None:
    for _, done in batch:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        elif isinstance(error, asyncio.CancelledError):
            done.cancel()
        else:
            done.set_exception(error)


Step = Callable[[AsyncConnection], Awaitable[tuple[Any, Sequence[Params]]]]


class StepBatcher:
    """Concurrent small transactions run as one: each step (say, a conditional UPDATE) runs
    in turn on one connection and returns its answer and the rows it wants added to `rows`
    (say, its channel log), which go as one multi-row INSERT before the one COMMIT. The
    answers are given out only after that COMMIT. When the shared transaction fails, each
    step runs again alone in its own transaction, so one step's error is only its caller's;
    a database outage is every caller's at once (not tried again step by step).
    """

    def __init__(self, run: Run, rows: Prepared, max_steps: int = MAX_ROWS) -> None:
        self._run = run
        self._rows = rows
        self._max = max_steps
        self._waiting: list[tuple[Step, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def run(self, step: Step) -> Any:
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.add_done_callback(_retrieved)
        self._waiting.append((step, done))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await asyncio.shield(done)

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max]
                del self._waiting[: self._max]
                await self._send(batch)
        finally:
            self._flusher = None

    async def _send(self, batch: list[tuple[Step, asyncio.Future[Any]]]) -> None:
        try:
            answers = await self._run(
                lambda conn: run_steps(conn, [s for s, _ in batch], self._rows)
            )
        except BaseException as e:
            if len(batch) > 1 and isinstance(e, Exception) and not _outage(e):
                for one in batch:  # each alone: the failure stays with its own caller
                    await self._send([one])
                return
            for _, done in batch:
                if not done.done():
                    done.set_exception(e) if isinstance(e, Exception) else done.cancel()
            if not isinstance(e, Exception):
                raise
        else:
            for (_, done), answer in zip(batch, answers, strict=True):
                if not done.done():
                    done.set_result(answer)


__all__ = ["MAX_ROWS", "RowBatcher", "Step", "StepBatcher", "run_steps"]
