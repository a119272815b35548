"""Self-checks of the `pooling` assignment (d2l 6.5: max and average pooling, padding, stride, channels).

The two levels of checks (in process over several seeds; end to end through
`grade()`) are described, and their shared helpers kept, in `solutions.py`.

There is one graded name, `pool2d`, from scratch with library pooling and
convolutions banned (`may_not_call = ["pooling", "convolution"]`): every bug
costs its points, and a library pooling or convolution call costs all of
them, while `unfold` does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from grader.course.assignment import Assignment
from grader.course.do_nothing import KINDS
from grader.grading.student import local_student
from grader.grading.testing import run_test
from grader.session import Grader
from tests.assignments.solutions import (
    SEED_CASES,
    SEEDS,
    accepted_namespace,
    accepted_notebooks,
    assert_accepted_notebooks_are_clean,
    assert_accepted_scores_full_marks,
    assert_every_test_passes_in_time,
    assert_full_marks,
    assert_notebook_is_clean,
    assert_points_mostly_hidden,
    assert_release_scores_zero,
    do_nothing_namespace,
    full,
    grade_with,
    points_per_function,
    scores_per_function,
    solution_cells,
    solution_namespace,
    tips_failed_with_full_marks,
)
from tests.helpers import MakeNotebook

pytestmark = pytest.mark.usefixtures("one_thread")

ASSIGNMENT = "pooling"
FUNCTIONS = ("pool2d",)
ACCEPTED = accepted_notebooks(ASSIGNMENT)
# What d2l's code lacks is not graded, only shown as zero-point tips.
TIPS = {"pool2d_rejects_an_unknown_mode", "pool2d_rejects_padding_over_half_the_window",
        "pool2d_rejects_stride_and_pool_size_0", "pool2d_integer_input", "pool2d_keeps_float64"}


# ---------------------------------------------------------------- realistic wrong submissions

def with_line(old: str, new: str) -> str:
    """The solved notebook's pool2d with one line replaced."""
    source = next(cell for cell in solution_cells(ASSIGNMENT) if "def pool2d" in cell)
    assert old in source, old
    return source.replace(old, new)


# d2l's first pool2d moves by one pixel: the default stride taken as 1, not the pool size.
STRIDE_1_BY_DEFAULT = with_line("        stride = (p_h, p_w)", "        stride = 1")
# count_include_pad=False: dividing by the input pixels the window covers.
AVG_WITHOUT_THE_PADDED_ZEROS = with_line(
    "                Y[..., i, j] = window.mean(dim=(-2, -1))",
    "                Y[..., i, j] = window.sum(dim=(-2, -1)) / "
    "X_pad[..., i * s_h:i * s_h + p_h, j * s_w:j * s_w + p_w].ne(0).sum(dim=(-2, -1)).clamp(min=1)")
# Zeros as max pooling's padding: a negative border becomes 0.
MAX_PADDED_WITH_ZEROS = with_line("    fill = float('-inf') if mode == 'max' else 0.0", "    fill = 0.0")
# The stride pair read as (width, height).
STRIDE_PAIR_SWAPPED = with_line("    s_h, s_w = (stride, stride) if isinstance(stride, int) else stride",
                                "    s_w, s_h = (stride, stride) if isinstance(stride, int) else stride")
# A last window that sticks out is kept, cut short (PyTorch's ceil_mode=True without its limit).
PARTIAL_WINDOWS_KEPT = with_line("    h = (n_h + 2 * pad_h - p_h) // s_h + 1",
                                 "    h = -(-(n_h + 2 * pad_h - p_h) // s_h) + 1")
