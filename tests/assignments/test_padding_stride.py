"""Self-checks of the `padding_stride` assignment (padding and stride).

The two levels of checks (in process over several seeds; end to end through
`grade()`) are described, and their shared helpers kept, in `solutions.py`.

The three names are independent: the notebook's `corr2d_pad_stride` does not
call `conv_output_shape`, so every bug costs points on one name only.

The seeds' code is the model answer (`accepted/seeds.ipynb`): seed 003's
`comp_conv2d`, which hands X to the layer as it is, and a `corr2d_pad_stride`
that computes in float32 whatever the input get full marks; integer X in
`comp_conv2d` and float64 kept by `corr2d_pad_stride` are 0-point tips.
`comp_conv2d` receives its layer as `{"$conv2d": {...}}`, which the worker
turns into a real `nn.Conv2d`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch

from grader.course.assignment import Assignment
from grader.grading.student import local_student
from grader.session import Grader
from tests.assignments.solutions import (
    SEED_CASES,
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

ASSIGNMENT = "padding_stride"
FUNCTIONS = ("conv_output_shape", "corr2d_pad_stride", "comp_conv2d")

pytestmark = pytest.mark.usefixtures("one_thread")

# ---------------------------------------------------------------- realistic wrong submissions

# A per-pixel double loop in the seeds' style; the bugs below change one piece of it.
_LOOP = '''
def corr2d_pad_stride(X, K, padding=0, stride=1):
    (n_h, n_w), (k_h, k_w) = X.shape, K.shape
    s_h, s_w = (stride, stride) if isinstance(stride, int) else stride
    if s_h < 1 or s_w < 1:
        raise ValueError("the stride must be at least 1")
    if padding == "valid":
        top = bottom = left = right = 0
    elif padding == "same":
        if (s_h, s_w) != (1, 1):
            raise ValueError("padding='same' needs stride 1")
        @SAME@
    else:
        p_h, p_w = (padding, padding) if isinstance(padding, int) else padding
        top = bottom = p_h
        left = right = p_w
    dtype = torch.promote_types(X.dtype, K.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    K = K.to(dtype)
    X_pad = torch.zeros((n_h + top + bottom, n_w + left + right), dtype=dtype)
    @PLACE@
    h = (X_pad.shape[0] - k_h) // s_h + 1
    w = @WIDTH@
    Y = torch.zeros((h, w), dtype=dtype)
    for i in range(h):
        for j in range(w):
            Y[i, j] = (X_pad[i * s_h:i * s_h + k_h, @COLUMNS@] * K).sum()
    return Y
'''
_RIGHT = {
    "@SAME@": "top, left = (k_h - 1) // 2, (k_w - 1) // 2\n        bottom, right = k_h - 1 - top, k_w - 1 - left",
    "@PLACE@": "X_pad[top:top + n_h, left:left + n_w] = X",
    "@WIDTH@": "(X_pad.shape[1] - k_w) // s_w + 1",
    "@COLUMNS@": "j * s_w:j * s_w + k_w",
}


def _loop(**wrong: str) -> str:
    source = _LOOP
    for marker, code in {**_RIGHT, **wrong}.items():
        source = source.replace(marker, code)
    return source


SEEDS_DOUBLE_LOOP = _loop()
PADDING_ON_ONE_SIDE_ONLY = _loop(**{"@PLACE@": "X_pad[:n_h, :n_w] = X   # all the zeros end up bottom/right"})
STRIDE_ON_ROWS_ONLY = _loop(**{"@WIDTH@": "X_pad.shape[1] - k_w + 1", "@COLUMNS@": "j:j + k_w"})
SAME_EXTRA_ROW_AT_THE_TOP = _loop(**{
    "@SAME@": "top, left = k_h // 2, k_w // 2   # the extra row/column of an even kernel goes top/left\n"
              "        bottom, right = k_h - 1 - top, k_w - 1 - left"})
PADDING_COUNTED_ONCE = '''
def conv_output_shape(input_shape, kernel_shape, padding=0, stride=1):
    p_h, p_w = (padding, padding) if isinstance(padding, int) else padding
    s_h, s_w = (stride, stride) if isinstance(stride, int) else stride
    return ((input_shape[0] + p_h - kernel_shape[0]) // s_h + 1,    # should be + 2 * p_h
            (input_shape[1] + p_w - kernel_shape[1]) // s_w + 1)
'''
SQUEEZE_IN_COMP_CONV2D = '''
def comp_conv2d(conv2d, X):
    if not X.is_floating_point():
        X = X.to(conv2d.weight.dtype)
    return conv2d(X.reshape((1, 1) + X.shape)).squeeze()   # also drops output axes of size 1
'''
LIBRARY_CONV2D_PAD_STRIDE = '''
import torch.nn.functional as F
def corr2d_pad_stride(X, K, padding=0, stride=1):
    dtype = torch.promote_types(X.dtype, K.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    return F.conv2d(X.to(dtype)[None, None], K.to(dtype)[None, None], padding=padding, stride=stride)[0, 0]
'''
# Never checks its arguments: 'same' fails to unpack ("too many values to unpack"), by accident a ValueError.
NO_SAME_PADDING = '''
def corr2d_pad_stride(X, K, padding=0, stride=1):
    p_h, p_w = (padding, padding) if isinstance(padding, int) else padding
    s_h, s_w = (stride, stride) if isinstance(stride, int) else stride
    if s_h < 1 or s_w < 1:
        raise ValueError("the stride must be at least 1")
    (n_h, n_w), (k_h, k_w) = X.shape, K.shape
    X_pad = torch.zeros((n_h + 2 * p_h, n_w + 2 * p_w))
    X_pad[p_h:p_h + n_h, p_w:p_w + n_w] = X
    Y = torch.zeros(((n_h + 2 * p_h - k_h) // s_h + 1, (n_w + 2 * p_w - k_w) // s_w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X_pad[i * s_h:i * s_h + k_h, j * s_w:j * s_w + k_w] * K).sum()
    return Y
'''
# Never checks the stride: a stride of 0 meets range()'s "arg 3 must not be zero", by accident a ValueError.
STRIDE_0_UNCHECKED = _loop().replace('''    if s_h < 1 or s_w < 1:
        raise ValueError("the stride must be at least 1")
''', "").replace('''    for i in range(h):
        for j in range(w):
            Y[i, j] = (X_pad[i * s_h:i * s_h + k_h, j * s_w:j * s_w + k_w] * K).sum()''',
  '''    for i, r in enumerate(range(0, X_pad.shape[0] - k_h + 1, s_h)):
        for j, c in enumerate(range(0, X_pad.shape[1] - k_w + 1, s_w)):
            Y[i, j] = (X_pad[r:r + k_h, c:c + k_w] * K).sum()''')
# What does nothing: each graded name returns zeros, a constant, random values or X's top-left
# window, of the right shape; conv_output_shape returns a constant pair.
_DO_NOTHING = '''
def _pair(v):
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))
def _shape(n, k, padding, stride):
    s = _pair(stride)
    if min(s) < 1 or (padding == "same" and s != (1, 1)):
        raise ValueError("no such layer")
    if padding == "same":
        return tuple(int(v) for v in n)
    p = (0, 0) if padding == "valid" else _pair(padding)
    return tuple((int(n[i]) + 2 * p[i] - int(k[i])) // s[i] + 1 for i in range(2))
def _answer(X, shape):
    @ANSWER@
def conv_output_shape(input_shape, kernel_shape, padding=0, stride=1):
    return (1, 1)
def corr2d_pad_stride(X, K, padding=0, stride=1):
    return _answer(X, _shape(X.shape, K.shape, padding, stride))
def comp_conv2d(conv2d, X):
    return _answer(X, _shape(X.shape, conv2d.kernel_size, conv2d.padding, conv2d.stride))
'''
DO_NOTHING = {
    "zeros": _DO_NOTHING.replace("@ANSWER@", "return torch.zeros(shape)"),
    "constant": _DO_NOTHING.replace("@ANSWER@", "return torch.full(shape, 0.5)"),
    "random": _DO_NOTHING.replace("@ANSWER@", "return torch.rand(shape)"),
    "top_left": _DO_NOTHING.replace("@ANSWER@", "Y = torch.zeros(shape)\n    h, w = min(shape[0], X.shape[0]), "
                                               "min(shape[1], X.shape[1])\n    Y[:h, :w] = X[:h, :w]\n    return Y"),
}
ACCEPTED = accepted_notebooks(ASSIGNMENT)


# ---------------------------------------------------------------- helpers

def only(definition: Assignment, points: Mapping[str, Any], broken: str) -> None:
    """`broken` lost some but not all of its points; the other names kept all of theirs."""
    assert 0 < points[broken] < full(definition, broken)
    for function in FUNCTIONS:
        if function != broken:
            assert points[function] == full(definition, function), function


# ---------------------------------------------------------------- the definition itself

def test_points_total_100_with_most_of_them_hidden(definition: Assignment) -> None:
    assert_points_mostly_hidden(definition, FUNCTIONS, {"corr2d_pad_stride"}, one_in=2)


def test_the_notebook_imports_only_torch_numpy_math_and_stores_no_outputs() -> None:
    assert_notebook_is_clean(ASSIGNMENT)


def test_the_lecture_examples_run_in_the_solved_notebook() -> None:
    names = solution_namespace(ASSIGNMENT)
    X = torch.tensor([[4.0, 1, 7, 5], [4, 4, 2, 5], [7, 7, 2, 4], [1, 0, 2, 4]])
    assert names["corr2d_pad_stride"](X, torch.tensor([[1.0, 0], [2, 1]]), padding="same").tolist() == \
        [[16, 11, 16, 15], [25, 20, 10, 13], [9, 9, 10, 12], [1, 0, 2, 4]]
    assert names["conv_output_shape"]((8, 8), (3, 5), padding=(0, 1), stride=(3, 4)) == (2, 2)
    conv = torch.nn.Conv2d(1, 1, kernel_size=(5, 3), padding=(2, 1))
    assert names["comp_conv2d"](conv, torch.rand(8, 8)).shape == (8, 8)


# ---------------------------------------------------------------- in-process, several seeds

@pytest.mark.parametrize("seed", SEED_CASES)
def test_every_test_passes_on_the_solution(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT), seed)
    assert points["failed"] == set()


@pytest.mark.parametrize("seed", SEED_CASES)
def test_a_per_pixel_double_loop_passes_every_test_in_time(definition: Assignment, seed: int) -> None:
    assert_every_test_passes_in_time(definition, solution_namespace(ASSIGNMENT, SEEDS_DOUBLE_LOOP), seed)


@pytest.mark.parametrize("seed", SEED_CASES)
def test_padding_on_one_side_only_loses_only_corr2d_pad_stride_points(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, PADDING_ON_ONE_SIDE_ONLY), seed)
    only(definition, points, "corr2d_pad_stride")
    assert {"corr2d_pad_stride_padding_is_zero_padding", "corr2d_pad_stride_same_odd_kernels"} <= points["failed"]
    # 'valid' pads nothing, and seed 004's 'same' pads only at the bottom/right anyway.
    assert {"corr2d_pad_stride_valid_is_no_padding", "corr2d_pad_stride_seed004_same_example"}.isdisjoint(
        points["failed"])


@pytest.mark.parametrize("seed", SEED_CASES)
def test_stride_on_rows_only_loses_only_corr2d_pad_stride_points(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, STRIDE_ON_ROWS_ONLY), seed)
    only(definition, points, "corr2d_pad_stride")
    assert {"corr2d_pad_stride_stride_subsamples_stride_1", "corr2d_pad_stride_lecture_examples"} <= points["failed"]
    assert {"corr2d_pad_stride_seed004_same_example", "corr2d_pad_stride_same_even_kernels",
            "corr2d_pad_stride_padding_is_zero_padding"}.isdisjoint(points["failed"])


@pytest.mark.parametrize("seed", SEED_CASES)
def test_same_padding_with_the_extra_row_on_top_loses_the_even_kernel_points(definition: Assignment,
                                                                              seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, SAME_EXTRA_ROW_AT_THE_TOP), seed)
    only(definition, points, "corr2d_pad_stride")
    assert points["failed"] == {"corr2d_pad_stride_seed004_same_example", "corr2d_pad_stride_same_even_kernels"}


@pytest.mark.parametrize("seed", SEED_CASES)
def test_padding_counted_once_loses_only_conv_output_shape_points(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, PADDING_COUNTED_ONCE), seed)
    only(definition, points, "conv_output_shape")
    assert "conv_output_shape_returns_python_ints" not in points["failed"]


@pytest.mark.parametrize("seed", SEED_CASES)
def test_squeeze_in_comp_conv2d_loses_only_comp_conv2d_points(definition: Assignment, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, SQUEEZE_IN_COMP_CONV2D), seed)
    only(definition, points, "comp_conv2d")
    # Random layers sometimes give a single output row or column too; this test always does.
    assert "comp_conv2d_keeps_axes_of_size_1" in points["failed"]
    assert "comp_conv2d_lecture_example" not in points["failed"]


def test_library_conv2d_in_corr2d_pad_stride_is_seen_by_the_dispatcher_watch(definition: Assignment) -> None:
    student = local_student(solution_namespace(ASSIGNMENT, LIBRARY_CONV2D_PAD_STRIDE),
                            from_scratch=definition.from_scratch)
    student.corr2d_pad_stride(torch.ones(4, 5), torch.ones(2, 2), padding=1, stride=2)
    layer = {"$conv2d": {"weight": torch.ones(1, 1, 3, 3), "bias": None, "padding": 1, "stride": 1}}
    student.comp_conv2d(layer, torch.ones(4, 5))   # a library convolution, but comp_conv2d is not from scratch
    assert set(student.library_convolutions) == {"corr2d_pad_stride"}


@pytest.mark.parametrize("seed", SEED_CASES)
def test_same_padding_that_fails_to_unpack_earns_no_error_points(definition: Assignment, seed: int) -> None:
    """'same' meets `p_h, p_w = padding` and Python's "too many values to unpack": no credit for refusing a stride."""
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, NO_SAME_PADDING), seed)
    only(definition, points, "corr2d_pad_stride")
    assert {"corr2d_pad_stride_same_with_stride_raises", "corr2d_pad_stride_same_refuses_stride_2",
            "corr2d_pad_stride_valid_is_no_padding"} <= points["failed"]
    assert {"corr2d_pad_stride_stride_0_raises", "corr2d_pad_stride_matches_reference"}.isdisjoint(points["failed"])


