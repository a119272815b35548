"""Where the grader's files live, and which of them workers must never see.

Every course path comes from the active course (grader.course). Imports
nothing heavy: the CLI uses it to start the worker zygote before the grader
itself imports torch, so that the two imports overlap.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from grader import course
from grader.course.seeding import secret_file
from grader.environment import GRADER_PARENT

if TYPE_CHECKING:
    from grader.course.seeding import CourseSecret

PROJECT_ROOT = GRADER_PARENT   # in a checkout, the project's root


def assignments_root() -> Path:
    return course.active().assignments


def course_code_root() -> Path:
    """The course's root, which holds the course's own code that hidden tests import (`reference/`):
    never part of the grader's wheel, which students may install."""
    return course.active().root


def make_course_code_importable() -> None:
    root = str(course_code_root())
    if root not in sys.path:
        sys.path.append(root)


def grader_package() -> Path:
    """The `grader` package's own folder: all of the course's files that workers may see."""
    return Path(__file__).resolve().parents[1]


def private_paths(secret: CourseSecret) -> list[Path]:
    """Never seen by workers: the tests, the reference solutions, the course secret, the checkouts' history.
    The whitelist root leaves them out already; these are covered even where they lie inside what it binds."""
    root = course_code_root()
    paths = [assignments_root(), root / "reference", PROJECT_ROOT / "reference", root / ".git", PROJECT_ROOT / ".git"]
    # The session's secret file, and the course's (or the per-user default) even when the session's secret came
    # as a value: a file there may hold the same secret.
    paths += [file.parent for file in (secret.file, secret_file(course.active())) if file is not None]
    reference = importlib.util.find_spec("reference")
    if reference is not None and reference.origin:
        paths.append(Path(reference.origin).parent)
    return sorted({path for path in paths if path.exists()})
