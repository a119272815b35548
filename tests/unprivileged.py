"""Run a command as `nobody` from the root test suite, to test an unprivileged grader.

The interpreter may live under a folder that `nobody` cannot enter (pyenv
under /root, mode 700). The command runs in a private mount namespace where
each such folder is covered by an open tmpfs into which only the children on
the interpreter's paths are moved back, so nothing else of it is visible;
the host itself is unchanged. `refuse_namespaces` adds a seccomp filter that
makes unshare fail, as on a kernel or in a container without user namespaces.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

_LAUNCHER = r'''
import json, os, sys
from pathlib import Path
from grader.worker import mounts
from tests.unprivileged import make_traversable
settings = json.loads(sys.argv[1])
mounts.unshare(mounts.CLONE_NEWNS)
mounts.mount(None, "/", None, mounts.MS_REC | mounts.MS_PRIVATE)
make_traversable([Path(p) for p in settings["needed"]])
if settings["refuse_namespaces"]:
    import errno, pyseccomp
    rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    rules.add_rule(pyseccomp.ERRNO(errno.EPERM), "unshare")
    rules.load()
os.chdir(settings["cwd"])
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
os.execve(sys.executable, [sys.executable, *settings["argv"]], settings["env"])
'''


def run_as_nobody(argv: Sequence[str], env: Mapping[str, str], cwd: Path, *, refuse_namespaces: bool = False,
                  timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python ARGV...` as nobody (uid 65534), with exactly `env` as its environment."""
    root = Path(__file__).resolve().parent.parent
    needed = [sys.prefix, sys.base_prefix, str(root)]
    settings = {"needed": needed, "refuse_namespaces": refuse_namespaces, "cwd": str(cwd), "argv": list(argv),
                "env": dict(env)}
    return subprocess.run([sys.executable, "-c", _LAUNCHER, json.dumps(settings)], capture_output=True, text=True,
                          timeout=timeout, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})


def make_traversable(needed: list[Path]) -> None:
    """Cover each closed ancestor of `needed` with an open, empty tmpfs and
    move back only the children on the needed paths."""
    from grader.worker.mounts import (
        MS_BIND,
        MS_MOVE,
        MS_NODEV,
        MS_NOSUID,
        MS_REC,
        mount,
    )

    closed: dict[Path, set[str]] = {}
    for path in needed:
        resolved = path.resolve()
        for ancestor in reversed(resolved.parents):
            if not ancestor.stat().st_mode & 0o001:
                closed.setdefault(ancestor, set()).add(resolved.relative_to(ancestor).parts[0])
    if not closed:
        return
    stash = Path("/dev/shm")
    mount("tmpfs", str(stash), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700")
    for directory, children in sorted(closed.items(), key=lambda item: len(item[0].parts)):
        saved = []
        for number, child in enumerate(sorted(children)):
            holder = stash / f"{len(directory.parts)}-{number}"
            holder.mkdir()
            mount(str(directory / child), str(holder), None, MS_BIND | MS_REC)
            saved.append((holder, child))
        mount("tmpfs", str(directory), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
        for holder, child in saved:
            (directory / child).mkdir()
            mount(str(holder), str(directory / child), None, MS_MOVE)
