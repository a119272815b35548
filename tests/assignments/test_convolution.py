"""Self-checks of the `convolution` assignment (true convolution; 1D and 3D cross-correlation).

Two levels:
- in-process (fast): the public and hidden tests run through `local_student`
  against the solved notebook and against realistic wrong versions, for
  several seeds, so that no pass or failure depends on lucky inputs;
- end to end: `grade()` on the solved notebook, the student release, and the
  wrong submissions as notebooks (the solution's cells plus one cell that
  redefines one function with a realistic bug; the last definition wins).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import nbformat
import pytest
import torch

from grader.assignment import Assignment, load_assignment
from grader.execute import Limits, Zygote
from grader.pipeline import GradeResult, grade, start_zygote
from grader.release import release_notebook
from grader.student import local_student
from grader.test import run_test
from tests.conftest import MakeNotebook

ASSIGNMENT = "convolution"
ASSIGNMENTS = Path(__file__).resolve().parents[2] / "assignments"
NOTEBOOK = ASSIGNMENTS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
FUNCTIONS = ("convolve2d", "corr1d", "corr3d")
SEEDS = (0, 1, 2)
FAST = Limits(call_timeout=5.0, cell_timeout=20.0, budget=120.0)

# ---------------------------------------------------------------- realistic wrong submissions

FLIPS_ONLY_THE_ROWS = '''
def convolve2d(X, K):
    return corr2d(X, K.flip(0))
'''
FLIPS_ONLY_THE_COLUMNS = '''
def convolve2d(X, K):
    return corr2d(X, K.flip(1))
'''
NO_FLIP = '''
def convolve2d(X, K):
    return corr2d(X, K)
'''
OFF_BY_ONE_CORR1D = '''
def corr1d(x, k):
    dtype = torch.promote_types(x.dtype, k.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    x, k = x.to(dtype), k.to(dtype)
    n = x.shape[0] - k.shape[0]          # forgot the + 1
    y = torch.zeros(n, dtype=dtype)
    for i in range(n):
        y[i] = (x[i:i + k.shape[0]] * k).sum()
    return y
'''
LIBRARY_CONV3D = '''
import torch.nn.functional as F
def corr3d(X, K):
    dtype = torch.promote_types(X.dtype, K.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    return F.conv3d(X.to(dtype)[None, None], K.to(dtype)[None, None])[0, 0]
'''
OUTPUT_LOOPS = '''
def _compute_dtype(a, b):
    dtype = torch.promote_types(a.dtype, b.dtype)
    return dtype if dtype.is_floating_point else torch.float32

def corr2d(X, K):
    dtype = _compute_dtype(X, K)
    X, K = X.to(dtype), K.to(dtype)
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=dtype)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y

def corr1d(x, k):
    dtype = _compute_dtype(x, k)
    x, k = x.to(dtype), k.to(dtype)
    y = torch.zeros(x.shape[0] - k.shape[0] + 1, dtype=dtype)
    for i in range(y.shape[0]):
        y[i] = (x[i:i + k.shape[0]] * k).sum()
    return y

def corr3d(X, K):
    dtype = _compute_dtype(X, K)
    X, K = X.to(dtype), K.to(dtype)
    d, h, w = K.shape
    Y = torch.zeros((X.shape[0] - d + 1, X.shape[1] - h + 1, X.shape[2] - w + 1), dtype=dtype)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            for l in range(Y.shape[2]):
                Y[i, j, l] = (X[i:i + d, j:j + h, l:l + w] * K).sum()
    return Y
'''


# ---------------------------------------------------------------- fixtures and helpers

@pytest.fixture(scope="module")
def course() -> Iterator[None]:
    """The project's assignments and a fixed course secret, whatever other test modules set."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVGRADE_ASSIGNMENTS", str(ASSIGNMENTS))
        patch.setenv("CONVGRADE_SECRET", "tests-secret")
        yield


@pytest.fixture(scope="module")
def definition(course: None) -> Assignment:
    return load_assignment(ASSIGNMENT)


@pytest.fixture(scope="module")
def zygote(course: None) -> Iterator[Zygote]:
    with start_zygote() as shared:
        yield shared


def solution_cells() -> tuple[str, ...]:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    return tuple(cell.source for cell in notebook.cells if cell.cell_type == "code")


def namespace(*extra: str) -> dict[str, Any]:
    names: dict[str, Any] = {}
    for source in solution_cells() + extra:
        exec(compile(source, "<cell>", "exec"), names)  # noqa: S102 - our own notebook
    return names


