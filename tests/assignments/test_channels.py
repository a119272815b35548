"""Self-checks of the `channels` assignment (multiple input/output channels, 1x1 convolution).

The two levels of checks (in process over several seeds; end to end through
`grade()`) are described, and their shared helpers kept, in `solutions.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from grader.course.assignment import Assignment
from grader.course.do_nothing import KINDS
from grader.grading.student import local_student
from grader.session import Grader
from tests.assignments.solutions import (
    SEED_CASES,
    SEEDS,
    SEEDS_DOUBLE_LOOP_CORR2D,
    accepted_namespace,
    accepted_notebooks,
    assert_accepted_notebooks_are_clean,
    assert_accepted_scores_full_marks,
    assert_full_marks,
    assert_inputs_change_with_the_seed,
    assert_notebook_is_clean,
    assert_points_mostly_hidden,
    assert_release_scores_zero,
    do_nothing_namespace,
    full,
    grade_with,
    points_per_function,
    scores_per_function,
    solution_namespace,
    tips_failed_with_full_marks,
)
from tests.helpers import MakeNotebook

ASSIGNMENT = "channels"
FUNCTIONS = ("corr2d_multi_in", "corr2d_multi_in_out", "corr2d_multi_in_out_1x1")
ACCEPTED = accepted_notebooks(ASSIGNMENT)
# What the seeds' code lacks is not graded, only shown as zero-point tips (issue 10).
TIPS = {"corr2d_multi_in_keeps_float64", "corr2d_multi_in_rejects_mismatched_channels",
        "corr2d_multi_in_out_keeps_float64", "corr2d_multi_in_out_rejects_mismatched_channels",
        "one_by_one_integer_input", "one_by_one_keeps_float64", "one_by_one_rejects_mismatched_channels"}


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
LIBRARY_CONV2D_1X1 = '''
import torch.nn.functional as F
def corr2d_multi_in_out_1x1(X, K):
    return F.conv2d(X[None], K)[0]
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


# ---------------------------------------------------------------- the definition itself

def test_points_total_100_with_most_of_them_hidden(definition: Assignment) -> None:
    assert_points_mostly_hidden(definition, FUNCTIONS, set(FUNCTIONS), one_in=3)


def test_the_tips_are_worth_no_points_and_everything_else_is_graded(definition: Assignment) -> None:
    assert {t.name for t in definition.tests if t.points == 0} == TIPS


def test_the_notebook_imports_only_torch_numpy_math_and_stores_no_outputs() -> None:
    assert_notebook_is_clean(ASSIGNMENT)


def test_the_lecture_examples_run_in_the_solved_notebook() -> None:
    names = solution_namespace(ASSIGNMENT)
    X = torch.tensor([[[0.0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]])
    K = torch.tensor([[[0.0, 1], [2, 3]], [[1.0, 2], [3, 4]]])
    assert names["corr2d_multi_in"](X, K).tolist() == [[56, 72], [104, 120]]
    assert names["corr2d_multi_in_out"](X, torch.stack((K, K + 1, K + 2))).shape == (3, 2, 2)


# ---------------------------------------------------------------- in-process, several seeds

@pytest.mark.slow
@pytest.mark.parametrize("seed", SEED_CASES)
def test_every_test_passes_on_the_solution(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT), seed)
    assert points["failed"] == set()


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEED_CASES)
def test_seeds_double_loop_corr2d_underneath_still_passes(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, SEEDS_DOUBLE_LOOP_CORR2D), seed)
    assert points["failed"] == set()


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEED_CASES)
def test_the_seeds_code_fails_only_tips(definition: Assignment, seed: int) -> None:
    """Seed 003's zip-and-sum on its float32 corr2d, d2l's stack and matmul: the model answer, full marks."""
    failed = tips_failed_with_full_marks(definition, accepted_namespace(ASSIGNMENT, "seeds"), seed)
    assert failed <= TIPS
    assert {"corr2d_multi_in_keeps_float64", "corr2d_multi_in_rejects_mismatched_channels",
            "one_by_one_integer_input"} <= failed


@pytest.mark.slow
@pytest.mark.parametrize("name", KINDS)
def test_do_nothing_answers_score_at_most_10(definition: Assignment, name: str) -> None:
    for seed in SEEDS:
        points = points_per_function(definition, do_nothing_namespace(definition, name), seed)
        assert sum(points[f] for f in FUNCTIONS) <= 10


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEED_CASES)
def test_mean_over_channels_fails_corr2d_multi_in_and_what_builds_on_it(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, MEAN_OVER_CHANNELS), seed)
    assert 0 < points["corr2d_multi_in"] < full(definition, "corr2d_multi_in")
    assert {"corr2d_multi_in_two_channel_example", "corr2d_multi_in_matches_reference_random_channels",
            "corr2d_multi_in_is_sum_of_single_channel_results"} <= points["failed"]
    # corr2d_multi_in_out is built on corr2d_multi_in (output channel o is corr2d_multi_in(X, K[o])),
    # so it is wrong too.
    assert 0 < points["corr2d_multi_in_out"] < full(definition, "corr2d_multi_in_out")
    assert points["corr2d_multi_in_out_1x1"] == full(definition, "corr2d_multi_in_out_1x1")


@pytest.mark.parametrize("seed", SEED_CASES)
def test_stacking_along_the_wrong_axis_fails_only_corr2d_multi_in_out(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, STACKED_ALONG_WRONG_AXIS), seed)
    assert 0 < points["corr2d_multi_in_out"] < full(definition, "corr2d_multi_in_out") / 2
    assert "corr2d_multi_in_out_rejects_mismatched_channels" not in points["failed"]
    for function in ("corr2d_multi_in", "corr2d_multi_in_out_1x1"):
        assert points[function] == full(definition, function)


@pytest.mark.parametrize("seed", SEED_CASES)
def test_per_pixel_loop_1x1_fails_only_the_scaling_test(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, PER_PIXEL_LOOP_1X1), seed)
    assert points["failed"] == {"one_by_one_scales_like_one_matmul"}


def test_library_conv2d_is_seen_by_the_dispatcher_watch(definition: Assignment) -> None:
    student = local_student(solution_namespace(ASSIGNMENT, LIBRARY_CONV2D), from_scratch=definition.from_scratch)
    student.corr2d_multi_in_out(torch.ones(2, 4, 4), torch.ones(3, 2, 2, 2))
    student.corr2d_multi_in(torch.ones(2, 4, 4), torch.ones(2, 2, 2))
    assert set(student.library_convolutions) == {"corr2d_multi_in_out"}


def test_library_conv2d_in_the_1x1_is_seen_by_the_dispatcher_watch(definition: Assignment) -> None:
    student = local_student(solution_namespace(ASSIGNMENT, LIBRARY_CONV2D_1X1), from_scratch=definition.from_scratch)
    student.corr2d_multi_in_out_1x1(torch.ones(2, 4, 4), torch.ones(3, 2, 1, 1))
    assert set(student.library_convolutions) == {"corr2d_multi_in_out_1x1"}


def test_hidden_tests_draw_new_inputs_from_the_seed(definition: Assignment) -> None:
    """Different seeds, different inputs: the single-channel test's input changes with the seed."""
    assert_inputs_change_with_the_seed(definition, ASSIGNMENT, "corr2d_multi_in",
                                       "corr2d_multi_in_single_channel_is_corr2d")


