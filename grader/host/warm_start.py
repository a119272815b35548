"""`grade` starts warm: one torch import serves both the grader and its zygote.

Grading needs torch on both sides of the trust boundary: the tests here, and
student code in the zygote's workers. Imported by each side, it is paid twice.
A second core hides that; one core (Gradescope gives half a vCPU) does not.

So the `grade` command, when it will grade here, replaces itself (exec, the
same pid) with a fresh interpreter that holds nothing of its caller. That
interpreter gets only the workers' few environment variables, plus a
descriptor that holds the rest. It imports torch, pays autograd's first use
(grader.worker.warm), and forks the zygote. Only then does it read the
caller's environment, which may hold the course secret (CONVGRADE_SECRET) or
a CI's credentials, and become the grader. The zygote thus starts from a
process that never held a secret and never ran student code, like an exec'd
zygote does.

Whether a command grades here is a guess from its command line. A wrong
guess costs time, never correctness: a session that finds no zygote waiting
starts one as before (grader.host.fork_server.launch).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import NoReturn

from grader.environment import zygote_environment

CALLER_FD = "CONVGRADE_WARM_START_FD"      # the descriptor that holds the caller's environment
GRADING_COMMANDS = ("notebook", "batch", "audit", "calibrate")
OTHER_COMMANDS = ("report", "init", "new", "list", "release", "gradescope", "help")
_NOT_HERE = ("-h", "--help", "--version", "--scheduler")  # --scheduler: a batch graded on a cluster

_waiting: tuple[ForkedZygote, socket.socket] | None = None


def main_entry() -> None:
    """The `grade` command."""
    if _grades_here(sys.argv[1:]) and _can_fork_a_zygote():
        _replace_with_warm_start()  # returns only where exec failed
    from grader.cli import main_entry as run

    run()


def resume() -> NoReturn:
    """In the fresh interpreter: warm up, fork the zygote, then take in the caller and run the command."""
    global _waiting
    caller = int(os.environ.pop(CALLER_FD))
    from grader.worker import warm

    warm.warm_up()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(caller)
        ours.close()
        from grader.worker import zygote

        zygote.run_forked(theirs, parent)
    theirs.close()
    _waiting = (ForkedZygote(pid), ours)
    with os.fdopen(caller, "rb") as held:
        state = json.loads(held.read())
    os.environ.clear()
    os.environ.update(state["environment"])
    sys.path[:] = state["path"]
    sys.argv[:] = state["argv"]
    from grader.cli import main_entry as run

    run()
    raise AssertionError("the command's entry point exits")  # pragma: no cover


def take_zygote() -> tuple[ForkedZygote, socket.socket] | None:
    """The zygote the warm start forked, with its control socket, once; None after (or without) it."""
    global _waiting
    waiting, _waiting = _waiting, None
    if waiting is not None and waiting[0].poll() is not None:
        waiting[1].close()
        return None
    return waiting


class ForkedZygote:
    """The forked zygote, as a session sees a Popen: poll, wait and kill."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._status: int | None = None

    def poll(self) -> int | None:
        if self._status is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped already: it is gone, whatever its status was
                self._status = -signal.SIGKILL
                return self._status
            if pid == 0:
                return None
            self._status = os.waitstatus_to_exitcode(status)
        return self._status

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (status := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"zygote {self.pid}", timeout or 0.0)
            time.sleep(0.01)
        return status

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


def _grades_here(arguments: Sequence[str]) -> bool:
    if not arguments or arguments[0] in OTHER_COMMANDS:
        return False
    return not any(argument.split("=")[0] in _NOT_HERE for argument in arguments)


def _can_fork_a_zygote() -> bool:
    from grader.host.platform_support import portable_reason

    return portable_reason() is None


def _replace_with_warm_start() -> None:
    state = json.dumps({"environment": dict(os.environ), "path": sys.path, "argv": sys.argv}).encode()
    caller = os.memfd_create("convgrade-caller")
    try:
        os.write(caller, state)  # a memfd takes it all in one write
        os.lseek(caller, 0, os.SEEK_SET)
        os.set_inheritable(caller, True)
        # -P: the working folder, which may hold a student's torch.py, is not on its path.
        command = [sys.executable, "-P", "-m", "grader.host.warm_start", *sys.argv[1:]]
        os.execve(sys.executable, command, {**zygote_environment(), CALLER_FD: str(caller)})  # noqa: S606
    except OSError:
        os.close(caller)


if __name__ == "__main__":
    # Run as __main__, this is a second copy of the module: the state lives in the one sessions import.
    from grader.host import warm_start  # noqa: PLW0406

    warm_start.resume()