# Only a plain 2D image: the channel axis is pooled as if it were the height.
ONLY_2D = '''
def pool2d(X, pool_size, mode='max', padding=0, stride=None):
    p_h, p_w = (pool_size, pool_size) if isinstance(pool_size, int) else pool_size
    s_h, s_w = (p_h, p_w) if stride is None else (stride, stride) if isinstance(stride, int) else stride
    pad_h, pad_w = (padding, padding) if isinstance(padding, int) else padding
    X = X.reshape(-1, X.shape[-1]).float()
    X_pad = torch.full((X.shape[0] + 2 * pad_h, X.shape[1] + 2 * pad_w), float('-inf') if mode == 'max' else 0.0)
    X_pad[pad_h:pad_h + X.shape[0], pad_w:pad_w + X.shape[1]] = X
    Y = torch.zeros((X_pad.shape[0] - p_h) // s_h + 1, (X_pad.shape[1] - p_w) // s_w + 1)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            window = X_pad[i * s_h:i * s_h + p_h, j * s_w:j * s_w + p_w]
            Y[i, j] = window.max() if mode == 'max' else window.mean()
    return Y
'''
LIBRARY_POOLING = {
    "F.max_pool2d": '''
import torch.nn.functional as F
def pool2d(X, pool_size, mode='max', padding=0, stride=None):
    pool = F.max_pool2d if mode == 'max' else F.avg_pool2d
    flat = X.reshape(-1, 1, *X.shape[-2:]).float()
    Y = pool(flat, pool_size, stride=stride, padding=padding)
    return Y.reshape(*X.shape[:-2], *Y.shape[-2:])
''',
    "nn.MaxPool2d": '''
from torch import nn
def pool2d(X, pool_size, mode='max', padding=0, stride=None):
    layer = (nn.MaxPool2d if mode == 'max' else nn.AvgPool2d)(pool_size, stride, padding)
    flat = X.reshape(-1, 1, *X.shape[-2:]).float()
    Y = layer(flat)
    return Y.reshape(*X.shape[:-2], *Y.shape[-2:])
''',
    "torch.max_pool2d": '''
def pool2d(X, pool_size, mode='max', padding=0, stride=None):
    pool = torch.max_pool2d if mode == 'max' else torch.nn.functional.avg_pool2d
    flat = X.reshape(-1, 1, *X.shape[-2:]).float()
    Y = pool(flat, pool_size, stride if stride is not None else pool_size, padding)
    return Y.reshape(*X.shape[:-2], *Y.shape[-2:])
''',
    "a getattr string": '''
import torch.nn.functional as F
def pool2d(X, pool_size, mode='max', padding=0, stride=None):
    flat = X.reshape(-1, 1, *X.shape[-2:]).float()
    pool = getattr(F, 'max_pool2d') if mode == 'max' else getattr(F, 'avg_pool2d')
    Y = pool(flat, pool_size, stride=stride, padding=padding)
    return Y.reshape(*X.shape[:-2], *Y.shape[-2:])
''',
    "a computed getattr string": '''
import torch.nn.functional as F
def pool2d(X, pool_size, mode='max', padding=0, stride=None):
    flat = X.reshape(-1, 1, *X.shape[-2:]).float()
    Y = getattr(F, mode + '_pool2d')(flat, pool_size, stride=stride, padding=padding)
    return Y.reshape(*X.shape[:-2], *Y.shape[-2:])
''',
}
# Adaptive pooling to the output's size is a pooling layer too, even where the sizes happen to match.
ADAPTIVE_POOLING = '''
import torch.nn.functional as F
def pool2d(X, pool_size, mode='max', padding=0, stride=None):
    out = pool2d_solution(X, pool_size, mode, padding, stride)
    flat = X.reshape(-1, 1, *X.shape[-2:]).float()
    adaptive = F.adaptive_max_pool2d if mode == 'max' else F.adaptive_avg_pool2d
    adaptive(flat, out.shape[-2:])
    return out
'''
# Average pooling as a convolution with a constant kernel (the notebook's exercise 1): no pooling from scratch.
AVG_BY_CONVOLUTION = '''
import torch.nn.functional as F
def pool2d(X, pool_size, mode='max', padding=0, stride=None):
    if mode == 'max':
        return pool2d_solution(X, pool_size, mode, padding, stride)
    p_h, p_w = (pool_size, pool_size) if isinstance(pool_size, int) else pool_size
    flat = X.reshape(-1, 1, *X.shape[-2:]).float()
    Y = F.conv2d(flat, torch.full((1, 1, p_h, p_w), 1 / (p_h * p_w)), stride=stride or (p_h, p_w), padding=padding)
    return Y.reshape(*X.shape[:-2], *Y.shape[-2:]).to(X.dtype if X.is_floating_point() else torch.float32)
'''
KEEP_THE_SOLUTION = "pool2d_solution = pool2d"
WRONG = {"stride 1 by default": STRIDE_1_BY_DEFAULT, "avg without the padded zeros": AVG_WITHOUT_THE_PADDED_ZEROS,
         "max padded with zeros": MAX_PADDED_WITH_ZEROS, "stride pair swapped": STRIDE_PAIR_SWAPPED,
         "partial windows kept": PARTIAL_WINDOWS_KEPT, "only 2D": ONLY_2D}


# ---------------------------------------------------------------- the definition itself

