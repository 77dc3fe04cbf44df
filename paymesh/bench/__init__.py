"""`paymesh bench`: CreateOrder over gRPC and through the HTTP edge beside a raw grpc.aio echo
baseline, the callback path end to end, and CreateOrder again with a pre-seeded orders table;
with the CPU milliseconds per call of paymesh's own processes and their peak RSS.

Everything runs on this machine (see `paymesh.bench.stack`); the load generator is this
process. Figures are noisy on a few shared cores: compare ratios within one run.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys

from paymesh.bench.callbacks import callback_case
from paymesh.bench.cases import echo_case, envoy_case, grpc_case
from paymesh.bench.procstat import Meter
from paymesh.bench.report import PAYMESH_GROUPS, Report
from paymesh.bench.seed import seed_orders
from paymesh.bench.stack import start_stack
from paymesh.config.crypto import DEV_MASTER_KEY, MASTER_KEY_ENV
from paymesh.dev.seed import WECHAT_ACCOUNT


async def run_bench(
    seconds: float = 10.0,
    concurrency: int = 32,
    channel: str = "wechat",
    *,
    workers: int = 1,
    callbacks: int = 1000,
    callback_rate: float = 120.0,
    seed: int = 1_000_000,
    json_path: str | None = None,
) -> Report:
    os.environ.setdefault(MASTER_KEY_ENV, DEV_MASTER_KEY)
    report = Report(
        command=shlex.join(["paymesh", *sys.argv[1:]]),
        seconds=seconds,
        concurrency=concurrency,
        workers=workers,
        channel=channel,
        load_before=os.getloadavg(),
    )
    async with contextlib.AsyncExitStack() as stack:
        s = await start_stack(stack, workers)
        meter = Meter(s.pids, alone=frozenset({"load generator"}))  # it started the rest
        report.cases.append(await echo_case(s, meter, seconds, concurrency))
        report.cases.append(
            await grpc_case(s, meter, seconds, concurrency, channel, "CreateOrder over gRPC")
        )
        report.cases.append(await envoy_case(s, meter, seconds, concurrency, channel))
        if callbacks:
            report.callbacks = await callback_case(s, meter, callbacks, concurrency)
            if callback_rate > 0:
                report.callbacks_paced = await callback_case(
                    s, meter, callbacks, concurrency, callback_rate
                )
        if seed:
            report.seed_seconds = await seed_orders(
                s.mariadb, "bench", seed, s.app.app_id, WECHAT_ACCOUNT
            )
            report.seeded_orders = seed
            report.seeded = await grpc_case(
                s, meter, seconds, concurrency, channel, f"CreateOrder gRPC, {seed:,} orders"
            )
        for group in PAYMESH_GROUPS:
            for pid, mb in meter.peaks(group).items():
                report.rss_mb[f"{group} {pid}"] = mb
        report.load_after = os.getloadavg()
    report.print()
    if json_path:
        report.write_json(json_path)
    return report


__all__ = ["Report", "run_bench"]
