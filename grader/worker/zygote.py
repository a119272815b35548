"""The zygote: a clean process that has imported torch once and forks workers.

The grader starts it with a fresh `exec` and a scrubbed environment, or the
`grade` command's warm start forks it from such a process once that has
imported torch (grader.host.warm_start): either way it holds none of the
grader's memory: no hidden tests, no course secret. It confines itself (a
user namespace when unprivileged, no network, a root filesystem that holds
only Python, torch and the grader package), imports the heavy libraries, and
then forks one worker per request, which confines itself further (see
grader.worker.sandbox). Forking from here is what keeps a submission from
paying torch's import time.

Protocol, over its control socket: the grader sends one line of JSON (the
folders to hide, and its choices), the zygote answers `{"ready": isolation}`;
each request is a spawn settings message carrying the worker's socket as an
SCM_RIGHTS file descriptor, answered by `{"pid": pid}`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from grader.worker import rootfs, sandbox, warm
from grader.worker.confinement import missing_confinement


def main(argv: list[str]) -> None:
    """The zygote exec'd by the grader (grader.host.fork_server.launch): its control socket is descriptor argv[0]."""
    sandbox.die_with_parent()  # if the grader is gone already, the control socket's end of file ends this
    serve_requests(socket.socket(fileno=int(argv[0])), warm_start=False)


def run_forked(control: socket.socket, parent: int) -> NoReturn:
    """The zygote forked by the `grade` command's warm start (grader.host.warm_start), which has
    imported torch already and never held a secret: its stdio, folder and parent are set as an exec'd
    zygote's are."""
    try:
        sandbox.die_with_parent()
        if os.getppid() != parent:  # the grader died before the line above armed the signal
            os._exit(0)
        from grader.worker import serve  # its imports (torch) are the warm start's already

        serve.quiet_standard_streams()
        os.chdir("/")
        serve_requests(control, warm_start=True)
    finally:
        os._exit(0)


def serve_requests(control: socket.socket, *, warm_start: bool) -> NoReturn:
    """Confine this process, pay the first-use costs, report ready, then fork a worker per request.
    Nothing that starts a thread (numpy does) is imported before the confinement: unshare refuses it."""
    paths = json.loads(_read_line(control))
    isolation: dict[str, Any] = sandbox.confine_zygote(
        needed=rootfs.python_paths(Path(__file__).resolve().parents[1]), hidden=[Path(p) for p in paths["hidden"]])
    isolation.update(_probe_worker())
    isolation["confined"] = not missing_confinement(isolation)
    if paths["allow_unconfined"] and not isolation["confined"]:
        isolation["unconfined_allowed"] = True
    isolation["warm_start"] = warm_start

    import pyseccomp  # noqa: F401 - imported once here so no worker pays for it

    warm.warm_up()  # done already where the warm start forked this process
    from grader.worker import serve, wire

    serve.preload()
    if paths.get("many_submissions") is True:
        warm.warm_up_optimizers()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished workers
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


def _read_line(control: socket.socket) -> bytes:
    received = b""
    while not received.endswith(b"\n"):
        chunk = control.recv(1)  # byte by byte: what follows the line is the grader's next message
        if not chunk:
            os._exit(0)
        received += chunk
    return received


def _probe_worker() -> dict[str, Any]:
    """What a worker's own confinement steps achieve on this kernel, tried
    once in a throwaway fork before any student code runs, so that the
    decision to run hidden tests rests on the isolation actually in force."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(reading)
            os.write(writing, json.dumps(_confined_worker()).encode())
        finally:
            os._exit(0)
    os.close(writing)
    with os.fdopen(reading, "rb") as pipe:
        report = pipe.read()
    os.waitpid(pid, 0)
    probed = json.loads(report) if report else {}
    return {key: probed.get(key, False) for key in ("pid_namespace", "ipc_namespace", "private_proc", "private_tmp",
                                                    "privileges_dropped", "process_limit")}


def _confined_worker(leader_closes: Sequence[int] = ()) -> dict[str, Any]:
    """The worker's confinement: returns in the worker proper (PID 1 of its
    own namespace) with the isolation in force. The session leader above it
    closes `leader_closes`, waits for the worker, and exits with its status."""
    in_force: dict[str, Any] = sandbox.enter_worker_namespaces()
    child = os.fork()
    if child:
        for fd in leader_closes:
            os.close(fd)
        _, status = os.waitpid(child, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    sandbox.die_with_parent()
    in_force.update(sandbox.confine_worker(own_mounts=in_force.pop("mount_namespace")))
    return in_force


def _become_worker(fds: list[int], settings: dict[str, Any], isolation: dict[str, Any]) -> None:
    """Runs in the forked child: its own session, then a PID namespace whose
    init is the worker proper, so killing this session kills all of it."""
    try:
        os.setsid()
        sandbox.die_with_parent()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        in_force = {**isolation, **_confined_worker(leader_closes=fds)}
        in_force["confined"] = not missing_confinement(in_force)
        in_force.update(sandbox.limit_resources(int(settings["memory_bytes"])))
        in_force["user"] = sandbox.drop_privileges()  # idempotent: confine_worker has dropped them
        from grader.worker import serve

        serve.serve(socket.socket(fileno=fds[0]), fds[1], settings, in_force)
    except BaseException:  # noqa: BLE001 - the worker's last word: whatever ends it is printed, then it exits
        traceback.print_exc()  # reaches a terminal only under CONVGRADE_DEBUG
    finally:
        os._exit(70)


if __name__ == "__main__":
    main(sys.argv[1:])