# ---------------------------------------------------------------- end to end, through grade()

@pytest.mark.slow
def test_the_solved_notebook_scores_full_marks(grader: Grader) -> None:
    assert_full_marks(grader, ASSIGNMENT)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", ACCEPTED, ids=lambda path: path.stem)
def test_every_accepted_notebook_scores_full_marks(grader: Grader, notebook: Path) -> None:
    assert_accepted_scores_full_marks(grader, notebook, ASSIGNMENT)


def test_the_accepted_notebooks_are_there_and_clean() -> None:
    assert_accepted_notebooks_are_clean(ASSIGNMENT, {"seeds", "vectorized", "shift_and_add"})


@pytest.mark.slow
def test_the_student_release_scores_zero_without_grader_errors(grader: Grader, tmp_path: Path) -> None:
    assert_release_scores_zero(grader, tmp_path, ASSIGNMENT, FUNCTIONS)


@pytest.mark.slow
def test_mean_over_channels_loses_corr2d_multi_in_points(make_notebook: MakeNotebook, grader: Grader,
                                                        definition: Assignment) -> None:
    scores = scores_per_function(grade_with(make_notebook, grader, ASSIGNMENT, MEAN_OVER_CHANNELS))
    assert 0 < scores["corr2d_multi_in"] < full(definition, "corr2d_multi_in")
    # Built on the broken corr2d_multi_in, the solution's corr2d_multi_in_out is wrong too; the 1x1 is not.
    assert 0 < scores["corr2d_multi_in_out"] < full(definition, "corr2d_multi_in_out")
    assert scores["corr2d_multi_in_out_1x1"] == full(definition, "corr2d_multi_in_out_1x1")


