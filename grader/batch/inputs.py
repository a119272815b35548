"""Reading a batch's inputs as untrusted data: the files under a folder or in a zip, each its bytes or why not.

What lies inside a submission folder or zip is the students' (or was packed
from theirs), so nothing there is trusted:

- Nothing is followed. A symbolic link, or anything but a regular file or a
  real folder (a FIFO, a device, a socket), is refused, with the reason. Files
  are opened with O_NOFOLLOW relative to their folder's own descriptor (no
  component of the path can be swapped for a link), the opened descriptor
  must be a regular file (fstat), and at most the notebook size cap is read.
- Zip members are never extracted. A member that is a link (by its Unix
  mode), or whose name climbs out of the archive (`../x.ipynb`, `/x.ipynb`,
  `C:\\x.ipynb`), is refused; each is read through a streaming cap, so a zip
  bomb costs at most the cap, whatever size it declares. An archive with more
  members, or a larger central directory, than any course's export is
  refused whole before it is listed.
- Every failure to read one entry (unreadable, damaged, encrypted, too large)
  is that entry's refusal, never an exception that ends the batch.
- One submission (a student's folder, or their files in a flat zip: the
  caller's `unit_of`) is read up to a budget of notebooks and bytes; past it,
  one refusal says so and the rest is not read, so that no student can make
  the grader hold gigabytes or grade thousands of notebooks.

A path given on the command line is the instructor's own: it is followed if
it is a link, and must then be a folder, a zip or a regular file.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import stat
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from grader.grading.load import MAX_NOTEBOOK_BYTES

GRADESCOPE_METADATA = "submission_metadata.yml"
MAX_FOLDER_DEPTH = 32                      # below the folder given; deeper folders are refused, not searched
MAX_ARCHIVE_MEMBERS = 50_000               # a class of thousands, a few files each
MAX_CENTRAL_DIRECTORY_BYTES = 64 << 20     # what listing the archive may cost in memory
MAX_NOTEBOOKS_PER_SUBMISSION = 10
MAX_BYTES_PER_SUBMISSION = 2 * MAX_NOTEBOOK_BYTES
_SKIPPED_PARTS = ("__MACOSX", ".ipynb_checkpoints")
_READ_CHUNK = 1 << 20
_FILE_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC  # NONBLOCK: opening a FIFO never waits
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_DRIVE = re.compile(r"^[A-Za-z]:")
LINK_REFUSED = "is a symbolic link: links in a submission are never followed; hand in the notebook itself"


@dataclasses.dataclass(frozen=True)
class Entry:
    """One file of an input: its bytes, or why they were not read."""

    relative: PurePosixPath        # below the folder or zip that was given (unsafe parts of a zip name dropped)
    source: str                    # for people: a path, or archive!member
    content: bytes = b""
    refused: str = ""              # "" when `content` holds the file's bytes


UnitOf = Callable[[PurePosixPath], str]   # which submission an entry belongs to, by its path


class _Budget:
    """What each submission may still cost: notebooks and bytes read."""

    def __init__(self, unit_of: UnitOf) -> None:
        self._unit_of = unit_of
        self._read: Counter[str] = Counter()
        self._bytes: Counter[str] = Counter()
        self._refused: set[str] = set()

    def admit(self, relative: PurePosixPath, source: str, read: Callable[[], Entry]) -> Entry | None:
        """The entry read, a refusal once the submission's budget is spent, or None past that refusal."""
        if relative.name == GRADESCOPE_METADATA:
            return read()
        unit = self._unit_of(relative)
        if unit in self._refused:
            return None
        if self._read[unit] >= MAX_NOTEBOOKS_PER_SUBMISSION or self._bytes[unit] > MAX_BYTES_PER_SUBMISSION:
            self._refused.add(unit)
            return Entry(relative, source, refused=(
                f"is past what one submission may hold ({MAX_NOTEBOOKS_PER_SUBMISSION} notebooks, "
                f"{MAX_BYTES_PER_SUBMISSION >> 20} MB): it and the rest of this submission were not read"))
        entry = read()
        self._read[unit] += 1
        self._bytes[unit] += len(entry.content)
        return entry


class Unreadable(Exception):
    """Why one file was not read; a reason for people, never a crash."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def skipped(relative: PurePosixPath) -> bool:
    """Checkpoints, macOS litter and hidden files: no part of a submission."""
    return any(part in _SKIPPED_PARTS or part.startswith(".") for part in relative.parts)


def wanted(relative: PurePosixPath) -> bool:
    return not skipped(relative) and (relative.suffix == ".ipynb" or relative.name == GRADESCOPE_METADATA)


def open_given(path: Path) -> BinaryIO:
    """A file the instructor named: followed if it is a link, and then it must be a regular file."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise Unreadable(f"cannot be read: {error.strerror}") from None
    if not stat.S_ISREG(mode):  # refused before it is opened: opening some devices does something
        raise Unreadable(f"is {_kind(mode)}, not a regular file")
    return _open_regular(str(path), follow=True)


