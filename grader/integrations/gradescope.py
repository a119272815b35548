"""Gradescope autograder bundle: one assignment, its hidden tests, and the grader, as a zip.

`build_gradescope_bundle(NAME, out)` writes what Gradescope's autograder
specification asks for (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
`setup.sh` and an executable `run_autograder` at the root (from
`ci/gradescope/`), and beside them the grader's own project (`grader/`,
`pyproject.toml`, `README.md`), which is also a course of its own
(`convgrade.toml`, the course's `reference/`, that one assignment's folder
with its hidden tests), and the course secret, so that Gradescope grades with
the same inputs as every other machine of the course. `constraints.txt` pins
every library setup.sh installs (the grader's `feedback` extra, torch
included) at the versions of the environment that built the bundle, so that
every rebuild of the image installs the same grader. It goes to the course
staff's Gradescope account only: it is everything a student must never see.

The zip is reproducible: sorted entries, fixed timestamps, explicit modes.
"""

from __future__ import annotations

import io
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grader.course import COURSE_FILE, active, course_file_text
from grader.course.assignment import load_assignment
from grader.errors import GraderError, UsageError
from grader.host.paths import PROJECT_ROOT, grader_package
from grader.integrations.constraints import constraints_file
from grader.records import GradeResult
from grader.report.formats import gradescope
from grader.safe_write import write_file

SCRIPTS = PROJECT_ROOT / "ci" / "gradescope"
ROOT_SCRIPTS = ("setup.sh", "run_autograder")
PROJECT = "convgrade"                      # the grader's project, under /autograder/source/
PROJECT_FILES = ("pyproject.toml", "README.md")
COURSE_CODE = "reference"                  # the course's own code, which its hidden tests import
SECRET = "secret/course_secret"            # noqa: S105 - a path: a folder of its own, which workers never see
CONSTRAINTS = "constraints.txt"            # setup.sh installs through it
INSTALLED_EXTRAS = ("feedback",)           # what setup.sh installs: convgrade[feedback]
_TIMESTAMP = (1980, 1, 1, 0, 0, 0)         # the earliest a zip can hold: the same bytes on every build
EXECUTABLE, READABLE, PRIVATE = 0o755, 0o644, 0o600


def build_gradescope_bundle(assignment: str, out: Path, secret: bytes) -> Path:
    """Write the autograder zip for `assignment` to `out`, with the course `secret` that seeds its hidden inputs.
    Refuses an assignment without hidden tests: Gradescope is where they run."""
    if out.suffix != ".zip":
        raise UsageError(f"--out {out}: Gradescope takes a .zip file")
    definition = load_assignment(assignment)  # the complete definition: hidden tests present and valid
    entries = sorted(_entries(definition.name, definition.directory, secret), key=lambda entry: entry[0])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content, mode in entries:
            info = zipfile.ZipInfo(name, date_time=_TIMESTAMP)
            info.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return write_file(out, buffer.getvalue(), mode=PRIVATE)  # it holds the course secret: the owner's alone


def not_graded(assignment: str, reason: str) -> dict[str, Any]:
    """results.json for an upload that holds no single notebook to grade:
    score 0 out of the assignment's points, and the reason."""
    max_score = load_assignment(assignment).max_score
    result = GradeResult(submission=Path("submission"), assignment=assignment, status="unusable", reason=reason,
                         max_score_if_unusable=max_score)
    return gradescope(result)


def _entries(assignment: str, directory: Path, secret: bytes) -> Iterator[tuple[str, bytes, int]]:
    for name in ROOT_SCRIPTS:
        yield name, _read(SCRIPTS / name), EXECUTABLE
    header = (f"Every library setup.sh installs ({PROJECT}[{','.join(INSTALLED_EXTRAS)}], torch included), at the\n"
              f"versions of the environment that built this bundle (Python {sys.version_info.major}."
              f"{sys.version_info.minor}), written by `grade gradescope`.")
    yield CONSTRAINTS, constraints_file(PROJECT, INSTALLED_EXTRAS, header).encode(), READABLE
    for name in PROJECT_FILES:
        yield f"{PROJECT}/{name}", _read(PROJECT_ROOT / name), READABLE
    yield from _tree(grader_package(), f"{PROJECT}/grader")
    course = active()
    if (course.root / COURSE_CODE).is_dir():
        yield from _tree(course.root / COURSE_CODE, f"{PROJECT}/{COURSE_CODE}")
    # The bundle is a course of its own, with this course's limits; its secret comes beside it.
    yield f"{PROJECT}/{COURSE_FILE}", course_file_text(course.name, limits=course).encode(), READABLE
    yield from _tree(directory, f"{PROJECT}/assignments/{assignment}")
    yield SECRET, secret + b"\n", PRIVATE


def _tree(folder: Path, prefix: str) -> Iterator[tuple[str, bytes, int]]:
    if not folder.is_dir():
        raise GraderError(f"{folder} is missing: build the bundle from a checkout of the grader")
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        # Caches and dot-files (.ipynb_checkpoints, .DS_Store) are no part of the grader.
        if not path.is_file() or any(p == "__pycache__" or p.startswith(".") for p in relative.parts):
            continue
        yield f"{prefix}/{relative.as_posix()}", path.read_bytes(), READABLE


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise GraderError(f"{path} is missing: build the bundle from a checkout of the grader")
    return path.read_bytes()
