"""Self-checks of the `cross_correlation` assignment (2D cross-correlation and the convolutional layer).

The two levels of checks (in process over several seeds; end to end through
`grade()`) are described, and their shared helpers kept, in `solutions.py`.

`Conv2D.forward` calls `corr2d`, so a wrong `corr2d` also costs `Conv2D`
points; `horizontal_edge_kernel` and `learn_kernel` are graded with the
reference's `corr2d` and `nn.Conv2d`, so they never pay for `corr2d`'s bugs.

The grading contract of issue 10 is checked here too: the seeds' code (the
accepted notebooks in `accepted/`) scores 100, what it lacks is a 0-point tip,
and answers that do nothing score at most 10.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from grader.course.assignment import Assignment
from grader.grading.student import local_student
from grader.session import Grader
from tests.assignments.solutions import (
    FAST,
    SEED_CASES,
    SEEDS,
    SEEDS_DOUBLE_LOOP_CORR2D,
    STUB,
    accepted_cells,
    accepted_namespace,
    accepted_notebooks,
    assert_accepted_notebooks_are_clean,
    assert_accepted_scores_full_marks,
    assert_every_test_passes_in_time,
    assert_full_marks,
    assert_inputs_change_with_the_seed,
    assert_notebook_is_clean,
    assert_points_mostly_hidden,
    assert_release_scores_zero,
    full,
    grade_with,
    points_per_function,
    scores_per_function,
    solution_namespace,
    tips_failed_with_full_marks,
)
from tests.helpers import MakeNotebook

ASSIGNMENT = "cross_correlation"
FUNCTIONS = ("corr2d", "Conv2D", "horizontal_edge_kernel", "learn_kernel")
# What the release leaves of each graded body: `Conv2D` keeps its `super().__init__()`.
STUBS = {"corr2d": [STUB], "horizontal_edge_kernel": [STUB], "learn_kernel": [STUB],
         "Conv2D.__init__": ["super().__init__()", STUB], "Conv2D.forward": [STUB]}

ACCEPTED = accepted_notebooks(ASSIGNMENT)
# What the seeds' code lacks is not graded, only shown as zero-point tips (issue 10).
TIPS = {"corr2d_float64_stays_float64", "learn_kernel_integer_input"}

pytestmark = pytest.mark.usefixtures("one_thread")


# Seed 000's Conv2D as the lecture notes print it: `torcj.rand`, a NameError when the layer is built.
SEEDS_CELLS = accepted_cells(ASSIGNMENT, "seeds")
TORCJ_CELLS = tuple(source.replace("nn.Parameter(torch.rand(kernel_size))", "nn.Parameter(torcj.rand(kernel_size))")
                    for source in SEEDS_CELLS)
assert sum(a != b for a, b in zip(SEEDS_CELLS, TORCJ_CELLS, strict=False)) == 1

# Seed 002's Conv2D: randn weight and randn bias (seed 003's, in seeds.ipynb, is rand and zeros).
SEED_002_CONV2D = '''
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        # super(Conv2D, self).__init__()
        super().__init__() # super()是父类，这样写与上一句等同
        self.weight = nn.Parameter(torch.randn(kernel_size))
        self.bias = nn.Parameter(torch.randn(1))

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias
'''  # noqa: RUF001 - the seed's own comment, fullwidth comma and all: the student's code verbatim

# Answers that do nothing, crafted against this assignment's tests (ones, losses that fall) on top of
# grade audit's generic ones (grader.course.do_nothing): at most 10 points (issue 10).
_DO_NOTHING_CONV2D = '''
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        shape = (x.shape[0] - self.weight.shape[0] + 1, x.shape[1] - self.weight.shape[1] + 1)
        return {output}
'''
_DO_NOTHING = '''
def corr2d(X, K):
    shape = (X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1)
    return {output}

def horizontal_edge_kernel():
    shape = {kernel_shape}
    return {kernel}

def learn_kernel(X, Y, kernel_size, lr=3e-2, num_epochs=10):
    shape = kernel_size
    return {weight}, {losses}
'''
DO_NOTHING = {
    name: _DO_NOTHING.format(**parts) + _DO_NOTHING_CONV2D.format(output=parts["module_output"])
    for name, parts in {
        "zeros": {"output": "torch.zeros(shape)", "kernel_shape": "(2, 1)", "kernel": "torch.zeros(shape)",
                      "weight": "torch.zeros(shape)", "losses": "[0.0] * num_epochs",
                      "module_output": "torch.zeros(shape)"},
        "constant": {"output": "torch.full(shape, 0.5)", "kernel_shape": "(2, 1)", "kernel": "torch.full(shape, 0.5)",
                         "weight": "torch.full(shape, 0.5)", "losses": "[0.5] * num_epochs",
                         "module_output": "torch.full(shape, 0.5)"},
        "ones_3x3": {"output": "torch.ones(shape)", "kernel_shape": "(3, 3)", "kernel": "torch.ones(shape)",
                         "weight": "torch.ones(shape)", "losses": "[1.0] * num_epochs",
                         "module_output": "torch.ones(shape)"},
        "top_left_window": {"output": "X[:shape[0], :shape[1]].float().clone()", "kernel_shape": "(2, 1)",
                                "kernel": "torch.zeros(shape)", "weight": "X[:shape[0], :shape[1]].float().clone()",
                                "losses": "[float(v) for v in Y.reshape(-1)[:num_epochs]]",
                                "module_output": "x[:shape[0], :shape[1]].clone()"},
        "random": {"output": "torch.rand(shape)", "kernel_shape": "(2, 1)", "kernel": "torch.rand(shape)",
                       "weight": "torch.rand(shape)", "losses": "sorted(torch.rand(num_epochs).tolist(), reverse=True)",
                       "module_output": "torch.rand(shape)"},
    }.items()
}

# ---------------------------------------------------------------- realistic wrong submissions

# The seeds' double loop, stopping one window short on each axis.
OFF_BY_ONE_CORR2D = SEEDS_DOUBLE_LOOP_CORR2D.replace(
    "for i in range(Y.shape[0]):", "for i in range(X.shape[0] - h):          # should be X.shape[0] - h + 1").replace(
    "for j in range(Y.shape[1]):", "for j in range(X.shape[1] - w):      # should be X.shape[1] - w + 1")
assert OFF_BY_ONE_CORR2D.count("should be") == 2
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
# The seeds' learn_kernel loop; each wrong version below changes one line of it.
_LEARN_KERNEL = '''
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
    return conv2d.weight.data.reshape(conv2d.kernel_size), losses
'''
LEARN_KERNEL_RETURNS_THE_4D_WEIGHT = _LEARN_KERNEL.replace(
    "return conv2d.weight.data.reshape(conv2d.kernel_size), losses",
    "return conv2d.weight.data, losses          # (1, 1, k_h, k_w): the batch/channel axes are still there")
LEARN_KERNEL_IGNORES_LR = _LEARN_KERNEL.replace(
    "conv2d.weight.data[:] -= lr * conv2d.weight.grad",
    "conv2d.weight.data[:] -= 3e-2 * conv2d.weight.grad   # the seeds' rate, whatever lr says")
assert LEARN_KERNEL_RETURNS_THE_4D_WEIGHT != _LEARN_KERNEL != LEARN_KERNEL_IGNORES_LR


# ---------------------------------------------------------------- the definition itself

def test_points_total_100_with_most_of_them_hidden(definition: Assignment) -> None:
    assert_points_mostly_hidden(definition, FUNCTIONS, {"corr2d"}, one_in=2)


def test_the_notebook_imports_only_torch_numpy_math_and_stores_no_outputs() -> None:
    assert_notebook_is_clean(ASSIGNMENT)


def test_the_lecture_examples_run_in_the_solved_notebook() -> None:
    names = solution_namespace(ASSIGNMENT)
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

@pytest.mark.parametrize("seed", SEED_CASES)
def test_every_test_passes_on_the_solution(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT), seed)
    assert points["failed"] == set()


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEED_CASES)
def test_seeds_double_loop_corr2d_passes_every_test_in_time(definition: Assignment, seed: int) -> None:
    assert_every_test_passes_in_time(definition, solution_namespace(ASSIGNMENT, SEEDS_DOUBLE_LOOP_CORR2D), seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEED_CASES)
def test_the_seeds_code_fails_only_tips(definition: Assignment, seed: int) -> None:
    """Seed 002's corr2d (X.float()), seed 003's Conv2D, the seeds' learn_kernel loop: the model answer, full marks."""
    # float64 comes back float32; nn.Conv2d refuses integers
    assert tips_failed_with_full_marks(definition, accepted_namespace(ASSIGNMENT, "seeds"), seed) == TIPS


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEED_CASES)
def test_seeds_000_and_003_code_fails_only_tips(definition: Assignment, seed: int) -> None:
    """Their corr2d has no .float(): integers are summed as integers into torch.zeros' float32 output."""
    assert tips_failed_with_full_marks(definition, accepted_namespace(ASSIGNMENT, "seeds_003"), seed) == TIPS


