"""CPU time and peak memory of the benchmark's processes, read from /proc (Linux).

CPU is utime + stime of every process in a tree (a `paymesh serve --workers N` parent and
its workers), sampled before and after a case; memory is each process's VmHWM (peak RSS).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return raw.rpartition(")")[2].split()  # fields after the command name: state, ppid, ...


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process so far (0 when it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mb(pid: int) -> float:
    """VmHWM of one process in MiB (0 when it is gone)."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree(root: int) -> list[int]:
    """``root`` and all its descendants that are alive now."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if (PROC / str(pid)).exists():
            out.append(pid)
            todo.extend(children.get(pid, []))
    return sorted(out)


@dataclass
class Meter:
    """Named groups of process trees; `sample()` then `since()` gives CPU seconds per group.

    Trees are expanded at every sample, and a process seen once is kept: a worker's CPU
    counts even if it exits between samples (its last reading stays)."""

    roots: Mapping[str, Iterable[int]]
    alone: frozenset[str] = frozenset()  # groups counted without their children

    def __post_init__(self) -> None:
        self._seen: dict[str, set[int]] = {name: set() for name in self.roots}

    def pids(self, group: str) -> list[int]:
        for root in self.roots[group]:
            self._seen[group].update([root] if group in self.alone else tree(root))
        return sorted(self._seen[group])

    def sample(self) -> dict[str, dict[int, float]]:
        return {g: {pid: cpu_seconds(pid) for pid in self.pids(g)} for g in self.roots}

    def since(self, before: dict[str, dict[int, float]]) -> dict[str, float]:
        """CPU seconds per group used since ``before`` (a `sample()`)."""
        now = self.sample()
        out: dict[str, float] = {}
        for group, pids in now.items():
            used = 0.0
            for pid, seconds in pids.items():
                if seconds:  # 0: gone since; its time up to `before` is not new
                    used += seconds - before[group].get(pid, 0.0)
            out[group] = used
        return out

    def peaks(self, group: str) -> dict[int, float]:
        """Peak RSS (MiB) of each live process of the group."""
        return {pid: peak_rss_mb(pid) for pid in self.pids(group) if peak_rss_mb(pid)}


__all__ = ["Meter", "cpu_seconds", "peak_rss_mb", "tree"]