@pytest.mark.parametrize("seed", SEED_CASES)
def test_a_stride_of_0_met_by_range_by_accident_earns_no_error_points(definition: Assignment, seed: int) -> None:
    """range(0, n, 0)'s ValueError is Python's, not the student's check."""
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, STRIDE_0_UNCHECKED), seed)
    only(definition, points, "corr2d_pad_stride")
    assert points["failed"] == {"corr2d_pad_stride_stride_0_raises"}


@pytest.mark.parametrize("seed", SEED_CASES)
@pytest.mark.parametrize("answer", sorted(DO_NOTHING))
def test_an_answer_that_does_nothing_scores_at_most_10(definition: Assignment, answer: str, seed: int) -> None:
    points = points_per_function(definition, solution_namespace(ASSIGNMENT, DO_NOTHING[answer]), seed)
    assert sum(points[f] for f in FUNCTIONS) <= 10.0


@pytest.mark.parametrize("seed", SEED_CASES)
def test_the_seeds_comp_conv2d_and_float32_corr2d_pad_stride_get_full_marks(definition: Assignment,
                                                                           seed: int) -> None:
    """Seed 003's comp_conv2d hands integer X to the layer as it is, and torch.zeros computes in float32:
    both cost only their 0-point tips."""
    tips = {t.name for t in definition.tests if t.tip}
    assert tips == {"corr2d_pad_stride_float64_stays_float64", "comp_conv2d_integer_input"}
    assert tips_failed_with_full_marks(definition, accepted_namespace(ASSIGNMENT, "seeds"), seed) == tips