@pytest.mark.slow
def test_stacking_along_the_wrong_axis_loses_only_corr2d_multi_in_out_points(
        make_notebook: MakeNotebook, grader: Grader, definition: Assignment) -> None:
    scores = scores_per_function(grade_with(make_notebook, grader, ASSIGNMENT, STACKED_ALONG_WRONG_AXIS))
    assert 0 < scores["corr2d_multi_in_out"] < full(definition, "corr2d_multi_in_out")
    assert scores["corr2d_multi_in"] == full(definition, "corr2d_multi_in")
    assert scores["corr2d_multi_in_out_1x1"] == full(definition, "corr2d_multi_in_out_1x1")


@pytest.mark.slow
def test_per_pixel_loop_1x1_loses_only_the_scaling_points(make_notebook: MakeNotebook, grader: Grader) -> None:
    result = grade_with(make_notebook, grader, ASSIGNMENT, PER_PIXEL_LOOP_1X1)
    scores_per_function(result)
    lost = {t.name: t.max_score - t.score for t in result.tests if t.score < t.max_score}
    assert lost == {"one_by_one_scales_like_one_matmul": 8.0}
    scaling = next(t for t in result.tests if t.name == "one_by_one_scales_like_one_matmul")
    assert "matrix multiplication" in scaling.feedback and "grow" in scaling.detail


@pytest.mark.slow
def test_library_conv2d_in_corr2d_multi_in_out_scores_zero_for_it_only(
        make_notebook: MakeNotebook, grader: Grader, definition: Assignment) -> None:
    result = grade_with(make_notebook, grader, ASSIGNMENT, LIBRARY_CONV2D)
    scores = scores_per_function(result)
    assert scores == {"corr2d_multi_in": full(definition, "corr2d_multi_in"), "corr2d_multi_in_out": 0.0,
                      "corr2d_multi_in_out_1x1": full(definition, "corr2d_multi_in_out_1x1")}
    assert set(result.library_convolutions) == {"corr2d_multi_in_out"}
    assert all("library convolution" in t.feedback for t in result.tests if t.function == "corr2d_multi_in_out")


@pytest.mark.slow
def test_library_conv2d_in_the_1x1_scores_zero_for_it_only(
        make_notebook: MakeNotebook, grader: Grader, definition: Assignment) -> None:
    result = grade_with(make_notebook, grader, ASSIGNMENT, LIBRARY_CONV2D_1X1)
    scores = scores_per_function(result)
    assert scores == {"corr2d_multi_in": full(definition, "corr2d_multi_in"),
                      "corr2d_multi_in_out": full(definition, "corr2d_multi_in_out"),
                      "corr2d_multi_in_out_1x1": 0.0}
    assert set(result.library_convolutions) == {"corr2d_multi_in_out_1x1"}
    assert all("library convolution" in t.feedback for t in result.tests if t.function == "corr2d_multi_in_out_1x1")