def points_in_process(definition: Assignment, names: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Points per function, and the names of the failed tests under 'failed'."""
    student = local_student(names, from_scratch=definition.from_scratch)
    points: dict[str, Any] = {f: 0.0 for f in FUNCTIONS} | {"failed": set()}
    for index, test in enumerate(definition.tests):
        outcome = run_test(test, student, seed * 1000 + index)
        assert outcome.status != "grader_error", outcome.message
        if outcome.status == "passed":
            points[test.function] += test.points
        else:
            points["failed"].add(test.name)
    return points


def per_function(result: GradeResult) -> dict[str, float]:
    assert result.status == "graded", result.reason
    assert result.grader_errors == ()
    scores = {f: 0.0 for f in FUNCTIONS}
    for test in result.tests:
        scores[test.function] += test.score
    return scores


def full(definition: Assignment, function: str) -> float:
    return sum(t.points for t in definition.tests if t.function == function)


def grade_with(make_notebook: MakeNotebook, zygote: Zygote, *extra: str) -> GradeResult:
    return grade(make_notebook(*solution_cells(), *extra, assignment=ASSIGNMENT), zygote=zygote, limits=FAST)


def assert_solutions_stripped(released: Path) -> None:
    """Every graded function of the release is its signature, docstring and a NotImplementedError stub."""
    text = released.read_text()
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    stubs = {}
    for cell in nbformat.read(released, as_version=4).cells:
        if cell.cell_type == "code":
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.FunctionDef) and node.name in FUNCTIONS:
                    body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
                    stubs[node.name] = [ast.unparse(s) for s in body]
    assert stubs == {f: ["raise NotImplementedError('replace this line with your solution')"] for f in FUNCTIONS}


# ---------------------------------------------------------------- the definition itself

def test_points_total_100_with_most_of_them_hidden(definition: Assignment) -> None:
    assert definition.max_score == 100.0
    assert set(definition.functions) == set(FUNCTIONS)
    assert definition.from_scratch == set(FUNCTIONS)
    hidden = sum(t.points for t in definition.tests if t.hidden)
    assert 70.0 <= hidden <= 80.0
    for function in FUNCTIONS:  # every name is graded by several tests, public and hidden
        tests = [t for t in definition.tests if t.function == function]
        assert len(tests) >= 4 and any(not t.hidden for t in tests) and any(t.hidden for t in tests)
        assert max(t.points for t in tests) < full(definition, function) / 3


def test_the_notebook_imports_only_torch_numpy_math_and_stores_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert notebook.metadata["convgrade"] == {"assignment": ASSIGNMENT}
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


def test_the_lecture_examples_run_in_the_solved_notebook() -> None:
    names = namespace()
    X = torch.tensor([[0.0, 1, 2], [3, 4, 5], [6, 7, 8]])
    K = torch.tensor([[0.0, 1], [2, 3]])
    assert names["convolve2d"](X, K).tolist() == [[5, 11], [23, 29]]
    assert names["corr1d"](torch.arange(7), torch.tensor([1, 2])).tolist() == [2, 5, 8, 11, 14, 17]
    blur = torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
    image = torch.rand(5, 6)
    assert torch.allclose(names["convolve2d"](image, blur), names["corr2d"](image, blur))


# ---------------------------------------------------------------- in-process, several seeds

@pytest.mark.parametrize("seed", SEEDS)
def test_every_test_passes_on_the_solution(definition: Assignment, seed: int) -> None:
    assert points_in_process(definition, namespace(), seed)["failed"] == set()


@pytest.mark.parametrize("seed", SEEDS)
def test_python_loops_over_the_output_still_pass(definition: Assignment, seed: int) -> None:
    assert points_in_process(definition, namespace(OUTPUT_LOOPS), seed)["failed"] == set()


@pytest.mark.parametrize("bug", [FLIPS_ONLY_THE_ROWS, FLIPS_ONLY_THE_COLUMNS], ids=["rows", "columns"])
@pytest.mark.parametrize("seed", SEEDS)
def test_flipping_one_axis_fails_only_convolve2d(definition: Assignment, bug: str, seed: int) -> None:
    points = points_in_process(definition, namespace(bug), seed)
    assert {"convolve2d_flips_the_lecture_kernel", "convolve2d_matches_corr2d_of_flipped_kernel",
            "convolve2d_equals_corr2d_for_point_symmetric_kernels",
            "convolve2d_flips_asymmetric_edge_kernels"} <= points["failed"]
    assert 0 < points["convolve2d"] < full(definition, "convolve2d") / 2
    assert points["corr1d"] == full(definition, "corr1d") and points["corr3d"] == full(definition, "corr3d")


@pytest.mark.parametrize("seed", SEEDS)
def test_cross_correlation_passes_only_the_symmetric_kernel_tests(definition: Assignment, seed: int) -> None:
    points = points_in_process(definition, namespace(NO_FLIP), seed)
    passed = {t.name for t in definition.tests if t.function == "convolve2d"} - points["failed"]
    assert passed == {"convolve2d_output_shape", "convolve2d_equals_corr2d_for_gaussian_blur",
                      "convolve2d_equals_corr2d_for_point_symmetric_kernels"}
    assert points["corr1d"] == full(definition, "corr1d") and points["corr3d"] == full(definition, "corr3d")


@pytest.mark.parametrize("seed", SEEDS)
def test_off_by_one_corr1d_fails_only_corr1d(definition: Assignment, seed: int) -> None:
    points = points_in_process(definition, namespace(OFF_BY_ONE_CORR1D), seed)
    assert points["corr1d"] == 3.0  # its values are right where it has them: the first-window test
    assert points["convolve2d"] == full(definition, "convolve2d") and points["corr3d"] == full(definition, "corr3d")


def test_library_conv3d_is_seen_by_the_dispatcher_watch(definition: Assignment) -> None:
    student = local_student(namespace(LIBRARY_CONV3D), from_scratch=definition.from_scratch)
    student.corr3d(torch.ones(3, 3, 3), torch.ones(2, 2, 2))
    student.convolve2d(torch.ones(3, 3), torch.ones(2, 2))
    student.corr1d(torch.ones(5), torch.ones(2))
    assert set(student.library_convolutions) == {"corr3d"}


# ---------------------------------------------------------------- end to end, through grade()

def test_the_solved_notebook_scores_full_marks(zygote: Zygote) -> None:
    result = grade(NOTEBOOK, zygote=zygote, limits=FAST)
    assert (result.status, result.assignment, result.score, result.max_score, result.grader_errors) == \
        ("graded", ASSIGNMENT, 100.0, 100.0, ())


def test_the_student_release_scores_zero_without_grader_errors(zygote: Zygote, tmp_path: Path) -> None:
    released = release_notebook(ASSIGNMENT, tmp_path)
    assert_solutions_stripped(released)
    assert not (tmp_path / "assignments" / ASSIGNMENT / "hidden_tests.py").exists()
    result = grade(released, zygote=zygote, limits=FAST)
    assert (result.score, result.max_score, result.grader_errors) == (0.0, 100.0, ())
    assert all("NotImplementedError" in t.detail for t in result.tests)


@pytest.mark.parametrize("bug", [FLIPS_ONLY_THE_ROWS, NO_FLIP], ids=["one_axis", "no_flip"])
def test_wrong_flip_loses_only_convolve2d_points(make_notebook: MakeNotebook, zygote: Zygote,
                                                 definition: Assignment, bug: str) -> None:
    scores = per_function(grade_with(make_notebook, zygote, bug))
    assert 0 < scores["convolve2d"] < full(definition, "convolve2d") / 2
    assert scores["corr1d"] == full(definition, "corr1d") and scores["corr3d"] == full(definition, "corr3d")


def test_off_by_one_corr1d_loses_only_corr1d_points(make_notebook: MakeNotebook, zygote: Zygote,
                                                    definition: Assignment) -> None:
    scores = per_function(grade_with(make_notebook, zygote, OFF_BY_ONE_CORR1D))
    assert scores == {"convolve2d": full(definition, "convolve2d"), "corr1d": 3.0,
                      "corr3d": full(definition, "corr3d")}


def test_library_conv3d_scores_zero_for_corr3d_only(make_notebook: MakeNotebook, zygote: Zygote,
                                                    definition: Assignment) -> None:
    result = grade_with(make_notebook, zygote, LIBRARY_CONV3D)
    scores = per_function(result)
    assert scores == {"convolve2d": full(definition, "convolve2d"), "corr1d": full(definition, "corr1d"),
                      "corr3d": 0.0}
    assert set(result.library_convolutions) == {"corr3d"}
    assert all("library convolution" in t.feedback for t in result.tests if t.function == "corr3d")
