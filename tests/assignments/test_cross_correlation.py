"""Self-checks of the `cross_correlation` assignment (2D cross-correlation and the convolutional layer).

Two levels:
- in-process (fast): the public and hidden tests run through `local_student`
  against the solved notebook and against realistic wrong versions, for
  several seeds, so that no pass or failure depends on lucky inputs;
- end to end: `grade()` on the solved notebook, the student release, and the
  wrong submissions as notebooks (the solution's cells plus one cell that
  redefines one function with a realistic bug; the last definition wins).

`Conv2D.forward` calls `corr2d`, so a wrong `corr2d` also costs `Conv2D`
points; `horizontal_edge_kernel` and `learn_kernel` are graded with the
reference's `corr2d` and `nn.Conv2d`, so they never pay for `corr2d`'s bugs.
"""

from __future__ import annotations

import ast
import contextlib
import io
import time
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

ASSIGNMENT = "cross_correlation"
ASSIGNMENTS = Path(__file__).resolve().parents[2] / "assignments"
NOTEBOOK = ASSIGNMENTS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
FUNCTIONS = ("corr2d", "Conv2D", "horizontal_edge_kernel", "learn_kernel")
SEEDS = (0, 1, 2)
FAST = Limits(call_timeout=5.0, cell_timeout=20.0, budget=120.0)

# ---------------------------------------------------------------- realistic wrong submissions

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
OFF_BY_ONE_CORR2D = '''
def corr2d(X, K):
    dtype = torch.promote_types(X.dtype, K.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    X, K = X.to(dtype), K.to(dtype)
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=dtype)
    for i in range(X.shape[0] - h):          # should be X.shape[0] - h + 1
        for j in range(X.shape[1] - w):      # should be X.shape[1] - w + 1
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
'''
CONVOLUTION_INSTEAD_OF_CROSS_CORRELATION = '''
def corr2d(X, K):
    dtype = torch.promote_types(X.dtype, K.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    X, K = X.to(dtype), K.to(dtype).flip(0, 1)   # the mathematical convolution flips the kernel
    k_h, k_w = K.shape
    h, w = X.shape[0] - k_h + 1, X.shape[1] - k_w + 1
    Y = torch.zeros((h, w), dtype=dtype)
    for a in range(k_h):
        for b in range(k_w):
            Y = Y + K[a, b] * X[a:a + h, b:b + w]
    return Y
'''
CONV2D_WITHOUT_BIAS = '''
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))

    def forward(self, x):
        return corr2d(x, self.weight)
'''
LIBRARY_CONV2D_CORR2D = '''
import torch.nn.functional as F
def corr2d(X, K):
    dtype = torch.promote_types(X.dtype, K.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    return F.conv2d(X.to(dtype)[None, None], K.to(dtype)[None, None])[0, 0]
'''
VERTICAL_EDGE_KERNEL_AS_HORIZONTAL = '''
def horizontal_edge_kernel():
    return torch.tensor([[1.0, -1.0]])
'''
SOBEL_HORIZONTAL_EDGE_KERNEL = '''
def horizontal_edge_kernel():
    return torch.tensor([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])
'''
LEARN_KERNEL_RETURNS_THE_4D_WEIGHT = '''
def learn_kernel(X, Y, kernel_size, lr=3e-2, num_epochs=10):
    conv2d = nn.Conv2d(1, 1, kernel_size=kernel_size, bias=False)
    X = X.float().reshape((1, 1) + X.shape)
    Y = Y.float().reshape((1, 1) + Y.shape)
    losses = []
    for i in range(num_epochs):
        l = ((conv2d(X) - Y) ** 2).sum()
        conv2d.zero_grad()
        l.backward()
        conv2d.weight.data[:] -= lr * conv2d.weight.grad
        losses.append(l.item())
    return conv2d.weight.data, losses          # (1, 1, k_h, k_w): the batch/channel axes are still there
'''
LEARN_KERNEL_IGNORES_LR = '''
def learn_kernel(X, Y, kernel_size, lr=3e-2, num_epochs=10):
    conv2d = nn.Conv2d(1, 1, kernel_size=kernel_size, bias=False)
    X = X.float().reshape((1, 1) + X.shape)
    Y = Y.float().reshape((1, 1) + Y.shape)
    losses = []
    for i in range(num_epochs):
        l = ((conv2d(X) - Y) ** 2).sum()
        conv2d.zero_grad()
        l.backward()
        conv2d.weight.data[:] -= 3e-2 * conv2d.weight.grad   # the seeds' rate, whatever lr says
        losses.append(l.item())
    return conv2d.weight.data.reshape(conv2d.kernel_size), losses
'''