def test_hidden_tests_draw_new_inputs_from_the_seed(definition: Assignment) -> None:
    """Different seeds, different inputs: the 'valid' test's input changes with the seed."""
    assert_inputs_change_with_the_seed(definition, ASSIGNMENT, "corr2d_pad_stride",
                                       "corr2d_pad_stride_valid_is_no_padding")


# ---------------------------------------------------------------- end to end, through grade()

@pytest.mark.slow
def test_the_solved_notebook_scores_full_marks(grader: Grader) -> None:
    assert_full_marks(grader, ASSIGNMENT)


def test_the_accepted_notebooks_are_there_and_clean() -> None:
    assert_accepted_notebooks_are_clean(ASSIGNMENT, {"seeds", "vectorized", "shift_and_add"})


@pytest.mark.slow
@pytest.mark.parametrize("notebook", ACCEPTED, ids=lambda path: path.stem)
def test_every_accepted_notebook_scores_full_marks(grader: Grader, notebook: Path) -> None:
    accepted = assert_accepted_scores_full_marks(grader, notebook, ASSIGNMENT)
    assert "corr2d_pad_stride" not in accepted.library_convolutions


@pytest.mark.slow
def test_the_student_release_scores_zero_without_grader_errors(grader: Grader, tmp_path: Path) -> None:
    assert_release_scores_zero(grader, tmp_path, ASSIGNMENT, FUNCTIONS)


