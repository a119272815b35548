"""What this platform lets the grader confine, and which worker source it gets.

Linux (with `os.fork`, SCM_RIGHTS and the `pwd` and `resource` modules)
gets the confined path: a zygote that forks workers into namespaces, a
whitelist root and a seccomp filter (grader.worker.zygote, grader.worker.sandbox), and
hidden tests run only where all of CONFINED_BY is in force. Elsewhere
(macOS, Windows) there is no fork server and no namespaces: each worker is a
plain subprocess reached over localhost sockets (grader.host.plain_workers),
nothing is confined, and the results say so. The public tests still run (a
student checking their own notebook); hidden tests are refused unless
`--unconfined`.

This module and the portable path import nothing Linux-only: the decision
rests on what exists here, so making those pieces absent (as the tests do)
routes grading through the code macOS and Windows run.
"""

from __future__ import annotations

import importlib
import os
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.course.seeding import CourseSecret
    from grader.host.fork_server import ZygoteProcess
    from grader.host.plain_workers import PlainLaunch

# What grader.worker.zygote and grader.worker.sandbox are built from, besides Linux itself.
_FORK_SERVER_NEEDS: tuple[tuple[str, Callable[[], bool]], ...] = (("os.fork", lambda: hasattr(os, "fork")),
                      ("SCM_RIGHTS (socket.send_fds)", lambda: hasattr(socket, "send_fds")),
                      ("pwd", lambda: _importable("pwd")),
                      ("resource", lambda: _importable("resource")))


def portable_reason() -> str | None:
    """Why this platform cannot run the confined fork server (one line), or None where it can."""
    if not sys.platform.startswith("linux"):
        return f"{sys.platform} has no Linux namespaces, seccomp or fork server"
    missing = [what for what, present in _FORK_SERVER_NEEDS if not present()]
    if not missing:
        return None
    return f"this Python has no {', '.join(missing[:-1])} or {missing[-1]}" if len(missing) > 1 \
        else f"this Python has no {missing[0]}"


def launch(secret: CourseSecret, hidden: Sequence[Path] = (), *, allow_unconfined: bool = False,
           many_submissions: bool = False) -> tuple[ZygoteProcess, socket.socket] | PlainLaunch:
    """The worker source for this platform, started where it has a process of
    its own: the zygote (grader.host.fork_server.launch) on Linux, else a plain launch."""
    reason = portable_reason()
    if reason is None:
        from grader.host import fork_server

        return fork_server.launch(secret, hidden, allow_unconfined=allow_unconfined,
                                  many_submissions=many_submissions)
    from grader.host.plain_workers import PlainLaunch

    return PlainLaunch(reason=reason, allow_unconfined=allow_unconfined)


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True
