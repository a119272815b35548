"""The authoring guide's examples, read from docs/authoring.md, and the course they build.

A fence's info string says what its block is (the guide's opening comment
lists them): the example assignment `guide` is assembled from the blocks
marked `assignment.toml`, `notebook`, `public_tests.py` and `hidden_tests.py`;
plain `python` blocks are scripts run in that course's folder.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from grader.course import COURSE_FILE, course_file_text
from grader.environment import COURSE_ENVIRONMENT
from grader.host.paths import PROJECT_ROOT
from grader.session import Grader
from tests.helpers import TESTS_SECRET

GUIDE = PROJECT_ROOT / "docs" / "authoring.md"
EXAMPLE = "guide"                     # the assignment the guide's blocks build
PARTS = ("toml assignment.toml", "python notebook", "python public_tests.py", "python hidden_tests.py")
SCRIPT, FRAGMENT = "python", "toml"
QUOTED = ("console", "text")          # commands and outputs, quoted from real runs
FENCE = re.compile(r"^```([^`\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclasses.dataclass(frozen=True)
class Block:
    info: str          # the fence's info string, e.g. "python hidden_tests.py"
    source: str
    line: int          # of the opening fence, 1-based


def guide_blocks() -> tuple[Block, ...]:
    text = GUIDE.read_text(encoding="utf-8")
    return tuple(Block(m.group(1).strip(), m.group(2), text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text))


def blocks_of(info: str) -> tuple[Block, ...]:
    return tuple(b for b in guide_blocks() if b.info == info)


def write_example(assignments: Path) -> Path:
    """The guide's example assignment, as its blocks write it, in `assignments/guide/`."""
    folder = assignments / EXAMPLE
    folder.mkdir(parents=True)
    (declaration,) = blocks_of("toml assignment.toml")
    (folder / "assignment.toml").write_text(declaration.source)
    for part in ("public_tests.py", "hidden_tests.py"):
        (folder / part).write_text("\n\n".join(b.source for b in blocks_of(f"python {part}")))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(b.source.rstrip("\n"), id=f"guide-{index}")
                      for index, b in enumerate(blocks_of("python notebook"))]
    notebook.metadata["convgrade"] = {"assignment": EXAMPLE}
    nbformat.write(notebook, folder / f"{EXAMPLE}.ipynb")
    return folder


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
def guide_grader(guide_course: Path) -> Iterator[Grader]:
    with Grader(guide_course, secret=TESTS_SECRET) as grader:
        yield grader
