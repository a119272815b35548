"""The grader's end of the confined zygote (grader.worker.zygote): starting it, and its control socket."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from grader.environment import debugging, zygote_environment
from grader.host import warm_start
from grader.host.paths import private_paths
from grader.worker import wire

if TYPE_CHECKING:
    from grader.course.seeding import CourseSecret

CONTROL = wire.Bounds(message_bytes=1 << 16, document_bytes=1 << 16)  # from the zygote, and a worker's first
ZYGOTE_START_SECONDS = 300.0        # it imports torch, on a machine that may be busy
ZYGOTE_SPAWN_SECONDS = 60.0


class ZygoteProcess(Protocol):
    """The zygote's process: exec'd here (a Popen), or forked by the warm start (warm_start.ForkedZygote)."""

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


def launch(secret: CourseSecret, hidden: Sequence[Path] = (), *, allow_unconfined: bool = False,
           many_submissions: bool = False) -> tuple[ZygoteProcess, socket.socket]:
    """Start a zygote (grader side); returns the process and its control socket.
    It takes the session's `secret`, made already, so that its file is hidden from every worker.

    The `grade` command's warm start has forked one already, from a process
    that never held a secret (grader.host.warm_start): the first session
    takes it. Otherwise a fresh exec with only a few environment variables.
    Either way the zygote, and so every worker, holds nothing of the
    grader's memory or environment.
    `hidden`: more folders its workers must not see (a batch's gradebook),
    covered even where they lie inside what the whitelist root binds.
    `allow_unconfined`: the caller runs hidden tests without confinement on
    purpose (--unconfined); every result records it.
    `many_submissions`: the zygote pays first-use costs that would otherwise fall on every worker
    (grader.worker.warm.warm_up_optimizers).
    """
    if os.geteuid() != 0:
        # The grader holds the secret: a process of the same user may not ptrace it or read its /proc files.
        from grader.worker import (
            sandbox,  # Linux-only: this module stays importable where the portable path runs
        )

        sandbox.make_undumpable()
    hide = private_paths(secret) + [path.resolve() for path in hidden if path.exists()]
    paths = json.dumps({"hidden": [str(p) for p in hide], "allow_unconfined": allow_unconfined,
                        "many_submissions": many_submissions})
    process: ZygoteProcess
    started = warm_start.take_zygote()
    if started is not None:
        process, ours = started
    else:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        process = subprocess.Popen(
            [sys.executable, "-m", "grader.worker.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], env=zygote_environment(), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=None if debugging() else subprocess.DEVNULL, cwd="/")
        theirs.close()
    # On the socket, not the command line: every worker's /proc/self/cmdline is the zygote's.
    ours.sendall(paths.encode() + b"\n")
    return process, ours


class ForkServer:
    """The confined zygote's control socket: spawn requests, answered by a pid."""

    def __init__(self, process: ZygoteProcess, control: socket.socket) -> None:
        self._process, self._control = process, control
        self._isolation: Mapping[str, Any] | None = None

    def isolation(self) -> Mapping[str, Any]:
        return self._ready()

    def spawn(self, settings: Mapping[str, Any]) -> tuple[int, socket.socket, socket.socket]:
        self._ready()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        evidence_ours, evidence_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._control.settimeout(ZYGOTE_SPAWN_SECONDS)
            socket.send_fds(self._control, [wire.encode(dict(settings))],
                            [theirs.fileno(), evidence_theirs.fileno()])
            reply = wire.receive(self._control, deadline=time.monotonic() + ZYGOTE_SPAWN_SECONDS,
                                 bounds=CONTROL)
            pid = int(reply["pid"])
        except (EOFError, OSError, wire.WireError, KeyError, TypeError, ValueError) as error:
            ours.close()
            evidence_ours.close()
            raise RuntimeError(f"the worker zygote stopped answering: {error}") from None
        finally:
            theirs.close()
            evidence_theirs.close()
        return pid, ours, evidence_ours

    def kill(self, pid: int) -> None:
        kill_group(pid)

    def alive(self) -> bool:
        return self._process.poll() is None

    def _ready(self) -> Mapping[str, Any]:
        if self._isolation is None:
            try:
                ready = wire.receive(self._control, deadline=time.monotonic() + ZYGOTE_START_SECONDS,
                                     bounds=CONTROL)
                self._isolation = dict(ready["ready"])
            except (EOFError, OSError, wire.WireError, KeyError, TypeError, ValueError) as error:
                raise RuntimeError(f"the worker zygote failed to start: {error}") from None
        return self._isolation

    def close(self) -> None:
        self._control.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
