"""Collect a batch: the notebooks under the given paths, each with the student it belongs to.

A path is a notebook, a folder of notebooks (any depth), a Canvas or Moodle
submissions zip, or a Gradescope export (a folder, or its zip, with
`submission_metadata.yml`). What is inside is read as untrusted data
(grader.batch.inputs): a link, a FIFO, a damaged or oversized zip member is
that entry's refusal, graded as unusable with the reason. Who submitted a
notebook is read from its path:

1. Gradescope export: the submitters in the export's own
   `submission_metadata.yml` for its `submission_NNN/` folder (student id,
   else email, else name). The export's file sits at its root, beside the
   `submission_NNN/` folders (the root of the folder or zip given, or of its
   `assignment_NNN_export/` folder). One anywhere else, inside a submission
   above all, is a student's own file: it is ignored, with a warning.
2. Canvas: `lastfirst[_late]_USERID_SUBMISSIONID_file.ipynb` -> `lastfirst`.
3. Moodle: `Full Name_ID_assignsubmission_file_` (a folder or a file-name
   prefix) -> `Full Name`.
4. Otherwise, under a folder: the first folder below it (`alice/hw.ipynb`
   -> `alice`), and for a notebook directly in it, the file's stem.

Every notebook gets its own key, so that nothing is dropped and the batch
never refuses as a whole. A key is the student; where two notebooks share one
(two notebooks of one student, two Moodle students of one name), each is told
apart by the first of these that tells them apart: the LMS id
(`Jane Doe [4321]`), the file's name (`alice/part1.ipynb`), its path in the
input (`alice/alice/a/hw.ipynb`), a digest of its source. The same inputs
always give the same keys, and each renamed one carries a warning.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

import yaml

from grader.batch.inputs import (
    GRADESCOPE_METADATA,
    Entry,
    Unreadable,
    archive_entries,
    folder_entries,
    open_given,
    printable,
    read_capped,
)
from grader.errors import UsageError

_CANVAS = re.compile(r"^(?P<student>[^_/]+?)(?:_late)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$", re.IGNORECASE)
_MOODLE = re.compile(r"^(?P<student>.+?)_(?P<user>\d+)_assignsubmission_[a-z]+_(?P<file>.*)$")
_EXPORT_FOLDER = re.compile(r"assignment_\d+_export")   # the one folder of Gradescope's export zip


@dataclasses.dataclass(frozen=True)
class CollectedSubmission:
    """One notebook to grade, and whose it is."""

    student: str                   # the key in the gradebook and the outputs
    source: str                    # where it came from, for people: a path, or zip!member
    content: bytes
    members: tuple[str, ...] = ()  # everyone it is graded for (a Gradescope group), if not just `student`
    lms_id: str = ""               # the LMS's own id for the student, where the path gives one
    refused: str = ""              # why it could not be read (a link, a FIFO, a damaged member); "" when read
    warnings: tuple[str, ...] = () # how it was collected, for the summary and the class report
    relative: str = ""             # its path below the folder or zip that was given

    @functools.cached_property
    def content_hash(self) -> str:
        if self.refused:  # nothing was read: the same refusal is the same submission
            return hashlib.sha256(b"refused\0" + self.refused.encode()).hexdigest()
        return hashlib.sha256(self.content).hexdigest()

    @property
    def file_name(self) -> str:
        return PurePosixPath(self.relative or self.source.split("!")[-1]).name


def collect(paths: Sequence[Path]) -> tuple[CollectedSubmission, ...]:
    """Every notebook under `paths`, in a stable order, with unique student keys."""
    found: list[CollectedSubmission] = []
    given = Counter(paths)
    for path in given:
        collected = _collect_one(path)
        if given[path] > 1:  # the instructor's slip: graded once, and said so
            note = f"{printable(str(path))} was given more than once: graded once"
            collected = [dataclasses.replace(f, warnings=f.warnings + (note,)) for f in collected]
        found += collected
    if not found:
        raise UsageError(f"no notebooks (.ipynb) found in {', '.join(str(p) for p in paths)}")
    return unique_keys(found)


def _collect_one(path: Path) -> list[CollectedSubmission]:
    """A path the instructor gave: followed if it is a link (it is theirs); nothing inside it is."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    if path.is_dir():
        try:
            return _identify(folder_entries(path, _submission_of))
        except OSError as error:
            raise UsageError(f"{path}: cannot be read: {error.strerror}") from None
    try:
        with open_given(path) as file:
            if zipfile.is_zipfile(file):
                return _identify(archive_entries(path, file, _submission_of))
            file.seek(0)
            content = read_capped(file)
    except Unreadable as refusal:
        return [_alone(path, b"", refusal.reason)]
    return [_alone(path, content, "")]


