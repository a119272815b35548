"""Collect a batch: the notebooks under the given paths, each with the student it belongs to.

A path is a notebook, a folder of notebooks (any depth), a Canvas or Moodle
submissions zip, or a Gradescope export (a folder, or its zip, with
`submission_metadata.yml`). Who submitted a notebook is read from its path:

1. Gradescope export: the submitters in `submission_metadata.yml` of its
   `submission_NNN/` folder (student id, else email, else name).
2. Canvas: `lastfirst[_late]_USERID_SUBMISSIONID_file.ipynb` -> `lastfirst`.
3. Moodle: `Full Name_ID_assignsubmission_file_` (a folder or a file-name
   prefix) -> `Full Name`.
4. Otherwise, under a folder: the first folder below it (`alice/hw.ipynb`
   -> `alice`), and for a notebook directly in it, the file's stem.

A student with several notebooks gets one entry per notebook, keyed
`student/notebook`, so that nothing is silently dropped.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath

import yaml

from grader.errors import UsageError
from grader.load import MAX_NOTEBOOK_BYTES

GRADESCOPE_METADATA = "submission_metadata.yml"
_CANVAS = re.compile(r"^(?P<student>[^_/]+?)(?:_late)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$", re.IGNORECASE)
_MOODLE = re.compile(r"^(?P<student>.+?)_(?P<user>\d+)_assignsubmission_[a-z]+_(?P<file>.*)$")
_SKIPPED_PARTS = ("__MACOSX", ".ipynb_checkpoints")


@dataclasses.dataclass(frozen=True)
class Found:
    """One notebook to grade, and whose it is."""

    student: str                   # the key in the gradebook and the outputs
    source: str                    # where it came from, for people: a path, or zip!member
    content: bytes
    members: tuple[str, ...] = ()  # everyone it is graded for (a Gradescope group), if not just `student`
    lms_id: str = ""               # the LMS's own id for the student, where the path gives one

    @functools.cached_property
    def content_hash(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def file_name(self) -> str:
        return PurePosixPath(self.source.split("!")[-1]).name


@dataclasses.dataclass(frozen=True)
class _Entry:
    relative: PurePosixPath        # below the folder or zip that was given
    source: str
    content: bytes


def collect(paths: Sequence[Path]) -> tuple[Found, ...]:
    """Every notebook under `paths`, in a stable order, with unique student keys."""
    found: list[Found] = []
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
        if path.is_file() and zipfile.is_zipfile(path):
            found += _identify(_zip_entries(path))
        elif path.is_dir():
            found += _identify(_folder_entries(path))
        else:
            found.append(_identify_alone(path))
    if not found:
        raise UsageError(f"no notebooks (.ipynb) found in {', '.join(str(p) for p in paths)}")
    return _unique(found)


def _folder_entries(folder: Path) -> Iterator[_Entry]:
    for path in sorted(folder.rglob("*")):
        relative = PurePosixPath(path.relative_to(folder).as_posix())
        if path.is_file() and _wanted(relative):
            yield _Entry(relative, str(path), _read(path))


def _zip_entries(archive: Path) -> Iterator[_Entry]:
    with zipfile.ZipFile(archive) as opened:
        for info in sorted(opened.infolist(), key=lambda i: i.filename):
            relative = PurePosixPath(info.filename)
            if info.is_dir() or relative.is_absolute() or ".." in relative.parts or not _wanted(relative):
                continue
            with opened.open(info) as member:
                content = member.read(MAX_NOTEBOOK_BYTES + 1)  # one byte past the limit: loading says "too large"
            yield _Entry(relative, f"{archive}!{info.filename}", content)


def _wanted(relative: PurePosixPath) -> bool:
    if any(part in _SKIPPED_PARTS or part.startswith(".") for part in relative.parts):
        return False
    return relative.suffix == ".ipynb" or relative.name == GRADESCOPE_METADATA


def _read(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(MAX_NOTEBOOK_BYTES + 1)  # one byte past the limit: loading says "too large"


def _identify_alone(path: Path) -> Found:
    content = _read(path) if path.is_file() else b""
    student, lms_id = _from_lms_name(path.name) or (path.stem, "")
    return Found(student=student, source=str(path), content=content, lms_id=lms_id)


def _identify(entries: Iterable[_Entry]) -> list[Found]:
    entries = list(entries)
    metadata = {e.relative.parent: _submissions_in(e.content)
                for e in entries if e.relative.name == GRADESCOPE_METADATA}
    found = []
    for entry in entries:
        if entry.relative.suffix != ".ipynb":
            continue
        gradescope = _gradescope_submitters(entry.relative, metadata)
        if gradescope is not None:
            student, members, lms_id = gradescope
            found.append(Found(student, entry.source, entry.content, members, lms_id))
            continue
        student, lms_id = _from_path(entry.relative)
        found.append(Found(student, entry.source, entry.content, lms_id=lms_id))
    return found


def _from_path(relative: PurePosixPath) -> tuple[str, str]:
    for part in relative.parts:
        named = _from_lms_name(part)
        if named:
            return named
    if len(relative.parts) > 1:
        return relative.parts[0], ""
    return relative.stem, ""


def _from_lms_name(name: str) -> tuple[str, str] | None:
    for pattern in (_MOODLE, _CANVAS):
        match = pattern.match(name)
        if match:
            return match["student"].strip(), match["user"]
    return None


def _submissions_in(metadata: bytes) -> dict[str, object]:
    """submission_metadata.yml: submission folder -> its entry (with `:submitters`)."""
    try:
        document = yaml.safe_load(metadata) or {}
    except yaml.YAMLError:
        return {}
    return document if isinstance(document, dict) else {}


def _gradescope_submitters(relative: PurePosixPath,
                           metadata: dict[PurePosixPath, dict[str, object]]) -> tuple[str, tuple[str, ...], str] | None:
    """(key, members, submission id) for a notebook in an export's `submission_NNN/`."""
    for depth in range(1, len(relative.parts)):
        root = PurePosixPath(*relative.parts[:depth - 1]) if depth > 1 else PurePosixPath(".")
        if root not in metadata:
            continue
        folder = relative.parts[depth - 1]
        entry = metadata[root].get(folder)
        submitters = entry.get(":submitters") if isinstance(entry, dict) else None
        names = tuple(_submitter_name(s) for s in submitters or () if isinstance(s, dict))
        members = tuple(name for name in names if name) or (folder,)
        return "+".join(members), members if len(members) > 1 else (), folder.removeprefix("submission_")
    return None


def _submitter_name(submitter: dict[str, object]) -> str:
    for key in (":sid", ":email", ":name"):
        value = submitter.get(key)
        if value not in (None, ""):
            return str(value).strip()
    return ""


def _unique(found: list[Found]) -> tuple[Found, ...]:
    counts = Counter(f.student for f in found)
    unique = [dataclasses.replace(f, student=f"{f.student}/{f.file_name}") if counts[f.student] > 1 else f
              for f in found]
    keys = Counter(f.student for f in unique)
    repeated = sorted(k for k, n in keys.items() if n > 1)
    if repeated:
        raise UsageError(f"the same submission is given twice: {', '.join(repeated)}")
    return tuple(sorted(unique, key=lambda f: f.student))