# ---------------------------------------------------------------- fixtures and helpers

@pytest.fixture(scope="module")
def course() -> Iterator[None]:
    """The project's assignments and a fixed course secret, whatever other test modules set."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVGRADE_ASSIGNMENTS", str(ASSIGNMENTS))
        patch.setenv("CONVGRADE_SECRET", "tests-secret")
        yield


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """The in-process runs are many tiny tensor ops: threads only contend on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
    with contextlib.redirect_stdout(io.StringIO()):
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
    """Every graded name of the release is its signature, docstring and a NotImplementedError stub."""
    text = released.read_text()
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    stub = ["raise NotImplementedError('replace this line with your solution')"]
    bodies: dict[str, list[str]] = {}
    for cell in nbformat.read(released, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef) and node.name in FUNCTIONS:
                bodies[node.name] = _statements(node.body)
            elif isinstance(node, ast.ClassDef) and node.name in FUNCTIONS:
                for method in node.body:
                    if isinstance(method, ast.FunctionDef):
                        bodies[f"{node.name}.{method.name}"] = _statements(method.body)
    assert bodies == {"corr2d": stub, "horizontal_edge_kernel": stub, "learn_kernel": stub,
                      "Conv2D.__init__": ["super().__init__()"] + stub, "Conv2D.forward": stub}


def _statements(body: list[ast.stmt]) -> list[str]:
    return [ast.unparse(s) for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]


# ---------------------------------------------------------------- the definition itself

def test_points_total_100_with_most_of_them_hidden(definition: Assignment) -> None:
    assert definition.max_score == 100.0
    assert set(definition.functions) == set(FUNCTIONS)
    assert definition.from_scratch == {"corr2d"}
    hidden = sum(t.points for t in definition.tests if t.hidden)
    assert 70.0 <= hidden <= 80.0
    for function in FUNCTIONS:  # every name is graded by several tests, public and hidden
        tests = [t for t in definition.tests if t.function == function]
        assert len(tests) >= 4 and any(not t.hidden for t in tests) and any(t.hidden for t in tests)
        assert max(t.points for t in tests) < full(definition, function) / 2


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
    corr2d = names["corr2d"]
    assert corr2d(torch.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]]), torch.tensor([[0, 1], [2, 3]])).tolist() == \
        [[19, 25], [37, 43]]
    X = torch.ones(6, 8)
    X[:, 2:6] = 0
    assert corr2d(X, torch.tensor([[1.0, -1.0]]))[0].tolist() == [0, 1, 0, 0, 0, -1, 0]
    assert not corr2d(X.t(), torch.tensor([[1.0, -1.0]])).any()
    weight, losses = names["learn_kernel"](X, corr2d(X, torch.tensor([[1.0, -1.0]])), (1, 2), num_epochs=30)
    assert torch.allclose(weight, torch.tensor([[1.0, -1.0]]), atol=0.05) and len(losses) == 30


# ---------------------------------------------------------------- in-process, several seeds

@pytest.mark.parametrize("seed", SEEDS)
def test_every_test_passes_on_the_solution(definition: Assignment, seed: int) -> None:
    points = points_in_process(definition, namespace(), seed)
    assert points["failed"] == set()


