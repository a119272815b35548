"""`grade new NAME`: a working assignment to start from, which the audit fails until it has accepted answers
and a calibration."""

from __future__ import annotations

import tomllib
from pathlib import Path

import nbformat
import pytest

from grader.cli import main
from grader.course.assignment import load_assignment
from grader.course.audit import AuditOptions, audit
from grader.course.release import CODE_BEGIN, CODE_END, TEXT_BEGIN, release_notebook
from grader.course.scaffold import new_assignment
from grader.errors import ExitCode
from grader.host.paths import PROJECT_ROOT
from grader.session import Grader

SCAFFOLD_FILES = {"assignment.toml", "pooling2.ipynb", "public_tests.py", "hidden_tests.py", "accepted/README.md"}


def test_new_writes_the_assignment_and_says_to_audit_it(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "pooling2"]) == ExitCode.GRADED
    folder = root / "pooling2"
    assert {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} == SCAFFOLD_FILES
    out = capsys.readouterr().out
    assert f"wrote {folder}/" in out
    assert all(f"  {name}\n" in out for name in SCAFFOLD_FILES)
    assert out.rstrip().endswith("then run: grade calibrate pooling2 && grade audit pooling2")


def test_the_scaffold_loads_with_one_function_and_100_points_across_its_two_example_tests(root: Path) -> None:
    new_assignment("pooling2")
    definition = load_assignment("pooling2")
    assert definition.functions == ("pooling2",)
    assert definition.title == "Pooling2"
    assert definition.from_scratch == frozenset()   # from_scratch is there, commented, for the author to turn on
    assert "# from_scratch = true" in (definition.directory / "assignment.toml").read_text()
    assert [(t.hidden, t.points) for t in definition.tests] == [(False, 30.0), (True, 70.0)]
    hidden = next(t for t in definition.tests if t.hidden)
    assert hidden.hint and hidden.function == "pooling2"
    assert not list((definition.directory / "accepted").glob("*.ipynb"))


def test_function_and_title_can_be_chosen(root: Path) -> None:
    assert main(["new", "pooling", "--function", "pool2d", "--title", 'Pooling "6.5", \\ and more']) == 0
    definition = load_assignment("pooling")
    assert definition.functions == ("pool2d",)
    assert definition.title == 'Pooling "6.5", \\ and more'
    notebook = nbformat.read(definition.notebook, as_version=4)
    assert notebook.cells[0].source.startswith('# Pooling "6.5", \\ and more')
    assert any(c.source.startswith("def pool2d(X, K):") for c in notebook.cells)
    assert {t.function for t in definition.tests} == {"pool2d"}


def test_the_teaching_notebook_has_marked_solutions_and_the_metadata_of_the_course_notebooks(root: Path) -> None:
    new_assignment("pooling2")
    notebook = nbformat.read(root / "pooling2" / "pooling2.ipynb", as_version=4)
    nbformat.validate(notebook)
    course = nbformat.read(PROJECT_ROOT / "assignments" / "channels" / "channels.ipynb", as_version=4)
    assert notebook.metadata == {**course.metadata, "convgrade": {"assignment": "pooling2"}}
    sources = [c.source for c in notebook.cells]
    assert any(CODE_BEGIN in s and CODE_END in s for s in sources)
    assert any(TEXT_BEGIN in s for s in sources)
    assert not any("{{" in s for s in sources)
    assert len({c.id for c in notebook.cells}) == len(notebook.cells)


@pytest.mark.slow
def test_its_example_tests_pass_on_its_own_solution_and_fail_on_the_stub(
        root: Path, tmp_path: Path, grader: Grader) -> None:
    new_assignment("pooling2")
    taught = grader.grade(root / "pooling2" / "pooling2.ipynb")
    assert (taught.status, taught.score, taught.max_score) == ("graded", 100.0, 100.0), taught.tests
    stub = grader.grade(release_notebook("pooling2", tmp_path / "release"))
    assert (stub.status, stub.score) == ("graded", 0.0)
    assert [t.passed for t in stub.tests] == [False, False]


@pytest.mark.slow
def test_the_audit_fails_on_the_scaffold_only_for_want_of_accepted_answers_and_says_what_to_do(
        root: Path, grader: Grader) -> None:
    new_assignment("pooling2")
    report = audit("pooling2", grader, AuditOptions(jobs=2, per_function=4))
    failed = [c for c in report.checks if c.verdict == "fail"]
    assert [c.name for c in failed] == ["accepted/ holds accepted answers", "call budgets are calibrated"]
    assert "add notebooks that must score 100" in failed[0].detail
    assert str(root / "pooling2" / "accepted") in failed[0].detail
    assert failed[1].detail == ("pooling2/budgets.json is missing: every call gets the course's call_timeout; "
                                "run 'grade calibrate pooling2'")
    assert any(c.name.startswith("mutants of") and c.verdict == "pass" for c in report.checks)


def test_an_existing_assignment_is_refused_and_left_as_it_was(
        root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (root / "pooling2").mkdir()
    (root / "pooling2" / "mine.txt").write_text("keep me")
    assert main(["new", "pooling2"]) == ExitCode.USAGE
    assert "already exists" in capsys.readouterr().err
    assert [p.name for p in (root / "pooling2").iterdir()] == ["mine.txt"]
    assert [p.name for p in root.iterdir()] == ["pooling2"]  # no staging folder left behind


@pytest.mark.parametrize("name", ["../escape", "a/b", "a\\b", "2d", "with-dash", "class", "", "池化", "x" * 61,
                                  "torch"])
def test_an_invalid_name_is_refused_and_nothing_is_written(
        root: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    assert main(["new", name]) == ExitCode.USAGE
    assert "invalid assignment name" in capsys.readouterr().err
    assert list(root.iterdir()) == []
    assert not (root.parent / "escape").exists()


def test_an_invalid_function_name_is_refused(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "pooling", "--function", "pool-2d"]) == ExitCode.USAGE
    assert "invalid function name" in capsys.readouterr().err
    assert list(root.iterdir()) == []


def test_without_an_assignments_folder_it_says_how_to_get_one(
        root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root.rmdir()  # the course's assignments folder is gone
    assert main(["new", "pooling2"]) == ExitCode.USAGE
    assert "grade init" in capsys.readouterr().err
    assert not root.exists()


def test_the_templates_are_package_data_of_the_wheel() -> None:
    setuptools = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["grader.course"]
    package = PROJECT_ROOT / "grader" / "course"
    shipped = {path for pattern in patterns for path in package.glob(pattern) if path.is_file()}
    templates = {path for path in (package / "templates").rglob("*")
                 if path.is_file() and "__pycache__" not in path.parts}
    assert templates and templates <= shipped