def _alone(path: Path, content: bytes, refused: str) -> CollectedSubmission:
    shown = Path(printable(str(path)))
    student, lms_id = _from_lms_name(shown.name) or (shown.stem, "")
    return CollectedSubmission(student=student, source=str(shown), content=content, lms_id=lms_id,
                               refused=refused, relative=shown.name)


def _identify(entries: Iterable[Entry]) -> list[CollectedSubmission]:
    entries = list(entries)
    metadata, warnings = _export_metadata(entries)
    found = []
    for entry in entries:
        if entry.relative.name == GRADESCOPE_METADATA:
            continue
        noted = tuple(warning for root, warning in warnings if _is_under(entry.relative, root))
        gradescope = _gradescope_submitters(entry.relative, metadata)
        if gradescope is not None:
            student, members, lms_id = gradescope
        else:
            (student, lms_id), members = _from_path(entry.relative), ()
        found.append(CollectedSubmission(student, entry.source, entry.content, members, lms_id,
                                         refused=entry.refused, warnings=noted, relative=entry.relative.as_posix()))
    return found


def _export_metadata(entries: Sequence[Entry]) -> tuple[dict[PurePosixPath, dict[str, object]],
                                                        list[tuple[PurePosixPath, str]]]:
    """The export's own submission_metadata.yml by its folder, and (folder, warning) for the others."""
    metadata: dict[PurePosixPath, dict[str, object]] = {}
    warnings: list[tuple[PurePosixPath, str]] = []
    for entry in entries:
        if entry.relative.name != GRADESCOPE_METADATA:
            continue
        root = entry.relative.parent
        if not _is_export_root(root):
            warnings.append((root, (f"ignored {entry.relative}: a {GRADESCOPE_METADATA} inside a submission is the "
                                    "student's own file, not the export's, and names nobody")))
        elif entry.refused:
            warnings.append((root, (f"the export's {entry.relative} {entry.refused}: students are named by their "
                                    "folders instead")))
        else:
            submissions = _submissions_in(entry.content)
            if submissions is None:
                warnings.append((root, (f"the export's {entry.relative} is not valid YAML: students are named by "
                                        "their folders instead")))
            metadata[root] = submissions or {}
    return metadata, warnings


def _submission_of(relative: PurePosixPath) -> str:
    """Which submission a path is part of, before any metadata is read: a Gradescope submission folder,
    else the student its path names (so a Canvas student's flat files are one submission)."""
    parts = relative.parts
    if len(parts) > 2 and _EXPORT_FOLDER.fullmatch(parts[0]):
        return "/".join(parts[:2])
    return "\0".join(_from_path(relative))


def _is_export_root(folder: PurePosixPath) -> bool:
    return not folder.parts or (len(folder.parts) == 1 and bool(_EXPORT_FOLDER.fullmatch(folder.parts[0])))


def _is_under(relative: PurePosixPath, folder: PurePosixPath) -> bool:
    return relative.parts[:len(folder.parts)] == folder.parts


def _from_path(relative: PurePosixPath) -> tuple[str, str]:
    # An LMS names its own entries at the top (Canvas's flat files, Moodle's folders); an LMS-shaped
    # name deeper down is one a student chose (`alice/bob_4321_1_hw.ipynb` is alice's file).
    named = _from_lms_name(relative.parts[0]) if relative.parts else None
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


def _submissions_in(metadata: bytes) -> dict[str, object] | None:
    """submission_metadata.yml: submission folder -> its entry (with `:submitters`); None if it is not YAML."""
    try:
        document = yaml.safe_load(metadata) or {}
    except (yaml.YAMLError, RecursionError, ValueError):
        return None
    return document if isinstance(document, dict) else {}