@pytest.mark.parametrize("seed", SEED_CASES)
def test_seed_002s_randn_initialised_conv2d_is_right_too(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, accepted_namespace(ASSIGNMENT, "seeds", SEED_002_CONV2D), seed)
    assert points["Conv2D"] == full(definition, "Conv2D")


def test_the_tips_are_worth_nothing(definition: Assignment) -> None:
    assert {t.name for t in definition.tests if t.points == 0} == TIPS


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DO_NOTHING))
def test_do_nothing_answers_score_at_most_10(definition: Assignment, name: str) -> None:
    for seed in SEEDS:
        points = points_per_function(definition, solution_namespace(ASSIGNMENT, DO_NOTHING[name]), seed)
        assert sum(points[f] for f in FUNCTIONS) <= 10, points["failed"]
        assert points["corr2d"] == 0 and points["horizontal_edge_kernel"] <= 2


@pytest.mark.parametrize("seed", SEED_CASES)
def test_a_sobel_kernel_is_a_right_answer_too(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, SOBEL_HORIZONTAL_EDGE_KERNEL), seed)
    assert points["failed"] == set()


@pytest.mark.parametrize("seed", SEED_CASES)
def test_off_by_one_corr2d_loses_corr2d_points_and_spares_the_edge_kernel_and_learn_kernel(
        definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, OFF_BY_ONE_CORR2D), seed)
    assert points["corr2d"] < full(definition, "corr2d") / 2
    # The shape is right, the last row/column is not: the shape tests check values too.
    assert {"corr2d_lecture_example", "corr2d_matches_reference_random_shapes", "corr2d_delta_kernel_picks_a_window",
            "corr2d_output_shape_law", "corr2d_output_shapes"} <= points["failed"]
    assert points["Conv2D"] < full(definition, "Conv2D")             # its forward calls the broken corr2d
    for function in ("horizontal_edge_kernel", "learn_kernel"):
        assert points[function] == full(definition, function)


