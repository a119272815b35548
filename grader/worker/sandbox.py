"""Confinement for the processes that hold student code.

Two layers. The zygote (which forks every worker) confines itself once, at
start: a user namespace when it is not root (the invoking user is root only
inside it), no network, and a root filesystem that holds only what Python and
torch need (grader.worker.rootfs). Each worker then gets, in its fork: its own PID
namespace with its own /proc (so killing it kills everything it started, and
it sees no other process), its own mount and IPC namespaces with fresh /tmp,
/var/tmp and /dev/shm, resource limits, no privileges (`nobody`, or no
capabilities inside the user namespace), and a seccomp filter that refuses
new processes. Every step reports whether it took effect, because the results
must record the isolation actually in force, not the isolation intended.

"Confined" means every key of CONFINED_BY is in force; hidden tests run only
then (see grader.grading.pipeline).
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import resource
import signal
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from grader.worker import mounts, rootfs
from grader.worker.confinement import CONFINED_BY, missing_confinement  # noqa: F401 - the policy, kept portable
from grader.worker.mounts import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_THREAD,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    mount,
)

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 4, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
UNPRIVILEGED_USER = "nobody"
PRIVATE_FOLDERS = (("/tmp", "256m"), ("/var/tmp", "64m"), ("/dev/shm", "64m"))
# Refused to student code: new processes and programs, and every way back out of the namespaces and mounts.
REFUSED_CALLS = ("fork", "vfork", "execve", "execveat", "unshare", "setns", "mount", "umount2", "pivot_root",
                 "chroot", "ptrace", "process_vm_readv", "process_vm_writev", "open_tree", "move_mount", "fsopen",
                 "fsmount", "fspick", "mount_setattr")

_user_namespace_of: str | None = None      # the invoking user, when the zygote entered a user namespace
_nobody: tuple[int, int] | None = None      # resolved before the new root hides /etc's databases
_dropped: list[str | None] = []             # drop_privileges' answer, once it has run in this process


def die_with_parent() -> None:
    mounts.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def make_undumpable() -> None:
    """No process of the same user may ptrace this one or read its memory, environment or command line."""
    mounts.prctl(PR_SET_DUMPABLE, 0)


def confine_zygote(needed: Sequence[Path], hidden: Iterable[Path]) -> dict[str, Any]:
    """Enter a user namespace when unprivileged, leave the network, and make
    the whitelist root (`needed`, read-only) this process's whole filesystem,
    for it and every worker it forks.

    Must run before any thread starts: unshare refuses threaded processes.
    Where the kernel or our privileges refuse a step, the step is skipped and
    reported as not in force.
    """
    global _nobody
    in_force: dict[str, Any] = {"user_namespace": _enter_user_namespace() if os.geteuid() != 0 else False,
                                "network_namespace": mounts.try_unshare(CLONE_NEWNET), "private_root": False}
    if os.geteuid() == 0 and _user_namespace_of is None:
        try:
            entry = pwd.getpwnam(UNPRIVILEGED_USER)
            _nobody = (entry.pw_uid, entry.pw_gid)
        except KeyError:
            pass
    try:
        mounts.unshare(CLONE_NEWNS)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        rootfs.build_and_enter(needed, hidden)
        in_force["private_root"] = True
    except (OSError, ValueError):
        pass
    os.environ["HOME"] = "/tmp"  # each worker's own /tmp; the caller's home is not there
    return in_force


def _enter_user_namespace() -> bool:
    """Map the invoking user to root inside a new user namespace (no other
    user exists there, and setgroups is denied), which lets an unprivileged
    grader build namespaces and mounts; outside, every process still runs as
    the invoking user."""
    global _user_namespace_of
    uid, gid = os.getuid(), os.getgid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    try:
        mounts.unshare(CLONE_NEWUSER)
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    except OSError:
        return False
    _user_namespace_of = name
    return True


def enter_worker_namespaces() -> dict[str, bool]:
    """In the forked worker, before its last fork: the next child is PID 1 of
    a new PID namespace (when it dies, the kernel kills every process it left
    behind), with mounts and System V IPC of its own."""
    return {"pid_namespace": mounts.try_unshare(CLONE_NEWPID), "mount_namespace": mounts.try_unshare(CLONE_NEWNS),
            "ipc_namespace": mounts.try_unshare(CLONE_NEWIPC)}


def confine_worker(own_mounts: bool) -> dict[str, Any]:
    """In the worker proper, PID 1 of its namespace: a /proc of its own PID
    namespace, fresh temporary folders, then no privileges and no new processes.
    `own_mounts`: whether it has a mount namespace of its own (else nothing is mounted)."""
    in_force: dict[str, Any] = {"private_proc": False, "private_tmp": False}
    if own_mounts:
        try:
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            in_force["private_proc"] = True
        except OSError:
            pass
        try:
            for folder, size in PRIVATE_FOLDERS:
                rootfs.fresh_temporary_folder(folder, f"size={size},nr_inodes=16384,mode=1777")
            in_force["private_tmp"] = True
            Path(os.environ.get("IPYTHONDIR", "/tmp/convgrade-ipython")).mkdir(parents=True, exist_ok=True)
            os.chdir("/tmp")
        except OSError:
            pass
    user = drop_privileges()
    in_force["user"] = user
    in_force["privileges_dropped"] = user is not None
    in_force["process_limit"] = forbid_new_processes()
    return in_force


def forbid_new_processes() -> bool:
    """A seccomp filter: fork, vfork, clone without CLONE_THREAD and exec are
    refused (EPERM), threads still start (clone3 answers ENOSYS, so the C
    library falls back to clone, whose flags the filter can read). Deterministic,
    unlike RLIMIT_NPROC, which counts every process of the user, other workers' too."""
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError):  # OSError: libseccomp.so.2 is missing
        return False
    try:
        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        for name in REFUSED_CALLS:
            with contextlib.suppress(RuntimeError, ValueError, OSError):  # a call this architecture or libseccomp lacks
                rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        rules.load()
    except (RuntimeError, ValueError, OSError):
        return False
    return True


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
    """Become `nobody` when running as root, or give up every capability
    inside the user namespace; returns the user now in force (None when we
    stay the invoking, unprivileged user with nothing more to give up).
    Idempotent: the worker calls it again after confine_worker has."""
    if _dropped:
        return _dropped[0]
    mounts.prctl(PR_SET_NO_NEW_PRIVS, 1)
    user: str | None = None
    if _user_namespace_of is not None:
        if _drop_capabilities():
            user = f"{_user_namespace_of} (in a user namespace, no capabilities)"
    elif os.geteuid() == 0:
        uid, gid = _nobody or (pwd.getpwnam(UNPRIVILEGED_USER).pw_uid, pwd.getpwnam(UNPRIVILEGED_USER).pw_gid)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        # The kernel clears the parent-death signal on a change of user: without it again, a looping
        # worker would outlive a grader killed by SIGKILL. Had the parent died between the two, the
        # worker's socket reaches its end of file, and the worker exits at its first read or write.
        die_with_parent()
        user = UNPRIVILEGED_USER
    make_undumpable()
    _dropped.append(user)
    return user


def _drop_capabilities() -> bool:
    for capability in range(64):
        mounts.prctl(PR_CAPBSET_DROP, capability)  # past the last capability it fails, harmlessly
    mounts.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    try:
        mounts.capset_empty()
    except OSError:
        return False
    status = Path("/proc/self/status").read_text()
    return all(f"{field}:\t0000000000000000" in status for field in ("CapEff", "CapPrm", "CapBnd"))
