"""What the assignments' self-checks share, parametrized by the assignment's name.

Each self-check module checks one assignment on two levels:
- in-process (fast): the public and hidden tests run through `local_student`
  against the solved notebook and against realistic wrong versions, for
  several seeds, so that no pass or failure depends on lucky inputs;
- end to end: `grade()` on the solved notebook, the student release, and the
  wrong submissions as notebooks (the solution's cells plus one cell that
  redefines one function with a realistic bug; the last definition wins).

One copy of that machinery keeps the modules judging their assignments alike,
and leaves each module only what is particular to its assignment: its wrong
submissions and what each of them must cost.
"""

from __future__ import annotations

import ast
import contextlib
import io
import time
from collections.abc import Collection, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import nbformat
import pytest
import torch

from grader.course.assignment import Assignment, load_assignment
from grader.course.audit import ACCEPTED_FOLDER, notebook_namespace
from grader.course.do_nothing import NothingKind, do_nothing_cells
from grader.course.release import release_notebook
from grader.grading.student import local_student
from grader.grading.testing import run_test
from grader.host.execute import Limits
from grader.records import GradeResult
from grader.session import Grader
from tests.helpers import MakeNotebook

ASSIGNMENTS = Path(__file__).resolve().parents[2] / "assignments"
SEEDS = (0, 1, 2)
# The in-process checks parametrized by seed: the quick loop (`-m "not slow"`) takes the first seed only.
SEED_CASES = (SEEDS[0], *(pytest.param(seed, marks=pytest.mark.slow) for seed in SEEDS[1:]))
FAST = Limits(call_timeout=5.0, cell_timeout=20.0, budget=120.0)
STUB = "raise NotImplementedError('replace this line with your solution')"

# The seeds' per-pixel double loop: the `corr2d` that later assignments build on.
SEEDS_DOUBLE_LOOP_CORR2D = '''
def corr2d(X, K):
    dtype = torch.promote_types(X.dtype, K.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    X, K = X.to(dtype), K.to(dtype)
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=dtype)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
'''


def notebook_path(assignment: str) -> Path:
    """The solved notebook, from this checkout whatever other modules set."""
    return ASSIGNMENTS / assignment / f"{assignment}.ipynb"


def solution_cells(assignment: str) -> tuple[str, ...]:
    """The solved notebook's code cells, to which a wrong submission appends its redefinition."""
    notebook = nbformat.read(notebook_path(assignment), as_version=4)
    return tuple(cell.source for cell in notebook.cells if cell.cell_type == "code")


def solution_namespace(assignment: str, *extra: str) -> dict[str, Any]:
    """The names the solved notebook defines, then `extra` cells run after it: the last definition wins."""
    names: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for source in solution_cells(assignment) + extra:
            exec(compile(source, "<cell>", "exec"), names)
    return names


