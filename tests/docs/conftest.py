"""The course that the authoring guide's examples build (tests/docs/guide.py reads them from docs/authoring.md)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.course import COURSE_FILE, course_file_text
from grader.environment import COURSE_ENVIRONMENT
from grader.host.paths import PROJECT_ROOT
from tests.docs.guide import write_example


@pytest.fixture(scope="module")
def guide_course(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A course folder holding the guide's example assignment and the project's reference solutions,
    made the current one (and the working directory) for the module, with a fixed secret."""
    course = tmp_path_factory.mktemp("guide_course")
    write_example(course / "assignments")
    shutil.copytree(PROJECT_ROOT / "reference", course / "reference",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (course / COURSE_FILE).write_text(course_file_text("the guide's course"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(COURSE_ENVIRONMENT, str(course))
        patch.setenv("CONVGRADE_SECRET", "tests-secret")
        patch.chdir(course)
        yield course


@pytest.fixture(scope="module")
def course(guide_course: Path) -> Path:
    """The course this folder's tests grade in (the zygote's): the guide's."""
    return guide_course
