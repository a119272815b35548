"""Helpers shared by the project's tests (fixtures live in the conftest files)."""

from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

import grader.course
from grader.batch.gradebook import SubmissionRow
from grader.course import COURSE_FILE, Course, read_course
from grader.environment import COURSE_ENVIRONMENT
from grader.host.execute import Limits
from grader.host.paths import PROJECT_ROOT
from grader.records import TestScore

# The `make_notebook` fixture's type: code cells (strings) in, the written notebook's path out.
MakeNotebook = Callable[..., Path]

# The grader's own fixture assignment ('toy'), graded by most of tests/grader.
TOY_ASSIGNMENTS = Path(__file__).parent / "grader" / "assignments"
# Limits for grading the toy assignment: short, but generous for a loaded machine.
FAST = Limits(call_timeout=3.0, cell_timeout=5.0, budget=60.0)

# Answers to the grader's own toy assignment (tests/grader/assignments/toy): corr2d from scratch, and scale.
SOLVED_CORR2D = """
import torch
def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1)
    for a in range(h):
        for b in range(w):
            Y = Y + K[a, b] * X[a:a + Y.shape[0], b:b + Y.shape[1]]
    return Y
"""
ZEROS_CORR2D = """
import torch
def corr2d(X, K):
    return torch.zeros(X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1)
"""
SCALE = "def scale(x):\n    return 2 * x"
TESTS_SECRET = b"tests-secret"   # every test session seeds with it, so scores are the same on every machine
CRASHES = "import os\nos._exit(1)"  # a cell that kills its worker


def use_course(patch: pytest.MonkeyPatch, assignments: Path) -> Path:
    """Make the grader read `assignments` as its course's assignments folder; returns the course's root.
    Selected in this process (the library reads no environment) and in $CONVGRADE_COURSE (for the CLI
    and the processes a test starts)."""
    root = _course_for(assignments.resolve())
    select_course(patch, root)
    return root


def select_course(patch: pytest.MonkeyPatch, root: Path) -> Course:
    """Make the course at `root` the current one, in this process and (for the CLI) in $CONVGRADE_COURSE."""
    selected = read_course(root)
    patch.setattr(grader.course, "_selected", selected)
    patch.setenv(COURSE_ENVIRONMENT, str(root))
    return selected


@functools.cache
def _course_for(assignments: Path) -> Path:
    if not assignments.is_relative_to(PROJECT_ROOT):  # a test's own folder: the course beside its assignments
        root, named = assignments.parent, assignments.name
    else:  # a folder of its own, so that no course file lands among the project's fixtures
        root, named = Path(tempfile.mkdtemp(prefix="convgrade-test-course-")), str(assignments)
    (root / COURSE_FILE).write_text(f"[course]\nname = \"tests\"\nassignments = {json.dumps(named)}\n")
    return root


def make_row(student: str = "alice", score: float = 7.0, **changes: object) -> SubmissionRow:
    """A graded gradebook row of the toy assignment; `changes` replace its fields."""
    row = SubmissionRow(
        student=student, members=(), lms_id="42", source=f"{student}.ipynb", content_hash="abc",
        assignment="toy", assignment_digest="d1", status="graded", reason="", score=score, max_score=10.0,
        seconds=1.5, graded_at=1.0, timeouts=0, crashes=0, library_convolutions={"corr2d": ["aten.convolution"]},
        grader_errors=(), isolation={"user": "nobody"}, results={"score": score, "tests": []},
        tests=(TestScore(name="t1", function="corr2d", score=score, max_score=10.0, passed=score == 10.0, hidden=False,
                         feedback="", detail="why"),))
    return dataclasses.replace(row, **changes)  # type: ignore[arg-type]


class Elements(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {name: value or "" for name, value in attrs}))


def loaded_after_importing(*modules: str) -> list[str]:
    """The modules a fresh interpreter holds once it has imported `modules`."""
    code = ("import importlib, json, sys\nfor name in sys.argv[1:]: importlib.import_module(name)\n"
            "print(json.dumps(sorted(sys.modules)))")
    finished = subprocess.run([sys.executable, "-c", code, *modules], capture_output=True, text=True, check=True,
                              cwd=PROJECT_ROOT, timeout=120)
    return list(json.loads(finished.stdout))
