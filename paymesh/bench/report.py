"""The benchmark's figures: printed as a table, and as JSON (`--json`), with the targets of
issue 18 checked against them (ratios within one run; absolute figures vary by machine)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paymesh.bench.callbacks import CallbackResult, p99
from paymesh.bench.drive import PROVIDER_CALLS, Result, percentile

PAYMESH_GROUPS = ("gateway", "notify")  # paymesh's own processes


@dataclass
class Report:
    command: str
    seconds: float
    concurrency: int
    workers: int
    channel: str
    load_before: tuple[float, float, float]
    cases: list[Result] = field(default_factory=list)
    callbacks: CallbackResult | None = None  # the burst: capacity
    callbacks_paced: CallbackResult | None = None  # at an offered rate: latency
    seeded: Result | None = None
    seeded_orders: int = 0
    seed_seconds: float = 0.0
    rss_mb: dict[str, float] = field(default_factory=dict)  # "group pid" -> peak MiB
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def paymesh_cpu(self, r: Result | CallbackResult) -> float:
        return sum(r.cpu_ms.get(g, 0.0) for g in PAYMESH_GROUPS)

    def targets(self) -> list[tuple[str, float, str, bool]]:
        """(what, measured, target, met) per target of issue 18."""
        echo, grpc_, edge = [*self.cases, None, None, None][:3]
        out: list[tuple[str, float, str, bool]] = []
        if echo and grpc_ and edge and echo.rate:
            out += [
                ("CreateOrder gRPC / echo", grpc_.rate / echo.rate, ">= 0.08", grpc_.rate / echo.rate >= 0.08),
                ("CreateOrder Envoy / echo", edge.rate / echo.rate, ">= 0.075", edge.rate / echo.rate >= 0.075),
                ("CreateOrder gRPC p99 ms", grpc_.percentile(99), "<= 250", grpc_.percentile(99) <= 250),
                ("CreateOrder Envoy p99 ms", edge.percentile(99), "<= 250", edge.percentile(99) <= 250),
                ("paymesh CPU ms/order (gRPC)", self.paymesh_cpu(grpc_), "<= 5", self.paymesh_cpu(grpc_) <= 5),
            ]  # fmt: skip
        if self.rss_mb:
            peak = max(self.rss_mb.values())
            out.append(("peak RSS of any paymesh process MiB", peak, "<= 150", peak <= 150))
        if self.callbacks is not None:
            cb = self.callbacks
            out += [
                ("callback path payments/s (burst)", cb.rate, ">= 100", cb.rate >= 100),
                ("callbacks notified exactly once (burst)", float(cb.exactly_once), "== 1", cb.exactly_once),
            ]  # fmt: skip
        if (paced := self.callbacks_paced) is not None:
            offered = f"{paced.offered_rate:.0f}/s offered"
            out += [
                (f"callback path payments/s ({offered})", paced.rate, ">= 100", paced.rate >= 100),
                (f"callback p99 payment->notification ms ({offered})", p99(paced), "<= 2000", p99(paced) <= 2000),
                ("callbacks notified exactly once (paced)", float(paced.exactly_once), "== 1", paced.exactly_once),
            ]  # fmt: skip
        if self.seeded is not None and grpc_ is not None and grpc_.rate:
            ratio = self.seeded.rate / grpc_.rate
            out.append(
                (
                    f"CreateOrder with {self.seeded_orders:,} orders / empty",
                    ratio,
                    ">= 0.9",
                    ratio >= 0.9,
                )
            )
        return out

    def as_json(self) -> dict[str, Any]:
        base = self.cases[0].rate if self.cases else 0.0

        def case(r: Result) -> dict[str, Any]:
            return {
                "name": r.name,
                "ok": r.ok,
                "failed": r.failed,
                "rate": round(r.rate, 1),
                "p50_ms": round(r.percentile(50), 1),
                "p99_ms": round(r.percentile(99), 1),
                "vs_echo": round(r.rate / base, 4) if base else None,
                "paymesh_cpu_ms_per_op": round(self.paymesh_cpu(r), 2),
                "cpu_ms_per_op": {g: round(v, 2) for g, v in r.cpu_ms.items()},
            }

        return {
            "command": self.command,
            "cpus": os.cpu_count(),
            "loadavg": {"before": self.load_before, "after": self.load_after},
            "seconds": self.seconds,
            "concurrency": self.concurrency,
            "workers": self.workers,
            "channel": self.channel,
            "cases": [case(r) for r in self.cases],
            "peak_rss_mb": {k: round(v, 1) for k, v in self.rss_mb.items()},
            "callbacks": self._callbacks_json(self.callbacks),
            "callbacks_paced": self._callbacks_json(self.callbacks_paced),
            "seeded": None
            if self.seeded is None
            else {
                "orders": self.seeded_orders,
                "seed_seconds": round(self.seed_seconds, 1),
                **case(self.seeded),
            },
            "targets": [
                {"what": w, "measured": round(v, 4), "target": t, "met": m}
                for w, v, t, m in self.targets()
            ],
        }

    def _callbacks_json(self, cb: CallbackResult | None) -> dict[str, Any] | None:
        if cb is None:
            return None
        return {
            "offered_rate": cb.offered_rate,
            "payments": cb.payments,
            "notified": cb.notified,
            "missing": cb.missing,
            "duplicates": cb.duplicates,
            "bad_signatures": cb.bad_signatures,
            "rate": round(cb.rate, 1),
            "p50_ms": round(percentile(cb.latencies_ms, 50), 1),
            "p99_ms": round(p99(cb), 1),
            "exactly_once": cb.exactly_once,
            "paymesh_cpu_ms_per_payment": round(self.paymesh_cpu(cb), 2),
            "cpu_ms_per_payment": {g: round(v, 2) for g, v in cb.cpu_ms.items()},
        }

    def write_json(self, path: str) -> None:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.as_json(), indent=2) + "\n")

    def print(self) -> None:
        base = self.cases[0].rate if self.cases else 1.0
        print(
            f"\npaymesh bench: {self.seconds:.0f} s per case, {self.concurrency} concurrent, "
            f"{self.workers} gateway worker(s), loopback, {os.cpu_count()} cores shared by "
            "client, servers, MariaDB, etcd, NATS, Envoy, sandbox; load average before "
            f"{self.load_before[0]:.2f}\n"
        )
        print(
            f"{'case':34} {'ok/s':>9} {'failed':>7} {'p50 ms':>8} {'p99 ms':>8} {'vs echo':>8}"
            f" {'cpu ms':>7}"
        )
        for r in [*self.cases, *([self.seeded] if self.seeded else [])]:
            print(
                f"{r.name:34} {r.rate:9.1f} {r.failed:7d} {r.percentile(50):8.1f} "
                f"{r.percentile(99):8.1f} {r.rate / (base or 1.0):8.3f} {self.paymesh_cpu(r):7.2f}"
            )
        print(
            f"\ncpu ms: paymesh's own processes ({' + '.join(PAYMESH_GROUPS)}) per call, from "
            "/proc utime+stime; sandbox, MariaDB, Envoy and the load generator excluded."
        )
        for r in self.cases[1:]:
            parts = ", ".join(f"{g} {v:.2f}" for g, v in r.cpu_ms.items())
            print(f"  {r.name}: {parts}")
        if self.rss_mb:
            peaks = ", ".join(f"{k} {v:.0f}" for k, v in self.rss_mb.items())
            print(f"peak RSS (VmHWM) MiB: {peaks}")
        for cb in (self.callbacks, self.callbacks_paced):
            if cb is None:
                continue
            how = f"paced at {cb.offered_rate:.0f}/s" if cb.offered_rate else "burst"
            print(
                f"\ncallback path ({how}): {cb.payments} sandbox payments -> callback -> PAID"
                f" -> outbox -> JetStream -> notifier -> merchant: {cb.rate:.1f} payments/s "
                f"notified, p50 / p99 payment->notification {percentile(cb.latencies_ms, 50):.0f}"
                f" / {p99(cb):.0f} ms, notified {cb.notified}, missing {cb.missing}, doubled "
                f"{cb.duplicates}, bad signatures {cb.bad_signatures}; paymesh CPU "
                f"{self.paymesh_cpu(cb):.2f} ms/payment"
            )
        if self.seeded is not None:
            print(
                f"seeded: {self.seeded_orders:,} orders inserted in {self.seed_seconds:.1f} s "
                "(INSERT ... SELECT from the SEQUENCE engine) before the last case"
            )
        if self.cases[1:]:
            print(
                "\nCreateOrder includes: signature check, app lookup, an order INSERT (MariaDB), "
                f"a channel Pay, {PROVIDER_CALLS[self.channel]} to the sandbox, pay data "
                "UPDATE and the channel request log."
            )
        print(f"\n{'target (issue 18)':44} {'measured':>10} {'target':>9}  met")
        for what, value, target, met in self.targets():
            print(f"{what:44} {value:10.3f} {target:>9}  {'yes' if met else 'NO'}")
        print(f"load average after {self.load_after[0]:.2f}; command: {self.command}")


__all__ = ["PAYMESH_GROUPS", "Report"]
