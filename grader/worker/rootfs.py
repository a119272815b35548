"""The workers' whole filesystem: a fresh root that holds only what Python and torch need.

A whitelist, not a list of what to hide: the zygote builds an empty tmpfs,
binds into it, read-only and at their own paths, the system's programs and
libraries (`/usr`, `/lib*`, `/bin`), the few files of `/etc` that the loader
and the C library read, Python's prefixes and site-packages, and the grader
package's own folder (never the checkout around it), a minimal `/dev`, and
then makes it its root with pivot_root. What is not bound does not exist for
the zygote or any worker it forks: the course's checkout and its `.git`, the
assignments and reference solutions, the course secret, the home directory,
a batch's inputs and outputs, a Gradescope bundle's source.
"""

from __future__ import annotations

import os
import site
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from grader.worker import mounts
from grader.worker.mounts import (
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    mount,
)

SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What the dynamic loader, the C library and Python's time and user look-ups read; public on any host.
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "timezone", "passwd", "group",
       "nsswitch.conf", "hosts")
DEVICES = ("null", "zero", "full", "random", "urandom")
DEVICE_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
                "stderr": "/proc/self/fd/2"}
# Somewhere to build the new root: an existing folder that nothing we bind lives under.
STAGING = ("/mnt", "/media", "/srv", "/run", "/dev/shm")
TEMPORARY = ("/tmp", "/var/tmp")   # each worker mounts a fresh one over each of these
KEPT = Path("/.kept")              # where a worker keeps Python's folders that live in TEMPORARY meanwhile

# (folder in TEMPORARY that Python needs, where a worker keeps it), set by build_and_enter; forks inherit it.
kept_under_temporary: list[tuple[Path, Path]] = []


def python_paths(grader_package: Path) -> list[Path]:
    """What this interpreter needs: its prefixes, its site-packages, and the
    grader package alone. Never a bare `sys.path` entry: with `-m` that is the
    working directory, and an old-style editable install puts a checkout there."""
    paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages()]
    if site.ENABLE_USER_SITE and site.getusersitepackages() in sys.path:
        paths.append(site.getusersitepackages())
    return [Path(p) for p in paths if p and Path(p).is_dir()] + [grader_package]


def build_and_enter(needed: Sequence[Path], hidden: Iterable[Path]) -> None:
    """Build the whitelist root in this (already private) mount namespace and
    pivot into it. Raises OSError when the kernel refuses a step."""
    wanted = _without_nested(needed)
    new_root = Path(_staging_folder(wanted))
    mount("tmpfs", str(new_root), "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,nr_inodes=4096,mode=0755")
    for name in SYSTEM:
        _mirror(Path(name), new_root)
    (new_root / "etc").mkdir(mode=0o755)
    for name in ETC:
        _mirror(Path("/etc") / name, new_root)
    for folder in TEMPORARY:  # first, so that Python living under /tmp (a CI clone) is bound on top
        (new_root / folder[1:]).mkdir(parents=True, mode=0o755)
        mount("tmpfs", str(new_root / folder[1:]), "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    for path in wanted:
        _bind(path, new_root, read_only=True)
    (new_root / KEPT.name).mkdir(mode=0o700)
    kept_under_temporary[:] = [(path, KEPT / str(number)) for number, path in enumerate(
        p for p in wanted if any(p.is_relative_to(folder) for folder in TEMPORARY))]
    for _, keeper in kept_under_temporary:
        (new_root / keeper.relative_to("/")).mkdir(mode=0o700)
    _minimal_dev(new_root)
    for name in ("proc", "sys"):
        # The zygote's own view; each worker mounts a /proc of its PID namespace over it.
        _bind(Path("/" + name), new_root, read_only=name == "sys")
    for path in hidden:  # in case a private folder lives inside something bound (a venv inside the checkout)
        # abspath, not resolve(): the path as written, its links not followed.
        _cover(new_root / Path(os.path.abspath(path)).relative_to("/"))  # noqa: PTH100
    os.chdir(new_root)
    mounts.pivot_root(".", ".")
    mounts.unmount_detached(".")  # the old root, now stacked on top
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def fresh_temporary_folder(folder: str, options: str) -> None:
    """Mount a fresh tmpfs on `folder` (in a worker's own mount namespace), keeping Python's folders under it."""
    kept = [(path, keeper) for path, keeper in kept_under_temporary if path.is_relative_to(folder)]
    for path, keeper in kept:
        mount(str(path), str(keeper), None, MS_BIND | MS_REC)  # a copy of a read-only bind stays read-only
    mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for path, keeper in kept:
        path.mkdir(parents=True, mode=0o755)
        mount(str(keeper), str(path), None, mounts.MS_MOVE)


def _without_nested(paths: Sequence[Path]) -> list[Path]:
    """Each folder once, parents before children, and nothing inside a system folder (bound already)."""
    chosen: list[Path] = []
    # abspath as written (lexical) and resolved (links followed): both paths must be bound.
    for path in sorted({Path(os.path.abspath(p)) for p in paths} | {p.resolve() for p in paths},  # noqa: PTH100
                       key=lambda p: len(p.parts)):
        covered = [*chosen, *(Path(s) for s in SYSTEM if not Path(s).is_symlink())]
        if not any(path.is_relative_to(done) for done in covered):
            chosen.append(path)
    return chosen


def _staging_folder(wanted: Sequence[Path]) -> str:
    for candidate in STAGING:
        if Path(candidate).is_dir() and not Path(candidate).is_symlink() and not any(
                path.is_relative_to(candidate) or Path(candidate).is_relative_to(path) for path in wanted):
            return candidate
    raise OSError(f"no folder to build the new root in (tried {', '.join(STAGING)})")


def _mirror(source: Path, new_root: Path) -> None:
    """Recreate a symlink as it is, bind a folder or a file read-only; skip what the host lacks."""
    target = new_root / source.relative_to("/")
    if source.is_symlink():
        target.symlink_to(source.readlink())
    elif source.is_dir() or source.is_file():
        _bind(source, new_root, read_only=True)


def _bind(source: Path, new_root: Path, *, read_only: bool) -> None:
    target = new_root / source.relative_to("/")
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True, mode=0o755)
    else:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        target.touch(mode=0o644)
    real = source.resolve()
    mount(str(real), str(target), None, MS_BIND | MS_REC)
    if read_only:
        # A user namespace may not drop the source's nosuid/nodev/noexec/atime flags: keep them.
        mount(None, str(target), None, MS_REMOUNT | MS_BIND | MS_RDONLY | mounts.locked_flags(str(real)))


def _minimal_dev(new_root: Path) -> None:
    dev = new_root / "dev"
    dev.mkdir(mode=0o755)
    mount("tmpfs", str(dev), "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755")
    # /dev/nvidia* as they are, so that --device cuda works; the driver's libraries live under /usr/lib.
    nvidia = sorted(entry.name for entry in Path("/dev").iterdir() if entry.name.startswith("nvidia"))
    for name in (*DEVICES, *nvidia):
        if (Path("/dev") / name).exists():
            _bind(Path("/dev") / name, new_root, read_only=False)
    for name, points_to in DEVICE_LINKS.items():
        (dev / name).symlink_to(points_to)
    (dev / "shm").mkdir(mode=0o1777)
    (dev / "shm").chmod(0o1777)
    mount("tmpfs", str(dev / "shm"), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=1777")


def _cover(target: Path) -> None:
    if target.is_dir():
        mount("tmpfs", str(target), "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=0555")
    elif target.exists():
        mount("/dev/null", str(target), None, MS_BIND)