def read_capped(file: IO[bytes]) -> bytes:
    """At most the notebook size cap, read in chunks: a file that grows, or lies about its size, costs no more."""
    chunks: list[bytes] = []
    total = 0
    while total <= MAX_NOTEBOOK_BYTES:
        chunk = file.read(min(_READ_CHUNK, MAX_NOTEBOOK_BYTES + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
    raise Unreadable(too_large())


def printable(name: str) -> str:
    """A name as text that any file, database or log can hold: bytes that are not UTF-8 shown as \\xNN.

    (Python gives such names as lone surrogates, which SQLite and UTF-8 refuse.)"""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def too_large() -> str:
    return f"is larger than {MAX_NOTEBOOK_BYTES >> 20} MB"


# ------------------------------------------------------------------------------------------- folders

def folder_entries(folder: Path, unit_of: UnitOf) -> Iterator[Entry]:
    """The wanted files under `folder` (the instructor's path, followed), and the refusals among them."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield from _walk(descriptor, Path(printable(str(folder))), PurePosixPath(), 0, _Budget(unit_of))
    finally:
        os.close(descriptor)


def _walk(folder: int, shown: Path, relative: PurePosixPath, depth: int, budget: _Budget) -> Iterator[Entry]:
    try:
        names = sorted(os.listdir(folder))
    except OSError as error:
        if not relative.parts:
            raise  # the folder the instructor gave: their error to read, not a student's
        yield Entry(relative, str(shown), refused=f"is a folder that cannot be listed: {error.strerror}")
        return
    for name in names:  # `name` opens the file; what people and the gradebook read is printable
        child, where = relative / printable(name), shown / printable(name)
        if skipped(child):
            continue
        try:
            status = os.stat(name, dir_fd=folder, follow_symlinks=False)
        except OSError as error:
            if wanted(child):
                yield Entry(child, str(where), refused=f"cannot be read: {error.strerror}")
            continue
        if stat.S_ISDIR(status.st_mode):
            yield from _walk_below(folder, name, where, child, depth + 1, budget)
        elif wanted(child):
            entry = budget.admit(child, str(where),
                                 functools.partial(_read_in_folder, folder, name, child, where, status.st_mode))
            if entry is not None:
                yield entry
        elif stat.S_ISLNK(status.st_mode) and _links_to_a_folder(folder, name):
            # A notebook could hide behind it, so it is refused, not passed over in silence.
            yield Entry(child, str(where), refused=f"{LINK_REFUSED} (this one points at a folder)")


def _walk_below(folder: int, name: str, where: Path, child: PurePosixPath, depth: int,
                budget: _Budget) -> Iterator[Entry]:
    if depth > MAX_FOLDER_DEPTH:
        yield Entry(child, str(where), refused=f"is nested more than {MAX_FOLDER_DEPTH} folders deep: not searched")
        return
    try:
        inner = os.open(name, _FOLDER_FLAGS, dir_fd=folder)
    except OSError as error:
        yield Entry(child, str(where), refused=f"is a folder that cannot be opened: {error.strerror}")
        return
    try:
        yield from _walk(inner, where, child, depth, budget)
    finally:
        os.close(inner)


def _read_in_folder(folder: int, name: str, relative: PurePosixPath, where: Path, mode: int) -> Entry:
    if stat.S_ISLNK(mode):
        return Entry(relative, str(where), refused=LINK_REFUSED)
    if not stat.S_ISREG(mode):  # refused before it is opened: opening some devices does something
        return Entry(relative, str(where), refused=f"is {_kind(mode)}, not a regular file")
    try:  # and checked again on the opened descriptor, should it have been swapped since
        with _open_regular(name, follow=False, dir_fd=folder) as file:
            return Entry(relative, str(where), read_capped(file))
    except Unreadable as refusal:
        return Entry(relative, str(where), refused=refusal.reason)


def _links_to_a_folder(folder: int, name: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(name, dir_fd=folder).st_mode)  # stat reads no content: safe to follow
    except (OSError, ValueError):
        return False


def _open_regular(name: str, *, follow: bool, dir_fd: int | None = None) -> BinaryIO:
    """Open for reading, and check on the opened descriptor itself that it is a regular file."""
    try:
        descriptor = os.open(name, _FILE_FLAGS | (0 if follow else os.O_NOFOLLOW), dir_fd=dir_fd)
    except OSError as error:
        if not follow and _is_link(name, dir_fd):
            raise Unreadable(LINK_REFUSED) from None
        raise Unreadable(f"cannot be read: {error.strerror}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise Unreadable(f"is {_kind(mode)}, not a regular file")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _is_link(name: str, dir_fd: int | None) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _kind(mode: int) -> str:
    kinds = {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a named pipe (FIFO)",
             stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket",
             stat.S_IFDIR: "a folder"}
    return kinds.get(stat.S_IFMT(mode), "a special file")


# ------------------------------------------------------------------------------------------- zips

def archive_entries(archive: Path, file: BinaryIO, unit_of: UnitOf) -> Iterator[Entry]:
    """The wanted members of a zip, and the refusals among them; a zip refused whole is one refused entry."""
    whole = PurePosixPath(printable(archive.name))
    oversized = _oversized(file)
    if oversized:
        yield Entry(whole, printable(str(archive)), refused=oversized)
        return
    try:
        opened = zipfile.ZipFile(file)
    except Exception as error:  # noqa: BLE001 - a damaged archive costs that input, whatever zipfile raises
        yield Entry(whole, printable(str(archive)), refused=f"is a damaged zip: {_brief(error)}")
        return
    budget = _Budget(unit_of)
    with opened:
        copies: Counter[str] = Counter()
        for info in sorted(opened.infolist(), key=lambda i: i.filename):  # stable: copies keep their order
            if info.is_dir():
                continue
            relative, climbs = _member_path(info.filename)
            if not wanted(relative):
                continue
            copies[info.filename] += 1
            source = printable(f"{archive}!{info.filename}")
            if copies[info.filename] > 1:
                source += f" (copy {copies[info.filename]} of that name)"
            entry = budget.admit(relative, source, functools.partial(_read_member, opened, info, relative, source,
                                                                     climbs))
            if entry is not None:
                yield entry


def _read_member(opened: zipfile.ZipFile, info: zipfile.ZipInfo, relative: PurePosixPath, source: str,
                 climbs: bool) -> Entry:
    if climbs:
        return Entry(relative, source, refused="has a name that climbs out of the archive (an absolute path or "
                                               "'..'): refused")
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind and kind != stat.S_IFREG:
        refusal = LINK_REFUSED if kind == stat.S_IFLNK else f"is {_kind(kind)} in the archive, not a regular file"
        return Entry(relative, source, refused=refusal)
    if info.file_size > MAX_NOTEBOOK_BYTES:
        return Entry(relative, source, refused=f"{too_large()} uncompressed")
    try:
        with opened.open(info) as member:
            content = read_capped(member)  # the declared size is the archive's word: the stream is capped itself
    except Unreadable as refusal:
        return Entry(relative, source, refused=f"{refusal.reason} uncompressed")
    except Exception as error:  # noqa: BLE001 - a corrupt, encrypted or unsupported member costs only itself
        return Entry(relative, source, refused=f"is a damaged member of the archive: {_brief(error)}")
    return Entry(relative, source, content)


def _member_path(name: str) -> tuple[PurePosixPath, bool]:
    """The member's path with unsafe parts dropped, and whether it had any (zip-slip)."""
    parts = re.split(r"[\\/]", name)
    climbs = name.startswith(("/", "\\")) or bool(_DRIVE.match(name)) or ".." in parts
    kept = [part for part in parts if part not in ("", ".", "..") and not _DRIVE.fullmatch(part)]
    return PurePosixPath(*kept) if kept else PurePosixPath("unnamed"), climbs


def _oversized(file: BinaryIO) -> str:
    """Why the archive is refused whole before zipfile lists it (which costs memory per member), or ""."""
    end_record = getattr(zipfile, "_EndRecData", None)  # CPython's own reader of the end-of-archive record
    if end_record is None:
        return ""
    try:
        record = end_record(file)
        file.seek(0)
    except (OSError, ValueError, zipfile.BadZipFile):
        return ""  # zipfile itself says what is wrong with it
    if not record:
        return ""
    members, directory_bytes = record[zipfile._ECD_ENTRIES_TOTAL], record[zipfile._ECD_SIZE]  # type: ignore[attr-defined]
    if members > MAX_ARCHIVE_MEMBERS:
        return f"is a zip of {members} members, more than the {MAX_ARCHIVE_MEMBERS} a batch reads: refused whole"
    if directory_bytes > MAX_CENTRAL_DIRECTORY_BYTES:
        return (f"is a zip whose list of members takes {directory_bytes >> 20} MB, more than "
                f"{MAX_CENTRAL_DIRECTORY_BYTES >> 20} MB: refused whole")
    return ""


def _brief(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:200]}"
