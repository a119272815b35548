"""Confinement for the processes that hold student code.

Two layers. The zygote (which forks every worker) gives up the network and the
view of the grader's private files once, at start. Each worker then gets its
own session and PID namespace (so killing it kills everything it started),
resource limits, and an unprivileged user. Every step reports whether it took
effect, because the results must record the isolation actually in force, not
the isolation intended.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pwd
import resource
import signal
import sys
from collections.abc import Iterable
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 8192, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE = 1, 38, 4
UNPRIVILEGED_USER = "nobody"

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags,
                       data and data.encode()), f"mount {target}")


def die_with_parent() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def confine_zygote(hidden: Iterable[Path], read_only: Iterable[Path]) -> dict[str, bool]:
    """Leave the network, hide `hidden` behind empty directories, and make
    `read_only` unwritable, for this process and every worker it forks.

    Must run before any thread starts. Where the kernel or our privileges
    refuse a step, the step is skipped and reported as not in force.
    """
    in_force = {"network_namespace": False, "hidden_files": False, "read_only_grader": False}
    try:
        _check(_libc.unshare(CLONE_NEWNET), "unshare network")
        in_force["network_namespace"] = True
    except OSError:
        pass
    try:
        _check(_libc.unshare(CLONE_NEWNS), "unshare mounts")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
    except OSError:
        return in_force
    try:
        _make_traversable([Path(p) for p in [sys.prefix, sys.base_prefix, *sys.path] if p and os.path.exists(p)])
        in_force["python_readable_by_worker"] = True
    except OSError:
        in_force["python_readable_by_worker"] = False
    try:
        for path in hidden:
            if path.is_dir():
                _mount("tmpfs", str(path), "tmpfs", MS_NOSUID | MS_NODEV, "size=1k,mode=0555")
            elif path.exists():
                _mount("/dev/null", str(path), None, MS_BIND)
        in_force["hidden_files"] = True
    except OSError:
        pass
    try:
        for path in read_only:
            _mount(str(path), str(path), None, MS_BIND | MS_REC)
            _mount(None, str(path), None, MS_BIND | MS_REMOUNT | MS_RDONLY)
        in_force["read_only_grader"] = True
    except OSError:
        pass
    in_force["private_tmp"] = False
    if not any(Path(p).resolve().is_relative_to("/tmp") for p in [sys.prefix, sys.base_prefix, *sys.path] if p):
        try:
            # What one worker writes to /tmp, no later process reads.
            _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=256m,mode=1777")
            in_force["private_tmp"] = True
        except OSError:
            pass
    return in_force


def _make_traversable(needed: list[Path]) -> None:
    """Let the unprivileged worker reach Python's files under a closed
    directory (pyenv under /root, mode 700): cover each closed ancestor with an
    open, empty tmpfs and move back only the children on the needed paths.
    Everything else in that directory (root's home, its secrets) disappears."""
    closed: dict[Path, set[str]] = {}
    for path in needed:
        resolved = path.resolve()
        for ancestor in reversed(resolved.parents):
            if not os.stat(ancestor).st_mode & 0o001:
                child = resolved.relative_to(ancestor).parts[0]
                closed.setdefault(ancestor, set()).add(child)
    if not closed:
        return
    stash = Path("/dev/shm")
    _mount("tmpfs", str(stash), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700")
    for directory, children in sorted(closed.items(), key=lambda item: len(item[0].parts)):
        saved = []
        for number, child in enumerate(sorted(children)):
            holder = stash / f"{len(directory.parts)}-{number}"
            holder.mkdir()
            _mount(str(directory / child), str(holder), None, MS_BIND | MS_REC)
            saved.append((holder, child))
        _mount("tmpfs", str(directory), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
        for holder, child in saved:
            (directory / child).mkdir()
            _mount(str(holder), str(directory / child), None, MS_MOVE)


def enter_pid_namespace() -> bool:
    """The next child becomes PID 1 of a new namespace: when it dies, the
    kernel kills every process it left behind, daemons included."""
    try:
        _check(_libc.unshare(CLONE_NEWPID), "unshare pid")
        return True
    except OSError:
        return False


def limit_resources(memory_bytes: int) -> dict[str, int]:
    """Cap the address space at what the process already maps plus
    `memory_bytes`, and forbid core dumps and huge files."""
    mapped = _mapped_bytes()
    cap = mapped + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))
    return {"memory_cap_bytes": memory_bytes}


def _mapped_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def drop_privileges() -> str | None:
    """Become `nobody` when running as root; returns the user now in force
    (None when we stay as the invoking, already unprivileged, user)."""
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(UNPRIVILEGED_USER)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    # Not dumpable: another process of `nobody` cannot ptrace or read this one's memory.
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    return UNPRIVILEGED_USER
