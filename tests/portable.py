"""Run Python as on a platform without the Linux confinement's pieces (macOS, Windows), on this Linux machine.

The switch the tests use to route grading through the portable path
(grader.host.platform_support, grader.host.plain_workers) honestly: every Python
started through `interpreter(folder)` (the grader, and each worker it
starts with `sys.executable`) first runs a `sitecustomize` that makes the
Linux-only modules unimportable (`pwd`, `resource`, `fcntl`, `termios`,
pyseccomp, and the grader's own `sandbox`, `zygote`, `mounts`, `rootfs`)
and removes `os.fork`, `os.setsid`, `os.killpg`, SCM_RIGHTS
(`socket.send_fds`/`recv_fds`) and folder descriptors (`os.O_DIRECTORY`,
`os.O_NOFOLLOW`, as on Windows). Code that still reached for one of them
fails, so a run that grades proves the portable path needs none of them.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

LINUX_ONLY_MODULES = ("pwd", "grp", "resource", "fcntl", "termios", "pyseccomp", "grader.worker.sandbox",
                      "grader.worker.zygote", "grader.worker.mounts", "grader.worker.rootfs")
LINUX_ONLY_FUNCTIONS = (("os", "fork"), ("os", "forkpty"), ("os", "setsid"), ("os", "killpg"),
                        ("socket", "send_fds"), ("socket", "recv_fds"),
                        ("os", "O_DIRECTORY"), ("os", "O_NOFOLLOW"))  # Windows has no folder descriptors

_SITECUSTOMIZE = '''
import os, socket, sys
for _name in {modules!r}:
    sys.modules[_name] = None  # `import NAME` now raises ImportError
for _module, _name in {functions!r}:
    if hasattr(sys.modules[_module], _name):
        delattr(sys.modules[_module], _name)
sys.executable = {wrapper!r}  # the workers the grader starts are simulated too
'''


def interpreter(folder: Path) -> Path:
    """A `python` (in `folder`) that runs as on a platform without fork, namespaces, seccomp, resource or pwd."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "python"
    (folder / "sitecustomize.py").write_text(_SITECUSTOMIZE.format(
        modules=LINUX_ONLY_MODULES, functions=LINUX_ONLY_FUNCTIONS, wrapper=str(wrapper)))
    # Whatever PYTHONPATH its caller gives it (the grader scrubs a worker's), this folder comes first.
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={shlex.quote(str(folder))}"${{PYTHONPATH:+:$PYTHONPATH}}" '
                       f'exec {shlex.quote(sys.executable)} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def run_portable(folder: Path, code: str, environment: Mapping[str, str], *, cwd: Path | None = None,
                 arguments: Sequence[str] = (), timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `python -c CODE ARGUMENTS` through `interpreter(folder)`."""
    # The grader's checkout first, as for the test run itself (an editable install may not be on the path).
    path = os.pathsep.join([str(Path(__file__).resolve().parents[1]), environment.get("PYTHONPATH", "")]).rstrip(
        os.pathsep)
    return subprocess.run([str(interpreter(folder)), "-c", code, *arguments], env={**environment, "PYTHONPATH": path},
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)
