"""The CPU time a worker has spent, which is what a call's budget counts.

A call's budget (grader.course.budgets) is a second or so: twenty times what
the slowest accepted answer needs. On a loaded machine, say a batch with more
jobs than cores, a correct call can wait that long for a core without
computing anything, and wall time alone would fail it. So a call fails once
its worker has *computed* for its budget, or once twice its budget has
passed on the wall clock (never more than the course's call_timeout),
whichever comes first. An infinite loop computes all the time, so it fails
after its budget on an idle machine and within twice that on a loaded one;
a loop that sleeps, after twice its budget.

The clock reads /proc/PID/stat of the process that runs student code: the
confined worker, the one child of the session leader that the zygote forked
(grader.worker.zygote), or the worker itself where it has no child (a plain
worker). Where there is no /proc, there is no clock, and the budget is wall
time.
"""

from __future__ import annotations

import os
import select
import socket
import time
from pathlib import Path

POLL = 0.05    # seconds between two readings of the clock, once a call has taken its budget's time
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PROC = Path("/proc")


class WorkerClock:
    """CPU seconds (user and system, all threads) of the process under `pid` that runs student code."""

    def __init__(self, pid: int) -> None:
        children = [child for child in _processes() if _parent_of(child) == pid]
        self._pid = children[0] if len(children) == 1 else pid

    def seconds(self) -> float | None:
        """CPU seconds so far; None where they cannot be read (no /proc, the process gone)."""
        fields = _stat_fields(self._pid)
        if fields is None:
            return None
        return (int(fields[11]) + int(fields[12])) / _TICKS   # utime and stime, the 14th and 15th fields


def replies_in_budget(sock: socket.socket, clock: WorkerClock | None, *, started: float, deadline: float,
                      computing: float, spent: float | None) -> bool:
    """Whether the worker starts its reply on `sock` before it has computed for `computing` seconds since
    its clock read `spent` (None: not known, so the wall clock counts), and before the wall clock's
    `deadline` (time.monotonic()). The request went at `started`."""
    while True:
        now = time.monotonic()
        if now >= deadline:
            return False
        wait = started + computing - now if now < started + computing else POLL
        readable, _, _ = select.select([sock], [], [], min(wait, deadline - now))
        if readable:
            return True
        if time.monotonic() >= started + computing:
            computed = clock.seconds() if clock is not None else None
            if spent is None or computed is None or computed - spent >= computing:
                return False


def _processes() -> list[int]:
    try:
        return [int(entry.name) for entry in _PROC.iterdir() if entry.name.isdigit()]
    except OSError:
        return []


def _parent_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields is not None else None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, which is in parentheses and may hold anything."""
    try:
        return (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
