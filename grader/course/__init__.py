"""The course: a folder whose `convgrade.toml` names its assignments, its secret and its limits.

A course is found much as pytest finds its rootdir: `--course DIR`, else
`$CONVGRADE_COURSE`, else the first `convgrade.toml` in the current directory
or above it, else in the notebook's folder or above it (the current
directory first, since the notebook's folder may be a student's). This checkout is a
course itself; `grade init DIR` makes an empty one, and `grade release`
writes a student kit that is a course of its own (`kit = true`: public tests
only). Nothing of a course is part of the grader's wheel.

Imports nothing heavy, like grader.host.paths, which resolves every path through it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import json
import re
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from grader.environment import COURSE_ENVIRONMENT
from grader.errors import AssignmentError, UsageError

COURSE_FILE = "convgrade.toml"
DEFAULT_CALL_TIMEOUT = 10.0
DEFAULT_MEMORY_MB = 2048
HOW_TO_GET_ONE = (f"run 'grade init DIR' to start a course, pass --course DIR, or set {COURSE_ENVIRONMENT}; "
                  "a student kit from 'grade release' is a course too: run grade inside its folder")
_KEYS = {"course": {"name", "grader", "assignments", "secret", "kit"}, "limits": {"call_timeout", "memory_mb"}}


@dataclasses.dataclass(frozen=True)
class Course:
    root: Path
    name: str
    grader_version: str            # the grader the course was written for, "major.minor"
    assignments: Path
    secret: Path | None            # None: the grader's default secret file
    kit: bool                      # a student kit: public tests only
    call_timeout: float
    memory_mb: int
    # Found beside the notebook, not where the grader runs: the student's folder, so possibly theirs.
    # Such a course grades with its public tests only, and its `secret` is never used.
    beside: bool = False

    @property
    def file(self) -> Path:
        return self.root / COURSE_FILE


_selected: Course | None = None


def active() -> Course:
    """The course this command runs in: the one `using` selected, else found from the current directory."""
    return _selected if _selected is not None else locate()


@contextlib.contextmanager
def using(course: Course) -> Iterator[Course]:
    """Select `course` for what runs inside: a command's course never outlives the command."""
    global _selected
    previous, _selected = _selected, course
    try:
        yield course
    finally:
        _selected = previous


def assignment_names(course: Course) -> tuple[str, ...]:
    """The folders that declare an assignment, well formed or not (loading one says what is wrong)."""
    try:
        return tuple(sorted(p.name for p in course.assignments.iterdir() if _is_file(p / "assignment.toml")))
    except OSError:  # no such folder, or not a folder, or not readable
        return ()


def require_assignment(course: Course, name: str) -> None:
    """A UsageError for a name the course does not declare: checked before any worker starts."""
    known = assignment_names(course)
    if name not in known:
        raise UsageError(f"unknown assignment {name!r} in the course at {course.root} "
                         f"(known: {', '.join(known) or f'none in {course.assignments}'})")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def locate(explicit: Path | None = None, near: Sequence[Path] = (), *, near_is_ours: bool = False) -> Course:
    """`explicit` (--course, or $CONVGRADE_COURSE read by the entry point), else upward from the cwd, else upward
    from each of `near`.

    A course found from `near` (a submission's folder) is marked `beside`: public tests only, no secret of
    its own, since a student can plant one there. `near_is_ours`: `near` is the grader's own choice (the
    test folder pytest collected), not a student's."""
    if explicit is not None:
        folder = explicit.parent if explicit.name == COURSE_FILE else explicit
        if not (folder / COURSE_FILE).is_file():
            raise UsageError(f"{folder} has no {COURSE_FILE}: run 'grade init {folder}' to make it a course")
        return read_course(folder)
    # The current directory first: a folder beside a student's notebook is theirs, and a course planted
    # there must not grade them unless the grader runs from no course at all.
    found = _upward(Path.cwd().resolve())
    if found is not None:
        return read_course(found)
    for start in (path if path.is_dir() else path.parent for path in near):
        found = _upward(start.resolve())
        if found is not None:
            near_course = read_course(found)
            return near_course if near_is_ours else dataclasses.replace(near_course, beside=True, secret=None)
    raise UsageError(f"no course here: no {COURSE_FILE} in {Path.cwd()} or any folder above it; {HOW_TO_GET_ONE}")