def test_points_total_100_with_most_of_them_hidden(definition: Assignment) -> None:
    assert_points_mostly_hidden(definition, FUNCTIONS, set(FUNCTIONS), one_in=10)
    assert definition.may_not_call == {"pool2d": frozenset({"pooling", "convolution"})}


def test_the_tips_are_worth_no_points_and_everything_else_is_graded(definition: Assignment) -> None:
    assert {t.name for t in definition.tests if t.points == 0} == TIPS


def test_the_notebook_imports_only_torch_numpy_math_and_stores_no_outputs() -> None:
    assert_notebook_is_clean(ASSIGNMENT)


def test_the_d2l_examples_run_in_the_solved_notebook() -> None:
    pool2d = solution_namespace(ASSIGNMENT)["pool2d"]
    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    assert pool2d(X, (2, 2), stride=1).tolist() == [[4, 5], [7, 8]]
    assert pool2d(X, (2, 2), "avg", stride=1).tolist() == [[2, 3], [5, 6]]
    X4 = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert pool2d(X4, 3).tolist() == [[[[10]]]]
    assert pool2d(X4, 3, padding=1, stride=2).tolist() == pool2d(X4, (2, 3), padding=(0, 1), stride=(2, 3)).tolist() \
        == [[[[5, 7], [13, 15]]]]
    assert pool2d(torch.cat((X4, X4 + 1), 1), 3, padding=1, stride=2).shape == (1, 2, 2, 2)


# ---------------------------------------------------------------- in-process, several seeds

@pytest.mark.parametrize("seed", SEED_CASES)
def test_every_test_passes_on_the_solution(definition: Assignment, seed: int) -> None:
    assert points_per_function(definition, solution_namespace(ASSIGNMENT), seed)["failed"] == set()


@pytest.mark.parametrize("seed", SEED_CASES)
def test_the_seeds_style_loop_passes_every_test_in_time(definition: Assignment, seed: int) -> None:
    """d2l's loop, extended without checks, in float32: full marks, failing tips only."""
    names = accepted_namespace(ASSIGNMENT, "seeds")
    failed = tips_failed_with_full_marks(definition, names, seed)
    assert {"pool2d_rejects_an_unknown_mode", "pool2d_keeps_float64"} <= failed


@pytest.mark.parametrize("seed", SEED_CASES)
def test_the_channel_loop_passes_every_test_in_time(definition: Assignment, seed: int) -> None:
    assert_every_test_passes_in_time(definition, accepted_namespace(ASSIGNMENT, "channel_loop"), seed)


@pytest.mark.parametrize("name", KINDS)
def test_do_nothing_answers_score_at_most_10(definition: Assignment, name: str) -> None:
    for seed in SEEDS:
        assert points_per_function(definition, do_nothing_namespace(definition, name), seed)["pool2d"] <= 10


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEED_CASES)
@pytest.mark.parametrize("bug", sorted(WRONG))
def test_a_real_bug_loses_some_but_not_all_points(definition: Assignment, bug: str, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, WRONG[bug]), seed)
    assert 0 < points["pool2d"] < full(definition, "pool2d") - 10, points["failed"]


def test_the_default_stride_bug_is_caught_by_the_default_stride_tests(definition: Assignment) -> None:
    failed = points_per_function(definition, solution_namespace(ASSIGNMENT, STRIDE_1_BY_DEFAULT), 0)["failed"]
    assert {"pool2d_default_stride_is_the_pool_size", "pool2d_max_matches_reference_default_stride",
            "pool2d_avg_matches_reference_default_stride"} <= failed
    assert "pool2d_explicit_stride_overlapping_and_with_gaps" not in failed


def test_the_padding_bugs_are_caught_by_the_padding_tests(definition: Assignment) -> None:
    avg = points_per_function(definition, solution_namespace(ASSIGNMENT, AVG_WITHOUT_THE_PADDED_ZEROS), 0)["failed"]
    assert "pool2d_avg_padding_counts_the_zeros" in avg and "pool2d_max_padding_is_never_the_maximum" not in avg
    zeros = points_per_function(definition, solution_namespace(ASSIGNMENT, MAX_PADDED_WITH_ZEROS), 0)["failed"]
    assert "pool2d_max_padding_is_never_the_maximum" in zeros and "pool2d_avg_padding_counts_the_zeros" not in zeros