def points_per_function(definition: Assignment, names: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Points per function, and the names of the failed tests under 'failed'.

    Runs every test in process, on inputs from `seed`, so that the self-checks
    can try several seeds without paying for a worker each time.
    """
    student = local_student(names, from_scratch=definition.from_scratch, may_not_call=definition.may_not_call)
    points: dict[str, Any] = dict.fromkeys(definition.functions, 0.0) | {"failed": set()}
    for index, test in enumerate(definition.tests):
        outcome = run_test(test, student, seed * 1000 + index)
        assert outcome.status != "grader_error", outcome.message
        if outcome.status == "passed":
            points[test.function] += test.points
        else:
            points["failed"].add(test.name)
    return points


def scores_per_function(result: GradeResult) -> dict[str, float]:
    """The score per graded name of a `grade()` that went through without grader errors."""
    assert result.status == "graded", result.reason
    assert result.grader_errors == ()
    assert result.assignment is not None
    scores = dict.fromkeys(load_assignment(result.assignment).functions, 0.0)
    for test in result.tests:
        scores[test.function] += test.score
    return scores


def full(definition: Assignment, function: str) -> float:
    """All the points `function` can earn: what a right answer for it keeps."""
    return sum(t.points for t in definition.tests if t.function == function)


def grade_with(make_notebook: MakeNotebook, grader: Grader, assignment: str, *extra: str) -> GradeResult:
    """`grade()` on the solved notebook plus `extra` cells, as a student would hand it in."""
    return grader.grade(make_notebook(*solution_cells(assignment), *extra, assignment=assignment), limits=FAST)


# ---------------------------------------------------------------- checks every assignment must pass

def assert_points_mostly_hidden(definition: Assignment, functions: Collection[str], from_scratch: AbstractSet[str],
                                one_in: int) -> None:
    """100 points, most of them hidden, and no name's points hang on one test (none worth 1/`one_in` of them)."""
    assert definition.max_score == 100.0
    assert set(definition.functions) == set(functions)
    assert definition.from_scratch == from_scratch
    hidden = sum(t.points for t in definition.tests if t.hidden)
    assert 70.0 <= hidden <= 80.0
    for function in functions:  # every name is graded by several tests, public and hidden
        tests = [t for t in definition.tests if t.function == function]
        assert len(tests) >= 4 and any(not t.hidden for t in tests) and any(t.hidden for t in tests)
        assert max(t.points for t in tests) < full(definition, function) / one_in


def assert_notebook_is_clean(assignment: str, path: Path | None = None) -> None:
    """The notebook (by default the teaching one) names its assignment, imports only what
    students may use, and ships without outputs."""
    notebook = nbformat.read(path or notebook_path(assignment), as_version=4)
    assert notebook.metadata["convgrade"] == {"assignment": assignment}
    imported = set()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [] and cell.execution_count is None
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.add((node.module or "").split(".")[0])
    assert imported <= {"torch", "numpy", "math"}


def assert_every_test_passes_in_time(definition: Assignment, names: Mapping[str, Any], seed: int) -> None:
    """A slow but right loop solution must pass every test, each well within a worker's time limits."""
    student = local_student(names, from_scratch=definition.from_scratch, may_not_call=definition.may_not_call)
    for index, test in enumerate(definition.tests):
        started = time.perf_counter()
        outcome = run_test(test, student, seed * 1000 + index)
        assert outcome.status == "passed", (test.name, outcome.message)
        # The brief aims at 0.3 s per test for a loop solution; allow for a busy machine.
        assert time.perf_counter() - started < 2.0, test.name


def assert_inputs_change_with_the_seed(definition: Assignment, assignment: str, function: str,
                                       test_name: str) -> None:
    """Different seeds, different inputs: what `test_name` hands `function` changes with the seed."""
    seen = []

    def spy(X: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        seen.append(X.sum().item())
        return names[function](X, *args, **kwargs)

    names = solution_namespace(assignment)
    student = local_student({function: spy})
    test = next(t for t in definition.tests if t.name == test_name)
    for seed in (1, 2):
        assert run_test(test, student, seed).status == "passed"
    assert len(seen) == 2 and seen[0] != seen[1]


def assert_full_marks(grader: Grader, assignment: str) -> None:
    """The solved notebook, graded as handed in, earns every point without grader errors."""
    result = grader.grade(notebook_path(assignment), limits=FAST)
    assert (result.status, result.assignment, result.score, result.max_score, result.grader_errors) == \
        ("graded", assignment, 100.0, 100.0, ())


def assert_release_scores_zero(grader: Grader, tmp_path: Path, assignment: str, functions: Collection[str],
                               stubs: Mapping[str, list[str]] | None = None) -> None:
    """The student release carries no solution and no hidden tests, and earns 0 without grader errors."""
    released = release_notebook(assignment, tmp_path)
    assert_solutions_stripped(released, functions, stubs)
    assert not (tmp_path / "assignments" / assignment / "hidden_tests.py").exists()
    result = grader.grade(released, limits=FAST)
    assert (result.score, result.max_score, result.grader_errors) == (0.0, 100.0, ())
    assert all("NotImplementedError" in t.detail for t in result.tests)


def assert_solutions_stripped(released: Path, functions: Collection[str],
                              stubs: Mapping[str, list[str]] | None = None) -> None:
    """Every graded name of the release is its signature, docstring and a NotImplementedError stub.

    `stubs` maps each function, or a class's `Class.method`, to the statements
    left of its body once docstrings are set aside; by default every name in
    `functions` is a plain function whose body is the stub alone.
    """
    text = released.read_text()
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    bodies: dict[str, list[str]] = {}
    for cell in nbformat.read(released, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef) and node.name in functions:
                bodies[node.name] = _statements(node.body)
            elif isinstance(node, ast.ClassDef) and node.name in functions:
                for method in node.body:
                    if isinstance(method, ast.FunctionDef):
                        bodies[f"{node.name}.{method.name}"] = _statements(method.body)
    assert bodies == (stubs if stubs is not None else {f: [STUB] for f in functions})


def _statements(body: list[ast.stmt]) -> list[str]:
    """A body's statements as source, docstrings and other bare constants left out."""
    return [ast.unparse(s) for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]


# ---------------------------------------------------------------- accepted answers, and answers that do nothing

def accepted_notebooks(assignment: str) -> list[Path]:
    """assignments/NAME/accepted/*.ipynb: notebooks the course knows are correct."""
    return sorted((ASSIGNMENTS / assignment / ACCEPTED_FOLDER).glob("*.ipynb"))


def accepted_cells(assignment: str, name: str) -> tuple[str, ...]:
    """The code cells of accepted/NAME.ipynb."""
    notebook = nbformat.read(ASSIGNMENTS / assignment / ACCEPTED_FOLDER / f"{name}.ipynb", as_version=4)
    return tuple(cell.source for cell in notebook.cells if cell.cell_type == "code")


def accepted_namespace(assignment: str, name: str, *extra: str) -> dict[str, Any]:
    """The names accepted/NAME.ipynb defines, then `extra` cells; as in a notebook, a cell
    that raises (seed 000's `torcj`) does not stop the next."""
    return notebook_namespace(accepted_cells(assignment, name) + extra)


def do_nothing_namespace(definition: Assignment, kind: NothingKind) -> dict[str, Any]:
    """The solution with every graded name doing nothing of `kind`, as `grade audit` makes it."""
    return solution_namespace(definition.name, do_nothing_cells((), definition.functions, kind)[-1])


def assert_accepted_scores_full_marks(grader: Grader, notebook: Path, assignment: str) -> GradeResult:
    """An accepted answer, graded as handed in, earns every point without grader errors."""
    result = grader.grade(notebook, limits=FAST)
    assert (result.status, result.assignment, result.score, result.max_score, result.grader_errors) == \
        ("graded", assignment, 100.0, 100.0, ()), [t.name for t in result.tests if not t.passed and t.max_score]
    return result


def assert_accepted_notebooks_are_clean(assignment: str, expected: AbstractSet[str]) -> None:
    """The expected accepted answers are there, each clean as the teaching notebook is and saying first what it is."""
    notebooks = accepted_notebooks(assignment)
    assert {path.stem for path in notebooks} >= expected
    for path in notebooks:
        assert_notebook_is_clean(assignment, path)
        assert nbformat.read(path, as_version=4).cells[0].cell_type == "markdown"


def tips_failed_with_full_marks(definition: Assignment, names: Mapping[str, Any], seed: int) -> set[str]:
    """The tips an answer fails, once it is checked to earn every point of every graded name."""
    points = points_per_function(definition, names, seed)
    for function in definition.functions:
        assert points[function] == full(definition, function), (function, points["failed"])
    failed: set[str] = points["failed"]
    assert failed <= {t.name for t in definition.tests if t.tip}
    return failed