def _gradescope_submitters(relative: PurePosixPath,
                           metadata: dict[PurePosixPath, dict[str, object]]) -> tuple[str, tuple[str, ...], str] | None:
    """(key, members, submission id) for a notebook in an export's `submission_NNN/`."""
    for root, submissions in metadata.items():
        if len(relative.parts) < len(root.parts) + 2 or not _is_under(relative, root):
            continue
        folder = relative.parts[len(root.parts)]
        entry = submissions.get(folder)
        submitters = entry.get(":submitters") if isinstance(entry, dict) else None
        names = tuple(_submitter_name(s) for s in submitters or () if isinstance(s, dict)) \
            if isinstance(submitters, list) else ()
        members = tuple(name for name in names if name) or (folder,)
        return "+".join(members), members if len(members) > 1 else (), folder.removeprefix("submission_")
    return None


def _submitter_name(submitter: dict[str, object]) -> str:
    for key in (":sid", ":email", ":name"):
        value = submitter.get(key)
        if value not in (None, ""):
            return str(value).strip()
    return ""


# ------------------------------------------------------------------------------------------- keys

@dataclasses.dataclass(frozen=True)
class _Key:
    """Which of the found notebook's facts its key includes, beyond the student."""
    lms_id: bool = False
    path: int = 0                  # 0: none, 1: its file name, 2: its path in the input
    digest: bool = False

    def of(self, found: CollectedSubmission) -> str:
        key = f"{found.student} [{found.lms_id}]" if self.lms_id and found.lms_id else found.student
        if self.path:
            key += f"/{found.file_name if self.path == 1 else found.relative}"
        if self.digest:
            key += f" #{hashlib.sha256(found.source.encode()).hexdigest()[:8]}"
        return key


_REFINEMENTS = (_Key(lms_id=True), _Key(path=1), _Key(path=2), _Key(digest=True))
MAX_LISTED = 5                     # sources named in one warning


def unique_keys(found: Sequence[CollectedSubmission]) -> tuple[CollectedSubmission, ...]:
    """Each notebook under its own stable key; the renamed ones say why, in their warnings."""
    keys = [_Key()] * len(found)
    for _ in range(len(_REFINEMENTS) + 1):
        colliding = [group for group in _groups(found, keys).values() if len(group) > 1]
        if not colliding:
            break
        for group in colliding:
            for index, key in zip(group, _separate([found[i] for i in group], [keys[i] for i in group]), strict=True):
                keys[index] = key
    unique = [dataclasses.replace(f, student=key.of(f)) for f, key in zip(found, keys, strict=True)]
    seen: defaultdict[str, int] = defaultdict(int)
    for index, item in enumerate(unique):  # two sources that print the same: a last resort, by order
        seen[item.student] += 1
        if seen[item.student] > 1:
            unique[index] = dataclasses.replace(item, student=f"{item.student} #{seen[item.student]}")
    for group in _groups(found, [_Key()] * len(found)).values():
        if len(group) > 1:
            warning = _collision_warning([found[i] for i in group])
            for index in group:
                unique[index] = dataclasses.replace(unique[index], warnings=unique[index].warnings + (warning,))
    return tuple(sorted(unique, key=lambda f: (f.student, f.source)))


def _groups(found: Sequence[CollectedSubmission], keys: Sequence[_Key]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for index, (item, key) in enumerate(zip(found, keys, strict=True)):
        groups[key.of(item)].append(index)
    return groups


def _separate(group: Sequence[CollectedSubmission], keys: Sequence[_Key]) -> list[_Key]:
    """The group's keys, each refined by the first fact that tells at least two of them apart."""
    for refinement in _REFINEMENTS:
        refined = [_Key(lms_id=k.lms_id or refinement.lms_id, path=max(k.path, refinement.path),
                        digest=k.digest or refinement.digest) for k in keys]
        if len({key.of(item) for key, item in zip(refined, group, strict=True)}) > 1:
            return refined
    return [_Key(lms_id=k.lms_id, path=k.path, digest=True) for k in keys]


def _collision_warning(group: Sequence[CollectedSubmission]) -> str:
    listed = "; ".join(f.relative or f.source for f in group[:MAX_LISTED])
    listed += f"; and {len(group) - MAX_LISTED} more" if len(group) > MAX_LISTED else ""
    lms_ids = sorted({f.lms_id for f in group if f.lms_id})
    who = (f"{len(lms_ids)} students share the name {group[0].student!r} (LMS ids {', '.join(lms_ids)})"
           if len(lms_ids) > 1 else f"{len(group)} notebooks were found for {group[0].student!r}")
    return f"{who}: {listed}; each is graded under its own key"
