"""The zygote: a clean process that has imported torch once and forks workers.

The grader starts it with a fresh `exec` and a scrubbed environment, so it
holds none of the grader's memory: no hidden tests, no course secret. It
confines itself (no network, private files hidden), imports the heavy
libraries, and then forks one worker per request. Forking from here is what
keeps a submission from paying torch's import time.

Protocol, over the socket passed as the first argument: the zygote sends
`{"ready": isolation}`; each request is a spawn settings message carrying the
worker's socket as an SCM_RIGHTS file descriptor, answered by `{"pid": pid}`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader import sandbox
from grader.paths import PROJECT_ROOT, private_paths, read_only_paths


_PASSED_ENVIRONMENT = ("CONVGRADE_DEBUG", "PATH", "LANG", "LC_ALL", "HOME", "PYTHONPATH", "CUDA_VISIBLE_DEVICES",
                       "VIRTUAL_ENV")


def launch(hidden: Sequence[Path] = ()) -> tuple[subprocess.Popen[bytes], socket.socket]:
    """Start a zygote (grader side); returns the process and its control socket.

    A fresh exec with only a few environment variables: the zygote, and so
    every worker, holds nothing of the grader's memory or environment.
    `hidden`: more folders its workers must not see (a batch's gradebook).
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    hide = private_paths() + [path.resolve() for path in hidden if path.exists()]
    paths = json.dumps({"hidden": [str(p) for p in hide], "read_only": [str(p) for p in read_only_paths()]})
    environment = {key: os.environ[key] for key in _PASSED_ENVIRONMENT if key in os.environ}
    environment["MALLOC_ARENA_MAX"] = "2"  # fewer reserved arenas under the address-space cap
    environment["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT)] + [environment.get("PYTHONPATH", "")])
    process = subprocess.Popen(
        [sys.executable, "-m", "grader.zygote", str(theirs.fileno()), paths],
        pass_fds=[theirs.fileno()], env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=None if os.environ.get("CONVGRADE_DEBUG") else subprocess.DEVNULL, cwd="/")
    theirs.close()
    return process, ours


def main(argv: list[str]) -> None:
    sandbox.die_with_parent()
    control = socket.socket(fileno=int(argv[0]))
    paths = json.loads(argv[1])
    # Confine before anything starts a thread: unshare refuses threaded processes.
    isolation: dict[str, Any] = sandbox.confine_zygote(
        hidden=[Path(p) for p in paths["hidden"]], read_only=[Path(p) for p in paths["read_only"]])

    import numpy  # noqa: F401 - imported once here so no worker pays for it
    import torch  # noqa: F401
    from grader import worker

    worker.preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished workers
    from grader import wire

    wire.send(control, {"ready": isolation})
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 16, 2)
        except OSError:
            os._exit(0)
        if not message:
            os._exit(0)
        settings = wire.decode(message)
        pid = os.fork()
        if pid == 0:
            control.close()
            _become_worker(fds, settings, isolation)
        for fd in fds:
            os.close(fd)
        wire.send(control, {"pid": pid})


def _become_worker(fds: list[int], settings: dict[str, Any], isolation: dict[str, Any]) -> None:
    """Runs in the forked child: its own session, then a PID namespace whose
    init is the worker proper, so killing this session kills all of it."""
    try:
        os.setsid()
        sandbox.die_with_parent()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        in_pid_namespace = sandbox.enter_pid_namespace()
        child = os.fork()
        if child:
            for fd in fds:
                os.close(fd)
            _, status = os.waitpid(child, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        sandbox.die_with_parent()
        from grader import worker

        worker.serve(socket.socket(fileno=fds[0]), fds[1], settings, {**isolation, "pid_namespace": in_pid_namespace})
    except BaseException:
        traceback.print_exc()  # reaches a terminal only under CONVGRADE_DEBUG
    finally:
        os._exit(70)


if __name__ == "__main__":
    main(sys.argv[1:])
