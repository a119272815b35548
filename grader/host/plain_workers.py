"""Workers as plain subprocesses, for platforms without the Linux fork server (macOS, Windows).

No fork, no namespaces, no seccomp, no whitelist root: each worker is a fresh
`python -m grader.worker.plain` in a temporary folder of its own, with the
grader's user's rights, so nothing is confined and every result says so
(`isolation.portable`, and a note). It runs the same worker code
(grader.worker.serve: the guard, the dispatcher watch, the evidence channel) and
speaks the same wire protocol as a forked worker, over two localhost TCP
connections (requests, evidence), because Windows has neither socketpairs
passed to children nor SCM_RIGHTS. Each connection proves itself with a
one-time token sent on the worker's stdin, never on its command line.

Nothing here imports a Linux-only module (see grader.host.platform_support).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import Any

from grader.environment import debugging, worker_environment
from grader.worker.confinement import CONFINED_BY
from grader.worker.plain import ROLES, START_SECONDS

_TOKEN_BYTES = 16
# Windows needs SYSTEMROOT for its sockets, and TEMP/TMP for a temporary folder.
_ALSO_PASSED = ("SYSTEMROOT", "TEMP", "TMP", "TMPDIR")


@dataclasses.dataclass(frozen=True)
class PlainLaunch:
    """What grader.host.platform_support.launch returns where there is no fork server: nothing runs yet."""
    reason: str                    # why this platform gets no confinement (platform_support.portable_reason)
    allow_unconfined: bool         # --unconfined: hidden tests may run anyway, and every result says so

    def isolation(self) -> dict[str, Any]:
        in_force: dict[str, Any] = dict.fromkeys(CONFINED_BY, False)
        in_force.update(user_namespace=False, confined=False, portable=self.reason, user=None)
        if self.allow_unconfined:
            in_force["unconfined_allowed"] = True
        return in_force


@dataclasses.dataclass(frozen=True)
class _Running:
    process: subprocess.Popen[bytes]
    folder: str


class PlainWorkers:
    """The grader's side: starts, and kills, plain worker subprocesses (grader.host.execute.Zygote's source)."""

    def __init__(self, launch: PlainLaunch) -> None:
        self._launch = launch
        self._running: dict[int, _Running] = {}
        self._lock = threading.Lock()  # a batch kills one worker while it starts another

    def isolation(self) -> Mapping[str, Any]:
        return self._launch.isolation()

    def spawn(self, settings: Mapping[str, Any]) -> tuple[int, socket.socket, socket.socket]:
        folder = tempfile.mkdtemp(prefix="convgrade-worker-")
        token = secrets.token_hex(_TOKEN_BYTES)
        with socket.create_server(("127.0.0.1", 0)) as listener:
            process = subprocess.Popen(
                [sys.executable, "-m", "grader.worker.plain"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=None if debugging() else subprocess.DEVNULL,
                env=worker_environment(*_ALSO_PASSED), cwd=folder, start_new_session=hasattr(os, "setsid"))
            with self._lock:
                self._running[process.pid] = _Running(process, folder)
            try:
                assert process.stdin is not None
                process.stdin.write(json.dumps({"port": listener.getsockname()[1], "token": token,
                                                "settings": dict(settings), "isolation": self.isolation(),
                                                "folder": folder}).encode() + b"\n")
                process.stdin.close()
                channels = _accept(listener, token, process, time.monotonic() + START_SECONDS)
            except (OSError, ValueError) as error:
                self.kill(process.pid)
                raise RuntimeError(f"a worker failed to start: {error}") from None
        return process.pid, channels[b"r"], channels[b"e"]

    def kill(self, pid: int) -> None:
        with self._lock:
            running = self._running.pop(pid, None)
        if running is None:
            return
        if hasattr(os, "killpg"):  # its own session: whatever it started dies with it
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        running.process.kill()
        running.process.wait()
        shutil.rmtree(running.folder, ignore_errors=True)

    def alive(self) -> bool:
        return True  # nothing of its own runs between workers

    def close(self) -> None:
        for pid in list(self._running):
            self.kill(pid)


def _accept(listener: socket.socket, token: str, process: subprocess.Popen[bytes],
            deadline: float) -> dict[bytes, socket.socket]:
    """The worker's two connections; any other local process that connects is dropped."""
    expected = token.encode()
    channels: dict[bytes, socket.socket] = {}
    while len(channels) < len(ROLES):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or process.poll() is not None:
            for channel in channels.values():
                channel.close()
            raise OSError("it did not connect" if process.poll() is None else "it exited before connecting")
        listener.settimeout(min(remaining, 0.5))
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            continue
        connection.settimeout(max(deadline - time.monotonic(), 0.1))
        try:
            greeting = _read(connection, len(expected) + 1)
        except OSError:
            greeting = b""
        role = greeting[-1:]
        if hmac.compare_digest(greeting[:-1], expected) and role in ROLES and role not in channels:
            connection.settimeout(None)
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            channels[role] = connection
        else:
            connection.close()
    return channels


def _read(connection: socket.socket, size: int) -> bytes:
    received = b""
    while len(received) < size:
        chunk = connection.recv(size - len(received))
        if not chunk:
            break
        received += chunk
    return received