@pytest.mark.parametrize("seed", SEEDS)
def test_seeds_double_loop_corr2d_passes_every_test_in_time(definition: Assignment, seed: int) -> None:
    names = namespace(SEEDS_DOUBLE_LOOP_CORR2D)
    student = local_student(names, from_scratch=definition.from_scratch)
    for index, test in enumerate(definition.tests):
        started = time.perf_counter()
        outcome = run_test(test, student, seed * 1000 + index)
        assert outcome.status == "passed", (test.name, outcome.message)
        # The brief aims at 0.3 s per test for a loop solution; allow for a busy machine.
        assert time.perf_counter() - started < 2.0, test.name


@pytest.mark.parametrize("seed", SEEDS)
def test_a_sobel_kernel_is_a_right_answer_too(definition: Assignment, seed: int) -> None:
    points = points_in_process(definition, namespace(SOBEL_HORIZONTAL_EDGE_KERNEL), seed)
    assert points["failed"] == set()


@pytest.mark.parametrize("seed", SEEDS)
def test_off_by_one_corr2d_loses_corr2d_points_and_spares_the_edge_kernel_and_learn_kernel(
        definition: Assignment, seed: int) -> None:
    points = points_in_process(definition, namespace(OFF_BY_ONE_CORR2D), seed)
    assert 0 < points["corr2d"] < full(definition, "corr2d")
    assert {"corr2d_lecture_example", "corr2d_matches_reference_random_shapes",
            "corr2d_delta_kernel_picks_a_window"} <= points["failed"]
    assert "corr2d_output_shape_law" not in points["failed"]       # the shape is right, the last row/column is not
    assert points["Conv2D"] < full(definition, "Conv2D")             # its forward calls the broken corr2d
    for function in ("horizontal_edge_kernel", "learn_kernel"):
        assert points[function] == full(definition, function)


@pytest.mark.parametrize("seed", SEEDS)
def test_convolution_instead_of_cross_correlation_loses_corr2d_points(definition: Assignment, seed: int) -> None:
    points = points_in_process(definition, namespace(CONVOLUTION_INSTEAD_OF_CROSS_CORRELATION), seed)
    assert 0 < points["corr2d"] < full(definition, "corr2d") / 2
    assert {"corr2d_lecture_example", "corr2d_delta_kernel_picks_a_window"} <= points["failed"]
    assert {"corr2d_linear_in_X", "corr2d_linear_in_K", "corr2d_translation_equivariance"}.isdisjoint(points["failed"])
    assert points["Conv2D"] < full(definition, "Conv2D")
    for function in ("horizontal_edge_kernel", "learn_kernel"):
        assert points[function] == full(definition, function)


@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d_without_bias_loses_only_conv2d_points(definition: Assignment, seed: int) -> None:
    points = points_in_process(definition, namespace(CONV2D_WITHOUT_BIAS), seed)
    assert 0 < points["Conv2D"] < full(definition, "Conv2D") / 2
    assert {"conv2d_parameters", "conv2d_parameter_names_and_shapes", "conv2d_forward_adds_its_bias",
            "conv2d_trains_to_a_random_kernel"} <= points["failed"]
    for function in ("corr2d", "horizontal_edge_kernel", "learn_kernel"):
        assert points[function] == full(definition, function)


@pytest.mark.parametrize("seed", SEEDS)
def test_vertical_edge_kernel_loses_only_horizontal_edge_kernel_points(definition: Assignment, seed: int) -> None:
    points = points_in_process(definition, namespace(VERTICAL_EDGE_KERNEL_AS_HORIZONTAL), seed)
    assert points["horizontal_edge_kernel"] < full(definition, "horizontal_edge_kernel") / 2
    assert {"horizontal_edge_kernel_silent_without_row_changes", "horizontal_edge_kernel_finds_row_steps"} <= \
        points["failed"]
    for function in ("corr2d", "Conv2D", "learn_kernel"):
        assert points[function] == full(definition, function)


@pytest.mark.parametrize("seed", SEEDS)
def test_learn_kernel_returning_the_4d_weight_loses_only_the_shape_points(definition: Assignment, seed: int) -> None:
    points = points_in_process(definition, namespace(LEARN_KERNEL_RETURNS_THE_4D_WEIGHT), seed)
    assert points["failed"] == {"learn_kernel_lecture_example", "learn_kernel_returns_weight_and_losses"}