@pytest.mark.parametrize("route", sorted(LIBRARY_POOLING))
def test_library_pooling_is_seen_by_the_dispatcher_watch(definition: Assignment, route: str) -> None:
    student = local_student(solution_namespace(ASSIGNMENT, LIBRARY_POOLING[route]),
                            from_scratch=definition.from_scratch, may_not_call=definition.may_not_call)
    Y = student.pool2d(torch.arange(32.0).reshape(2, 4, 4), 2)
    assert Y.shape == (2, 2, 2)
    (seen,) = student.library_convolutions.values()
    assert set(student.library_convolutions) == {"pool2d"} and all("pool" in op for op in seen)


def test_average_pooling_by_a_library_convolution_is_no_pooling_from_scratch(definition: Assignment) -> None:
    assert definition.may_not_call["pool2d"] == {"pooling", "convolution"}
    names = solution_namespace(ASSIGNMENT, KEEP_THE_SOLUTION, AVG_BY_CONVOLUTION)
    student = local_student(names, from_scratch=definition.from_scratch, may_not_call=definition.may_not_call)
    student.pool2d(torch.ones(1, 4, 4), 2, mode="avg")
    assert student.library_convolutions == {"pool2d": {"aten.convolution.default"}}


def test_hidden_tests_draw_new_inputs_from_the_seed(definition: Assignment) -> None:
    """Different seeds, different inputs (the shared helper expects one call per test; these make several)."""
    pool2d = solution_namespace(ASSIGNMENT)["pool2d"]
    test = next(t for t in definition.tests if t.name == "pool2d_matches_reference_on_random_settings")
    seen: dict[int, list[float]] = {1: [], 2: []}
    for seed, sums in seen.items():
        def spy(X: torch.Tensor, *args: Any, sums: list[float] = sums, **kwargs: Any) -> torch.Tensor:
            sums.append(X.sum().item())
            return pool2d(X, *args, **kwargs)

        assert run_test(test, local_student({"pool2d": spy}), seed).status == "passed"
    assert seen[1] and seen[2] and seen[1] != seen[2]


# ---------------------------------------------------------------- end to end, through grade()

@pytest.mark.slow
def test_the_solved_notebook_scores_full_marks(grader: Grader) -> None:
    assert_full_marks(grader, ASSIGNMENT)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", ACCEPTED, ids=lambda path: path.stem)
def test_every_accepted_notebook_scores_full_marks(grader: Grader, notebook: Path) -> None:
    assert_accepted_scores_full_marks(grader, notebook, ASSIGNMENT)


def test_the_accepted_notebooks_are_there_and_clean() -> None:
    assert_accepted_notebooks_are_clean(ASSIGNMENT, {"seeds", "vectorized", "channel_loop"})


@pytest.mark.slow
def test_the_student_release_scores_zero_without_grader_errors(grader: Grader, tmp_path: Path) -> None:
    assert_release_scores_zero(grader, tmp_path, ASSIGNMENT, FUNCTIONS)


@pytest.mark.slow
@pytest.mark.parametrize("route", ["F.max_pool2d", "nn.MaxPool2d", "torch.max_pool2d", "a getattr string"])
def test_library_pooling_scores_zero_and_says_why(make_notebook: MakeNotebook, grader: Grader, route: str) -> None:
    result = grade_with(make_notebook, grader, ASSIGNMENT, LIBRARY_POOLING[route])
    assert scores_per_function(result) == {"pool2d": 0.0}
    assert set(result.library_convolutions) == {"pool2d"}
    assert all(t.feedback.startswith("pool2d calls ") and "this assignment asks for pooling from scratch"
               in t.feedback for t in result.tests)


@pytest.mark.slow
def test_adaptive_pooling_beside_a_correct_answer_scores_zero(make_notebook: MakeNotebook, grader: Grader) -> None:
    result = grade_with(make_notebook, grader, ASSIGNMENT, KEEP_THE_SOLUTION, ADAPTIVE_POOLING)
    assert scores_per_function(result) == {"pool2d": 0.0}
    evidence = result.library_convolutions["pool2d"]
    assert "torch.nn.functional.adaptive_max_pool2d (in the source)" in evidence
    assert any(e.startswith("aten.") and "pool" in e for e in evidence)


@pytest.mark.slow
def test_a_stride_1_default_loses_some_points_through_grade(make_notebook: MakeNotebook, grader: Grader,
                                                           definition: Assignment) -> None:
    scores = scores_per_function(grade_with(make_notebook, grader, ASSIGNMENT, STRIDE_1_BY_DEFAULT))
    assert 0 < scores["pool2d"] < full(definition, "pool2d")