@pytest.mark.parametrize("seed", SEED_CASES)
def test_convolution_instead_of_cross_correlation_loses_corr2d_points(definition: Assignment, seed: int) -> None:
    names = solution_namespace(ASSIGNMENT, CONVOLUTION_INSTEAD_OF_CROSS_CORRELATION)
    points = points_per_function(definition, names, seed)
    assert points["corr2d"] < full(definition, "corr2d") / 4
    assert {"corr2d_lecture_example", "corr2d_delta_kernel_picks_a_window"} <= points["failed"]
    # Linear and shift-equivariant, but not the cross-correlation: the property tests check values too.
    assert {"corr2d_linear_in_X", "corr2d_linear_in_K", "corr2d_translation_equivariance"} <= points["failed"]
    assert points["Conv2D"] < full(definition, "Conv2D")
    for function in ("horizontal_edge_kernel", "learn_kernel"):
        assert points[function] == full(definition, function)


@pytest.mark.parametrize("seed", SEED_CASES)
def test_conv2d_without_bias_loses_only_conv2d_points(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, CONV2D_WITHOUT_BIAS), seed)
    assert 0 < points["Conv2D"] < full(definition, "Conv2D") / 2
    assert {"conv2d_parameters", "conv2d_parameter_names_and_shapes", "conv2d_forward_adds_its_bias",
            "conv2d_trains_to_a_random_kernel"} <= points["failed"]
    for function in ("corr2d", "horizontal_edge_kernel", "learn_kernel"):
        assert points[function] == full(definition, function)


@pytest.mark.parametrize("seed", SEED_CASES)
def test_vertical_edge_kernel_loses_only_horizontal_edge_kernel_points(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, VERTICAL_EDGE_KERNEL_AS_HORIZONTAL), seed)
    assert points["horizontal_edge_kernel"] < full(definition, "horizontal_edge_kernel") / 2
    assert {"horizontal_edge_kernel_silent_without_row_changes", "horizontal_edge_kernel_finds_row_steps"} <= \
        points["failed"]
    for function in ("corr2d", "Conv2D", "learn_kernel"):
        assert points[function] == full(definition, function)


@pytest.mark.parametrize("seed", SEED_CASES)
def test_learn_kernel_returning_the_4d_weight_loses_only_the_shape_points(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, LEARN_KERNEL_RETURNS_THE_4D_WEIGHT), seed)
    assert points["failed"] == {"learn_kernel_lecture_example", "learn_kernel_returns_weight_and_losses"}


@pytest.mark.parametrize("seed", SEED_CASES)
def test_learn_kernel_ignoring_lr_loses_only_learn_kernel_points(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, LEARN_KERNEL_IGNORES_LR), seed)
    assert 0 < points["learn_kernel"] < full(definition, "learn_kernel")
    assert "learn_kernel_zero_learning_rate_keeps_the_kernel" in points["failed"]
    for function in ("corr2d", "Conv2D", "horizontal_edge_kernel"):
        assert points[function] == full(definition, function)