@pytest.mark.parametrize("seed", SEEDS)
def test_learn_kernel_ignoring_lr_loses_only_learn_kernel_points(definition: Assignment, seed: int) -> None:
    points = points_in_process(definition, namespace(LEARN_KERNEL_IGNORES_LR), seed)
    assert 0 < points["learn_kernel"] < full(definition, "learn_kernel")
    assert "learn_kernel_zero_learning_rate_keeps_the_kernel" in points["failed"]
    for function in ("corr2d", "Conv2D", "horizontal_edge_kernel"):
        assert points[function] == full(definition, function)


def test_library_conv2d_in_corr2d_is_seen_by_the_dispatcher_watch(definition: Assignment) -> None:
    student = local_student(namespace(LIBRARY_CONV2D_CORR2D), from_scratch=definition.from_scratch)
    student.corr2d(torch.ones(4, 5), torch.ones(2, 2))
    student.module("Conv2D", (2, 2), inputs=[torch.ones(4, 5)])
    student.call("learn_kernel", torch.ones(4, 5), torch.ones(3, 4), (2, 2), num_epochs=2)
    assert set(student.library_convolutions) == {"corr2d"}


def test_hidden_tests_draw_new_inputs_from_the_seed(definition: Assignment) -> None:
    """Different seeds, different inputs: the float64 test's input changes with the seed."""
    seen = []

    def spy(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
        seen.append(X.sum().item())
        return names["corr2d"](X, K)

    names = namespace()
    student = local_student({"corr2d": spy})
    test = next(t for t in definition.tests if t.name == "corr2d_float64_stays_float64")
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


def test_off_by_one_corr2d_loses_corr2d_points_but_not_edge_kernel_or_learn_kernel_points(
        make_notebook: MakeNotebook, zygote: Zygote, definition: Assignment) -> None:
    scores = per_function(grade_with(make_notebook, zygote, OFF_BY_ONE_CORR2D))
    assert 0 < scores["corr2d"] < full(definition, "corr2d")
    assert scores["Conv2D"] < full(definition, "Conv2D")   # built on the broken corr2d
    assert scores["horizontal_edge_kernel"] == full(definition, "horizontal_edge_kernel")
    assert scores["learn_kernel"] == full(definition, "learn_kernel")


def test_conv2d_without_bias_loses_only_conv2d_points(make_notebook: MakeNotebook, zygote: Zygote,
                                                      definition: Assignment) -> None:
    scores = per_function(grade_with(make_notebook, zygote, CONV2D_WITHOUT_BIAS))
    assert 0 < scores["Conv2D"] < full(definition, "Conv2D")
    for function in ("corr2d", "horizontal_edge_kernel", "learn_kernel"):
        assert scores[function] == full(definition, function)


def test_vertical_edge_kernel_loses_only_horizontal_edge_kernel_points(
        make_notebook: MakeNotebook, zygote: Zygote, definition: Assignment) -> None:
    scores = per_function(grade_with(make_notebook, zygote, VERTICAL_EDGE_KERNEL_AS_HORIZONTAL))
    assert scores["horizontal_edge_kernel"] < full(definition, "horizontal_edge_kernel")
    for function in ("corr2d", "Conv2D", "learn_kernel"):
        assert scores[function] == full(definition, function)


def test_library_conv2d_in_corr2d_scores_zero_for_corr2d_only(
        make_notebook: MakeNotebook, zygote: Zygote, definition: Assignment) -> None:
    result = grade_with(make_notebook, zygote, LIBRARY_CONV2D_CORR2D)
    scores = per_function(result)
    # Conv2D, built on this corr2d, computes the right values and is not itself from scratch.
    assert scores == {"corr2d": 0.0, "Conv2D": full(definition, "Conv2D"),
                      "horizontal_edge_kernel": full(definition, "horizontal_edge_kernel"),
                      "learn_kernel": full(definition, "learn_kernel")}
    assert set(result.library_convolutions) == {"corr2d"}
    assert all("library convolution" in t.feedback for t in result.tests if t.function == "corr2d")