@pytest.mark.slow
@pytest.mark.parametrize(("bug", "broken"), [
    (PADDING_ON_ONE_SIDE_ONLY, "corr2d_pad_stride"),
    (STRIDE_ON_ROWS_ONLY, "corr2d_pad_stride"),
    (SAME_EXTRA_ROW_AT_THE_TOP, "corr2d_pad_stride"),
    (PADDING_COUNTED_ONCE, "conv_output_shape"),
    (SQUEEZE_IN_COMP_CONV2D, "comp_conv2d"),
], ids=["padding_on_one_side_only", "stride_on_rows_only", "same_extra_row_at_the_top", "padding_counted_once",
        "squeeze_in_comp_conv2d"])
def test_a_wrong_submission_loses_points_only_on_the_name_it_breaks(
        make_notebook: MakeNotebook, grader: Grader, definition: Assignment, bug: str, broken: str) -> None:
    only(definition, scores_per_function(grade_with(make_notebook, grader, ASSIGNMENT, bug)), broken)


@pytest.mark.slow
def test_library_conv2d_in_corr2d_pad_stride_scores_zero_for_it_only(
        make_notebook: MakeNotebook, grader: Grader, definition: Assignment) -> None:
    result = grade_with(make_notebook, grader, ASSIGNMENT, LIBRARY_CONV2D_PAD_STRIDE)
    scores = scores_per_function(result)
    assert scores == {"conv_output_shape": full(definition, "conv_output_shape"), "corr2d_pad_stride": 0.0,
                      "comp_conv2d": full(definition, "comp_conv2d")}
    assert set(result.library_convolutions) == {"corr2d_pad_stride"}
    assert all("library convolution" in t.feedback for t in result.tests if t.function == "corr2d_pad_stride")
