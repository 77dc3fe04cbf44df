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
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from paymesh.core.db.fastexec import Params, Prepared
from paymesh.errors import DatabaseUnavailable
from paymesh.runtime.dberrors import database_unavailable

Run = Callable[[Callable[[AsyncConnection], Awaitable[Any]]], Awaitable[Any]]
Step = Callable[[AsyncConnection], Awaitable[tuple[Any, Sequence[Params]]]]
MAX_ROWS = 64
Item = TypeVar("Item")


class _Batcher(Generic[Item]):
    """The queue: items that arrive while a batch is in flight go in the next one; each
    caller waits for its own item's answer, given out after the batch's COMMIT."""

    def __init__(self, run: Run, max_items: int = MAX_ROWS) -> None:
        self._run = run
        self._max = max_items
        self._waiting: list[tuple[Item, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def _submit(self, item: Item) -> Any:
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.add_done_callback(_retrieved)
        self._waiting.append((item, done))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await asyncio.shield(done)  # a caller that gives up does not cancel the others

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max]
                del self._waiting[: self._max]
                await self._send(batch)
        finally:
            self._flusher = None

    async def _send(self, batch: list[tuple[Item, asyncio.Future[Any]]]) -> None:
        items = [item for item, _ in batch]
        try:
            answers = await self._run(lambda conn: self._apply(conn, items))
        except BaseException as e:
            if len(batch) > 1 and isinstance(e, Exception) and self._alone(e):
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

    async def _apply(self, conn: AsyncConnection, items: list[Item]) -> list[Any]:
        raise NotImplementedError

    def _alone(self, error: Exception) -> bool:
        """Whether the batch's ``error`` may be one item's own (try each alone)."""
        raise NotImplementedError


class RowBatcher(_Batcher[Params]):
    """Rows of one INSERT statement, a batch as one multi-row INSERT."""

    def __init__(self, run: Run, stmt: Prepared, max_rows: int = MAX_ROWS) -> None:
        super().__init__(run, max_rows)
        self._stmt = stmt

    async def insert(self, row: Params) -> None:
        """Insert ``row``; returns once it is committed, or raises what its row raised."""
        await self._submit(row)

    async def _apply(self, conn: AsyncConnection, items: list[Params]) -> list[Any]:
        await self._stmt.execute(conn, items)
        return [None] * len(items)

    def _alone(self, error: Exception) -> bool:
        return isinstance(error, IntegrityError)  # only the duplicate's caller is refused


class StepBatcher(_Batcher[Step]):
    """Concurrent small transactions run as one: each step (say, a conditional UPDATE) runs
    in turn on one connection and returns its answer and the rows it wants added to `rows`
    (say, its channel log), which go as one multi-row INSERT before the one COMMIT. When the
    shared transaction fails, each step runs again alone in its own transaction, so one
    step's error is only its caller's; a database outage is every caller's at once (not
    tried again step by step).
    """

    def __init__(self, run: Run, rows: Prepared, max_steps: int = MAX_ROWS) -> None:
        super().__init__(run, max_steps)
        self._rows = rows

    async def run(self, step: Step) -> Any:
        return await self._submit(step)

    async def _apply(self, conn: AsyncConnection, items: list[Step]) -> list[Any]:
        return await run_steps(conn, items, self._rows)

    def _alone(self, error: Exception) -> bool:
        return not (isinstance(error, DatabaseUnavailable) or database_unavailable(error))


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


__all__ = ["MAX_ROWS", "RowBatcher", "Step", "StepBatcher", "run_steps"]
