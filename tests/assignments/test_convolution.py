"""Self-checks of the `convolution` assignment (true convolution; 1D and 3D cross-correlation).

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
    accepted_namespace,
    accepted_notebooks,
    assert_accepted_notebooks_are_clean,
    assert_accepted_scores_full_marks,
    assert_full_marks,
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

ASSIGNMENT = "convolution"
FUNCTIONS = ("convolve2d", "corr1d", "corr3d")
ACCEPTED = accepted_notebooks(ASSIGNMENT)
# What the seeds' code lacks is not graded, only shown as zero-point tips (issue 10).
TIPS = {"convolve2d_keeps_float64", "corr1d_keeps_float64", "corr3d_keeps_float64"}


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


# ---------------------------------------------------------------- the definition itself

def test_points_total_100_with_most_of_them_hidden(definition: Assignment) -> None:
    assert_points_mostly_hidden(definition, FUNCTIONS, set(FUNCTIONS), one_in=3)


def test_the_notebook_imports_only_torch_numpy_math_and_stores_no_outputs() -> None:
    assert_notebook_is_clean(ASSIGNMENT)


def test_the_lecture_examples_run_in_the_solved_notebook() -> None:
    names = solution_namespace(ASSIGNMENT)
    X = torch.tensor([[0.0, 1, 2], [3, 4, 5], [6, 7, 8]])
    K = torch.tensor([[0.0, 1], [2, 3]])
    assert names["convolve2d"](X, K).tolist() == [[5, 11], [23, 29]]
    assert names["corr1d"](torch.arange(7), torch.tensor([1, 2])).tolist() == [2, 5, 8, 11, 14, 17]
    blur = torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
    image = torch.rand(5, 6)
    assert torch.allclose(names["convolve2d"](image, blur), names["corr2d"](image, blur))


# ---------------------------------------------------------------- in-process, several seeds

@pytest.mark.parametrize("seed", SEED_CASES)
def test_every_test_passes_on_the_solution(definition: Assignment, seed: int) -> None:
    assert points_per_function(definition, solution_namespace(ASSIGNMENT), seed)["failed"] == set()


@pytest.mark.parametrize("seed", SEED_CASES)
def test_python_loops_over_the_output_still_pass(definition: Assignment, seed: int) -> None:
    assert points_per_function(definition, solution_namespace(ASSIGNMENT, OUTPUT_LOOPS), seed)["failed"] == set()


@pytest.mark.parametrize("seed", SEED_CASES)
def test_the_seeds_code_fails_only_tips(definition: Assignment, seed: int) -> None:
    """The seeds' float32 corr2d loop, seed 002's flip-then-correlate, corr1d/corr3d in that style: full marks."""
    assert tips_failed_with_full_marks(definition, accepted_namespace(ASSIGNMENT, "seeds"), seed) == TIPS


def test_the_float64_tests_are_tips(definition: Assignment) -> None:
    assert {t.name for t in definition.tests if t.points == 0} == TIPS


@pytest.mark.slow
@pytest.mark.parametrize("name", KINDS)
def test_do_nothing_answers_score_at_most_10(definition: Assignment, name: str) -> None:
    for seed in SEEDS:
        points = points_per_function(definition, do_nothing_namespace(definition, name), seed)
        assert sum(points[f] for f in FUNCTIONS) <= 10


@pytest.mark.parametrize("bug", [FLIPS_ONLY_THE_ROWS, FLIPS_ONLY_THE_COLUMNS], ids=["rows", "columns"])
@pytest.mark.parametrize("seed", SEED_CASES)
def test_flipping_one_axis_fails_only_convolve2d(definition: Assignment, bug: str, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, bug), seed)
    assert {"convolve2d_flips_the_lecture_kernel", "convolve2d_matches_corr2d_of_flipped_kernel",
            "convolve2d_equals_corr2d_for_point_symmetric_kernels",
            "convolve2d_flips_asymmetric_edge_kernels"} <= points["failed"]
    assert 0 < points["convolve2d"] < full(definition, "convolve2d") / 2
    assert points["corr1d"] == full(definition, "corr1d") and points["corr3d"] == full(definition, "corr3d")


@pytest.mark.parametrize("seed", SEED_CASES)
def test_cross_correlation_passes_only_the_symmetric_kernel_tests(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, NO_FLIP), seed)
    passed = {t.name for t in definition.tests if t.function == "convolve2d"} - points["failed"]
    assert passed == {"convolve2d_equals_corr2d_for_gaussian_blur",
                      "convolve2d_equals_corr2d_for_point_symmetric_kernels"}
    assert points["corr1d"] == full(definition, "corr1d") and points["corr3d"] == full(definition, "corr3d")


@pytest.mark.parametrize("seed", SEED_CASES)
def test_off_by_one_corr1d_fails_only_corr1d(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, OFF_BY_ONE_CORR1D), seed)
    assert points["corr1d"] == 3.0  # its values are right where it has them: the first-window test
    assert points["convolve2d"] == full(definition, "convolve2d") and points["corr3d"] == full(definition, "corr3d")


def test_library_conv3d_is_seen_by_the_dispatcher_watch(definition: Assignment) -> None:
    student = local_student(solution_namespace(ASSIGNMENT, LIBRARY_CONV3D), from_scratch=definition.from_scratch)
    student.corr3d(torch.ones(3, 3, 3), torch.ones(2, 2, 2))
    student.convolve2d(torch.ones(3, 3), torch.ones(2, 2))
    student.corr1d(torch.ones(5), torch.ones(2))
    assert set(student.library_convolutions) == {"corr3d"}


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
@pytest.mark.parametrize("bug", [FLIPS_ONLY_THE_ROWS, NO_FLIP], ids=["one_axis", "no_flip"])
def test_wrong_flip_loses_only_convolve2d_points(make_notebook: MakeNotebook, grader: Grader,
                                                 definition: Assignment, bug: str) -> None:
    scores = scores_per_function(grade_with(make_notebook, grader, ASSIGNMENT, bug))
    assert 0 < scores["convolve2d"] < full(definition, "convolve2d") / 2
    assert scores["corr1d"] == full(definition, "corr1d") and scores["corr3d"] == full(definition, "corr3d")


@pytest.mark.slow
def test_off_by_one_corr1d_loses_only_corr1d_points(make_notebook: MakeNotebook, grader: Grader,
                                                    definition: Assignment) -> None:
    scores = scores_per_function(grade_with(make_notebook, grader, ASSIGNMENT, OFF_BY_ONE_CORR1D))
    assert scores == {"convolve2d": full(definition, "convolve2d"), "corr1d": 3.0,
                      "corr3d": full(definition, "corr3d")}


@pytest.mark.slow
def test_library_conv3d_scores_zero_for_corr3d_only(make_notebook: MakeNotebook, grader: Grader,
                                                    definition: Assignment) -> None:
    result = grade_with(make_notebook, grader, ASSIGNMENT, LIBRARY_CONV3D)
    scores = scores_per_function(result)
    assert scores == {"convolve2d": full(definition, "convolve2d"), "corr1d": full(definition, "corr1d"),
                      "corr3d": 0.0}
    assert set(result.library_convolutions) == {"corr3d"}
    assert all("library convolution" in t.feedback for t in result.tests if t.function == "corr3d")