def test_library_conv2d_in_corr2d_is_seen_by_the_dispatcher_watch(definition: Assignment) -> None:
    student = local_student(solution_namespace(ASSIGNMENT, LIBRARY_CONV2D_CORR2D), from_scratch=definition.from_scratch)
    student.corr2d(torch.ones(4, 5), torch.ones(2, 2))
    student.module("Conv2D", (2, 2), inputs=[torch.ones(4, 5)])
    student.call("learn_kernel", torch.ones(4, 5), torch.ones(3, 4), (2, 2), num_epochs=2)
    assert set(student.library_convolutions) == {"corr2d"}


def test_hidden_tests_draw_new_inputs_from_the_seed(definition: Assignment) -> None:
    """Different seeds, different inputs: the integer-input test's input changes with the seed."""
    assert_inputs_change_with_the_seed(definition, ASSIGNMENT, "corr2d", "corr2d_integer_input")


# ---------------------------------------------------------------- end to end, through grade()

@pytest.mark.slow
def test_the_solved_notebook_scores_full_marks(grader: Grader) -> None:
    assert_full_marks(grader, ASSIGNMENT)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", ACCEPTED, ids=lambda path: path.stem)
def test_every_accepted_notebook_scores_full_marks(grader: Grader, notebook: Path) -> None:
    assert_accepted_scores_full_marks(grader, notebook, ASSIGNMENT)


def test_the_accepted_notebooks_are_there_and_clean() -> None:
    assert_accepted_notebooks_are_clean(ASSIGNMENT, {"seeds", "seeds_003", "vectorized", "shift_and_add"})


@pytest.mark.slow
def test_seed_000s_torcj_typo_loses_exactly_conv2ds_points(make_notebook: MakeNotebook, grader: Grader,
                                                           definition: Assignment) -> None:
    """Seed 000 prints `torcj.rand`: Conv2D cannot be built, and nothing else is touched."""
    scores = scores_per_function(grader.grade(make_notebook(*TORCJ_CELLS, assignment=ASSIGNMENT), limits=FAST))
    assert scores == {function: 0.0 if function == "Conv2D" else full(definition, function)
                      for function in FUNCTIONS}


@pytest.mark.slow
def test_the_student_release_scores_zero_without_grader_errors(grader: Grader, tmp_path: Path) -> None:
    assert_release_scores_zero(grader, tmp_path, ASSIGNMENT, FUNCTIONS, STUBS)


@pytest.mark.slow
def test_off_by_one_corr2d_loses_corr2d_points_but_not_edge_kernel_or_learn_kernel_points(
        make_notebook: MakeNotebook, grader: Grader, definition: Assignment) -> None:
    scores = scores_per_function(grade_with(make_notebook, grader, ASSIGNMENT, OFF_BY_ONE_CORR2D))
    assert scores["corr2d"] < full(definition, "corr2d") / 2
    assert scores["Conv2D"] < full(definition, "Conv2D")   # built on the broken corr2d
    assert scores["horizontal_edge_kernel"] == full(definition, "horizontal_edge_kernel")
    assert scores["learn_kernel"] == full(definition, "learn_kernel")


@pytest.mark.slow
def test_conv2d_without_bias_loses_only_conv2d_points_when_graded(make_notebook: MakeNotebook, grader: Grader,
                                                      definition: Assignment) -> None:
    scores = scores_per_function(grade_with(make_notebook, grader, ASSIGNMENT, CONV2D_WITHOUT_BIAS))
    assert 0 < scores["Conv2D"] < full(definition, "Conv2D")
    for function in ("corr2d", "horizontal_edge_kernel", "learn_kernel"):
        assert scores[function] == full(definition, function)


@pytest.mark.slow
def test_vertical_edge_kernel_loses_only_horizontal_edge_kernel_points_when_graded(
        make_notebook: MakeNotebook, grader: Grader, definition: Assignment) -> None:
    scores = scores_per_function(grade_with(make_notebook, grader, ASSIGNMENT, VERTICAL_EDGE_KERNEL_AS_HORIZONTAL))
    assert scores["horizontal_edge_kernel"] < full(definition, "horizontal_edge_kernel")
    for function in ("corr2d", "Conv2D", "learn_kernel"):
        assert scores[function] == full(definition, function)


@pytest.mark.slow
def test_library_conv2d_in_corr2d_scores_zero_for_corr2d_only(
        make_notebook: MakeNotebook, grader: Grader, definition: Assignment) -> None:
    result = grade_with(make_notebook, grader, ASSIGNMENT, LIBRARY_CONV2D_CORR2D)
    scores = scores_per_function(result)
    # Conv2D, built on this corr2d, computes the right values and is not itself from scratch.
    assert scores == {"corr2d": 0.0, "Conv2D": full(definition, "Conv2D"),
                      "horizontal_edge_kernel": full(definition, "horizontal_edge_kernel"),
                      "learn_kernel": full(definition, "learn_kernel")}
    assert set(result.library_convolutions) == {"corr2d"}
    assert all("library convolution" in t.feedback for t in result.tests if t.function == "corr2d")
