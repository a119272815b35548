"""The self-check every assignment must pass: its own solution earns 100, the
student release earns 0, both without grader errors, and the release carries
no solution code and nothing of the hidden tests."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from grader.cli import main
from grader.course.assignment import available, load_assignment
from grader.course.release import (
    CODE_BEGIN,
    CODE_END,
    TEXT_BEGIN,
    TEXT_END,
    release_notebook,
)
from grader.errors import ExitCode
from grader.host.paths import PROJECT_ROOT
from grader.session import Grader

ASSIGNMENTS = ("cross_correlation", "padding_stride", "channels", "convolution", "pooling")


def test_every_assignment_exists_and_totals_100_points(course: Path) -> None:
    assert set(ASSIGNMENTS) <= set(available())
    for name in ASSIGNMENTS:
        definition = load_assignment(name)
        assert definition.max_score == 100
        hidden = sum(t.points for t in definition.tests if t.hidden)
        assert hidden > 50, f"{name}: hidden tests should carry most of the points"
        for function in definition.functions:
            worth = sum(t.points for t in definition.tests if t.function == function)
            # A name earns a share of the points; all of them only as the assignment's one graded name (pooling).
            alone = len(definition.functions) == 1
            assert worth >= 5 and (worth < 100 or (alone and worth == 100)), f"{name}.{function} is worth {worth}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_solved_notebook_scores_100(name: str, grader: Grader) -> None:
    result = grader.grade(PROJECT_ROOT / "assignments" / name / f"{name}.ipynb")
    failed = {t.name: t.detail for t in result.tests if not t.passed}
    assert (result.score, result.grader_errors, failed) == (100.0, (), {})


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_student_release_scores_0_and_leaks_nothing(name: str, grader: Grader, tmp_path: Path) -> None:
    released = release_notebook(name, tmp_path)
    result = grader.grade(released)
    assert (result.assignment, result.score, result.grader_errors) == (name, 0.0, ())
    text = released.read_text()
    for marker in (CODE_BEGIN, CODE_END, TEXT_BEGIN, TEXT_END):
        assert marker not in text
    solution_only, _ = _lines_by_region(PROJECT_ROOT / "assignments" / name / f"{name}.ipynb")
    _, released_lines = _lines_by_region(released)
    assert solution_only & released_lines == set(), "solution lines leaked into the release"
    hidden_source = (PROJECT_ROOT / "assignments" / name / "hidden_tests.py").read_text()
    for test_name in (n for n in _function_names(hidden_source) if len(n) >= 12):
        assert test_name not in text
    assert not list(tmp_path.rglob("hidden_tests.py"))


def _lines_by_region(notebook: Path) -> tuple[set[str], set[str]]:
    """(lines only between solution markers, lines outside them), without comments
    and ignoring short ones: code the notebook also gives students is no solution."""
    inside_lines: set[str] = set()
    outside_lines: set[str] = set()
    for cell in nbformat.read(notebook, as_version=4).cells:
        inside = False
        for line in cell.source.splitlines():
            stripped = line.strip()
            code = stripped.split("#")[0].strip() if cell.cell_type == "code" else stripped
            if stripped in (CODE_BEGIN, TEXT_BEGIN):
                inside = True
            elif stripped in (CODE_END, TEXT_END):
                inside = False
            elif len(code) >= 25:
                (inside_lines if inside else outside_lines).add(code)
    return inside_lines - outside_lines, outside_lines


def _function_names(source: str) -> list[str]:
    return [node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_grade_audit_passes(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The author's proof, as CI runs it: accepted answers 100, answers that do nothing at most 10,
    every mutant killed on its own function only, deterministic, well inside the time limits."""
    code = main(["audit", name])
    printed = capsys.readouterr().out
    assert code == ExitCode.GRADED, printed
    assert printed.startswith(f"audit of {name}: PASS") and "FAIL" not in printed
