"""Self-checks of the `channels` assignment (multiple input/output channels, 1x1 convolution).

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

ASSIGNMENT = "channels"
ASSIGNMENTS = Path(__file__).resolve().parents[2] / "assignments"
NOTEBOOK = ASSIGNMENTS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
FUNCTIONS = ("corr2d_multi_in", "corr2d_multi_in_out", "corr2d_multi_in_out_1x1")
SEEDS = (0, 1, 2)
FAST = Limits(call_timeout=5.0, cell_timeout=20.0, budget=120.0)

# ---------------------------------------------------------------- realistic wrong submissions

MEAN_OVER_CHANNELS = '''
def corr2d_multi_in(X, K):
    if X.shape[0] != K.shape[0]:
        raise ValueError("X and K need the same number of channels")
    return torch.stack([corr2d(x, k) for x, k in zip(X, K)]).mean(0)
'''
STACKED_ALONG_WRONG_AXIS = '''
def corr2d_multi_in_out(X, K):
    if X.shape[0] != K.shape[1]:
        raise ValueError("X and K need the same number of input channels")
    return torch.stack([corr2d_multi_in(X, k) for k in K], 1)
'''
PER_PIXEL_LOOP_1X1 = '''
def corr2d_multi_in_out_1x1(X, K):
    if X.shape[0] != K.shape[1]:
        raise ValueError("X and K need the same number of input channels")
    dtype = torch.promote_types(X.dtype, K.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    c_i, h, w = X.shape
    W = K.to(dtype).reshape(K.shape[0], c_i)
    X = X.to(dtype)
    Y = torch.zeros((K.shape[0], h, w), dtype=dtype, device=X.device)
    for i in range(h):
        for j in range(w):
            Y[:, i, j] = W @ X[:, i, j]
    return Y
'''
LIBRARY_CONV2D = '''
import torch.nn.functional as F
def corr2d_multi_in_out(X, K):
    if X.shape[0] != K.shape[1]:
        raise ValueError("X and K need the same number of input channels")
    dtype = torch.promote_types(X.dtype, K.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    return F.conv2d(X.to(dtype).unsqueeze(0), K.to(dtype))[0]
'''
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


def points_in_process(definition: Assignment, names: Mapping[str, Any], seed: int) -> dict[str, float]:
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
    assert definition.from_scratch == {"corr2d_multi_in", "corr2d_multi_in_out"}
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
    X = torch.tensor([[[0.0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]])
    K = torch.tensor([[[0.0, 1], [2, 3]], [[1.0, 2], [3, 4]]])
    assert names["corr2d_multi_in"](X, K).tolist() == [[56, 72], [104, 120]]
    assert names["corr2d_multi_in_out"](X, torch.stack((K, K + 1, K + 2))).shape == (3, 2, 2)


# ---------------------------------------------------------------- in-process, several seeds

@pytest.mark.parametrize("seed", SEEDS)
def test_every_test_passes_on_the_solution(definition: Assignment, seed: int) -> None:
    points = points_in_process(definition, namespace(), seed)
    assert points["failed"] == set()


@pytest.mark.parametrize("seed", SEEDS)
def test_seeds_double_loop_corr2d_underneath_still_passes(definition: Assignment, seed: int) -> None:
    points = points_in_process(definition, namespace(SEEDS_DOUBLE_LOOP_CORR2D), seed)
    assert points["failed"] == set()


@pytest.mark.parametrize("seed", SEEDS)
def test_mean_over_channels_fails_corr2d_multi_in_and_what_builds_on_it(definition: Assignment, seed: int) -> None:
    points = points_in_process(definition, namespace(MEAN_OVER_CHANNELS), seed)
    assert 0 < points["corr2d_multi_in"] < full(definition, "corr2d_multi_in")
    assert {"corr2d_multi_in_two_channel_example", "corr2d_multi_in_matches_reference_random_channels",
            "corr2d_multi_in_is_sum_of_single_channel_results"} <= points["failed"]
    # corr2d_multi_in_out is built on corr2d_multi_in (output channel o is corr2d_multi_in(X, K[o])), so it is wrong too.
    assert 0 < points["corr2d_multi_in_out"] < full(definition, "corr2d_multi_in_out")
    assert points["corr2d_multi_in_out_1x1"] == full(definition, "corr2d_multi_in_out_1x1")


@pytest.mark.parametrize("seed", SEEDS)
def test_stacking_along_the_wrong_axis_fails_only_corr2d_multi_in_out(definition: Assignment, seed: int) -> None:
    points = points_in_process(definition, namespace(STACKED_ALONG_WRONG_AXIS), seed)
    assert 0 < points["corr2d_multi_in_out"] < full(definition, "corr2d_multi_in_out") / 2
    assert "corr2d_multi_in_out_rejects_mismatched_channels" not in points["failed"]
    for function in ("corr2d_multi_in", "corr2d_multi_in_out_1x1"):
        assert points[function] == full(definition, function)


@pytest.mark.parametrize("seed", SEEDS)
def test_per_pixel_loop_1x1_fails_only_the_scaling_test(definition: Assignment, seed: int) -> None:
    points = points_in_process(definition, namespace(PER_PIXEL_LOOP_1X1), seed)
    assert points["failed"] == {"one_by_one_scales_like_one_matmul"}


def test_library_conv2d_is_seen_by_the_dispatcher_watch(definition: Assignment) -> None:
    student = local_student(namespace(LIBRARY_CONV2D), from_scratch=definition.from_scratch)
    student.corr2d_multi_in_out(torch.ones(2, 4, 4), torch.ones(3, 2, 2, 2))
    student.corr2d_multi_in(torch.ones(2, 4, 4), torch.ones(2, 2, 2))
    assert set(student.library_convolutions) == {"corr2d_multi_in_out"}


def test_hidden_tests_draw_new_inputs_from_the_seed(definition: Assignment) -> None:
    """Different seeds, different inputs: the float64 test's result changes with the seed."""
    seen = []

    def spy(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
        seen.append(X.sum().item())
        return names["corr2d_multi_in"](X, K)

    names = namespace()
    student = local_student({"corr2d_multi_in": spy})
    test = next(t for t in definition.tests if t.name == "corr2d_multi_in_keeps_float64")
    for seed in (1, 2):
        assert run_test(test, student, seed).status == "passed"
    assert len(seen) == 2 and seen[0] != seen[1]


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


def test_mean_over_channels_loses_corr2d_multi_in_points(make_notebook: MakeNotebook, zygote: Zygote,
                                                        definition: Assignment) -> None:
    scores = per_function(grade_with(make_notebook, zygote, MEAN_OVER_CHANNELS))
    assert 0 < scores["corr2d_multi_in"] < full(definition, "corr2d_multi_in")
    # Built on the broken corr2d_multi_in, the solution's corr2d_multi_in_out is wrong too; the 1x1 is not.
    assert 0 < scores["corr2d_multi_in_out"] < full(definition, "corr2d_multi_in_out")
    assert scores["corr2d_multi_in_out_1x1"] == full(definition, "corr2d_multi_in_out_1x1")


def test_stacking_along_the_wrong_axis_loses_only_corr2d_multi_in_out_points(
        make_notebook: MakeNotebook, zygote: Zygote, definition: Assignment) -> None:
    scores = per_function(grade_with(make_notebook, zygote, STACKED_ALONG_WRONG_AXIS))
    assert 0 < scores["corr2d_multi_in_out"] < full(definition, "corr2d_multi_in_out")
    assert scores["corr2d_multi_in"] == full(definition, "corr2d_multi_in")
    assert scores["corr2d_multi_in_out_1x1"] == full(definition, "corr2d_multi_in_out_1x1")


def test_per_pixel_loop_1x1_loses_only_the_scaling_points(make_notebook: MakeNotebook, zygote: Zygote) -> None:
    result = grade_with(make_notebook, zygote, PER_PIXEL_LOOP_1X1)
    per_function(result)
    lost = {t.name: t.max_score - t.score for t in result.tests if t.score < t.max_score}
    assert lost == {"one_by_one_scales_like_one_matmul": 8.0}
    scaling = next(t for t in result.tests if t.name == "one_by_one_scales_like_one_matmul")
    assert "matrix multiplication" in scaling.feedback and "grow" in scaling.detail


def test_library_conv2d_in_corr2d_multi_in_out_scores_zero_for_it_only(
        make_notebook: MakeNotebook, zygote: Zygote, definition: Assignment) -> None:
    result = grade_with(make_notebook, zygote, LIBRARY_CONV2D)
    scores = per_function(result)
    assert scores == {"corr2d_multi_in": full(definition, "corr2d_multi_in"), "corr2d_multi_in_out": 0.0,
                      "corr2d_multi_in_out_1x1": full(definition, "corr2d_multi_in_out_1x1")}
    assert set(result.library_convolutions) == {"corr2d_multi_in_out"}
    assert all("library convolution" in t.feedback for t in result.tests if t.function == "corr2d_multi_in_out")
