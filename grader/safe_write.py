"""Writing the grader's outputs without following symbolic links: the one way every writer uses.

`write_file` stages the bytes in a new file, created with O_CREAT | O_EXCL |
O_NOFOLLOW in the destination's own folder (so nothing planted there is
opened), and renames it onto the destination with `os.replace`, which
replaces a symbolic link at the destination instead of writing through it.
A reader never sees half a file, and a link planted where an output goes
(pointing, say, at a root-owned file) is replaced by the output, its target
untouched.

Folders below `base` (the grader's own, such as DIR/results/) are opened one
component at a time with O_NOFOLLOW, relative to the folder above; a link
found there is replaced by a real folder. The folders above `base` are the
user's own path (`--out DIR`, `--results PATH`): those are followed, as any
command follows the paths it is given.

Where the platform has no folder descriptors (Windows), the same staging and
rename go by path: a new file with O_EXCL, then `os.replace`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

OUTPUT_MODE = 0o644          # never group- or world-writable, whatever the umask
BY_DESCRIPTOR = hasattr(os, "O_DIRECTORY") and hasattr(os, "O_NOFOLLOW") and os.open in os.supports_dir_fd
_DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_STAGED_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
                 | getattr(os, "O_BINARY", 0))


def write_file(path: Path, data: bytes | str, *, base: Path | None = None, mode: int = OUTPUT_MODE) -> Path:
    """Replace `path` whole with `data` (text is UTF-8). `base`: the folder at or above `path.parent`
    from which on no link is followed (default: `path.parent`, so only the file itself is guarded)."""
    content = data.encode("utf-8") if isinstance(data, str) else data
    base = path.parent if base is None else base
    below = path.parent.relative_to(base).parts  # ValueError when `path` is not under `base`: a caller's bug
    if not BY_DESCRIPTOR:
        return _write_by_path(path, content, mode)
    with _opened_folder(base, below) as folder:
        staged, descriptor = _create_staged(folder, path.name)
        try:
            with os.fdopen(descriptor, "wb") as file:
                os.fchmod(file.fileno(), mode)  # exactly `mode`: the umask narrowed the one os.open gave
                file.write(content)
            os.replace(staged, path.name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged, dir_fd=folder)
            raise
    return path


def make_folder(folder: Path, *, base: Path) -> Path:
    """`folder` (under `base`) as a real folder: made if missing, a link there replaced by one."""
    if not BY_DESCRIPTOR:
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    with _opened_folder(base, folder.relative_to(base).parts):
        pass
    return folder


def _write_by_path(path: Path, content: bytes, mode: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        staged = path.with_name(f".{path.name[:80]}.{secrets.token_hex(8)}.partial")
        try:
            descriptor = os.open(staged, _STAGED_FLAGS, 0o600)
        except FileExistsError:
            continue
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(content)
            staged.chmod(mode)
            staged.replace(path)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        return path
    raise FileExistsError(f"cannot stage {path.name}: every staging name is taken")


def _create_staged(folder: int, name: str) -> tuple[str, int]:
    # A fresh random name each try: O_EXCL refuses whatever already sits there, a planted link included.
    for _ in range(100):
        staged = f".{name[:80]}.{secrets.token_hex(8)}.partial"
        try:
            return staged, os.open(staged, _STAGED_FLAGS, 0o600, dir_fd=folder)
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot stage {name}: every staging name is taken")


@contextlib.contextmanager
def _opened_folder(base: Path, below: tuple[str, ...]) -> Iterator[int]:
    base.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(base, _DIRECTORY_FLAGS)
    try:
        for part in below:
            inner = _open_or_make(descriptor, part)
            os.close(descriptor)
            descriptor = inner
        yield descriptor
    finally:
        os.close(descriptor)


def _open_or_make(parent: int, name: str) -> int:
    for _ in range(4):  # a link removed, a folder made, then opened
        try:
            return os.open(name, _DIRECTORY_FLAGS | os.O_NOFOLLOW, dir_fd=parent)
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o755, dir_fd=parent)
        except OSError:
            if not stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
                raise NotADirectoryError(f"{name} is in the way of the grader's output folder: not a folder") from None
            os.unlink(name, dir_fd=parent)  # a planted link: the grader's own folder goes in its place
    raise OSError(f"cannot make the output folder {name}")