def read_course(root: Path) -> Course:
    path = root.resolve() / COURSE_FILE
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise AssignmentError(f"{path} cannot be read: {error}") from None
    _check_keys(path, document)
    course, limits = document.get("course", {}), document.get("limits", {})
    written_for = _text(path, course, "grader", default=grader_version_line())
    _check_grader_version(path, written_for)
    secret = _text(path, course, "secret", default="")
    return Course(
        root=path.parent, name=_text(path, course, "name", default=path.parent.name), grader_version=written_for,
        assignments=(path.parent / _text(path, course, "assignments", default="assignments")).resolve(),
        secret=(path.parent / Path(secret).expanduser()).resolve() if secret else None,
        kit=_typed(path, course, "kit", bool, default=False),
        call_timeout=float(_typed(path, limits, "call_timeout", (int, float), default=DEFAULT_CALL_TIMEOUT)),
        memory_mb=_typed(path, limits, "memory_mb", int, default=DEFAULT_MEMORY_MB))


def init_course(folder: Path, *, name: str | None = None) -> Path:
    """Make `folder` an empty course; returns its convgrade.toml. Refuses a folder that is a course already."""
    path = folder / COURSE_FILE
    if path.exists():
        raise UsageError(f"{path} exists already: {folder} is a course")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "assignments").mkdir(exist_ok=True)
    path.write_text(course_file_text(name or folder.resolve().name), encoding="utf-8")
    return path


def course_file_text(name: str, *, kit: bool = False, limits: Course | None = None) -> str:
    """A convgrade.toml: for a new course, or (kit=True) for a student kit that keeps the course's limits."""
    call_timeout = limits.call_timeout if limits else DEFAULT_CALL_TIMEOUT
    memory_mb = limits.memory_mb if limits else DEFAULT_MEMORY_MB
    lines = [
        "# A convgrade course: `grade` finds this file from the current folder or the notebook's, upward.",
        "[course]",
        f"name = {_toml_string(name)}",
        f'grader = "{grader_version_line()}"          # the grader version this course was written for',
        'assignments = "assignments"  # one folder per assignment',
    ]
    if kit:
        lines.append("kit = true                   # a student kit: the public tests only")
    else:
        lines.append('# secret = "~/.config/convgrade/secret"   # where the course secret lives (this is the default)')
    lines += ["", "[limits]",
              f"call_timeout = {call_timeout:g}           # the most seconds one call into student code may take",
              f"memory_mb = {memory_mb}             # a worker's memory cap", ""]
    return "\n".join(lines)


def grader_version() -> str:
    try:
        return importlib.metadata.version("convgrade")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0.0.0"


def grader_version_line() -> str:
    return ".".join(grader_version().split(".")[:2])


def _upward(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / COURSE_FILE).is_file():
            return folder
    return None


def _check_keys(path: Path, document: dict[str, Any]) -> None:
    for table, value in document.items():
        if table not in _KEYS or not isinstance(value, dict):
            raise AssignmentError(f"{path}: unknown table [{table}] (known: {', '.join(sorted(_KEYS))})")
        unknown = sorted(set(value) - _KEYS[table])
        if unknown:
            raise AssignmentError(f"{path}: unknown key {unknown[0]!r} in [{table}] "
                                  f"(known: {', '.join(sorted(_KEYS[table]))})")


def _check_grader_version(path: Path, written_for: str) -> None:
    wanted, have = _version_tuple(path, written_for), _version_tuple(path, grader_version_line())
    if have < wanted:
        raise UsageError(f"{path} was written for convgrade {written_for}, and this grader is {grader_version()}: "
                         f"pip install 'convgrade>={written_for}'")


def _version_tuple(path: Path, version: str) -> tuple[int, ...]:
    if not re.fullmatch(r"\d+(\.\d+)*", version):
        raise AssignmentError(f"{path}: grader = {version!r} is not a version such as \"0.1\"")
    return tuple(int(part) for part in version.split("."))


def _typed(path: Path, table: dict[str, Any], key: str, kind: type | tuple[type, ...], *, default: Any) -> Any:
    value = table.get(key, default)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise AssignmentError(f"{path}: {key} = {value!r} has the wrong type")
    if not isinstance(value, bool) and isinstance(value, (int, float)) and value <= 0:
        raise AssignmentError(f"{path}: {key} must be positive, not {value!r}")
    return value


def _text(path: Path, table: dict[str, Any], key: str, *, default: str) -> str:
    value: str = _typed(path, table, key, str, default=default)
    return value


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a TOML basic string: the same escapes
