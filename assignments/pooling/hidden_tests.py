"""Hidden tests of `pooling`: properties on random inputs and comparisons with `reference`.

Every input is drawn from `rng`. Outputs stay small (at most about 9x9 pixels
per channel) so that a loop over the output's pixels passes in time. Windows
always see at least one input pixel: padding is at most half the pool size,
as PyTorch requires.
"""

from __future__ import annotations

from typing import Any

import torch

import reference
from grader.authoring.inputs import random_int, shape_text
from grader.authoring.testkit import Student, StudentFailure, TestFailure, expect, expect_close, hidden_test

F64 = torch.float64
MODES = ("max", "avg")


def pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def describe(X: torch.Tensor, pool_size: Any, mode: str, padding: Any = 0, stride: Any = None) -> str:
    arguments = [f"{pool_size}", f"mode={mode!r}"]
    arguments += [f"padding={padding}"] if padding != 0 else []
    arguments += [f"stride={stride}"] if stride is not None else []
    return f"pool2d(X, {', '.join(arguments)}) for a {shape_text(X.shape)} X"


def check(student: Student, X: torch.Tensor, pool_size: Any, mode: str, padding: Any = 0, stride: Any = None,
          hint: str = "") -> None:
    """The student's pooling of X against the reference's, in float64; `stride=None` is left out of the call."""
    kwargs: dict[str, Any] = {"mode": mode, "padding": padding}
    if stride is not None:
        kwargs["stride"] = stride
    expected = reference.pool2d(X.to(F64), pool_size, mode, padding=padding, stride=stride)
    expect_close(student.pool2d(X, pool_size, **kwargs), expected, what=describe(X, pool_size, mode, padding, stride),
                 hint=hint)


def random_pool(rng: torch.Generator, *, square: bool = False) -> Any:
    """A pool size of 2 or 3, as an int or (unless `square`) an (h, w) pair of 1 to 3, never (1, 1)."""
    if square or random_int(rng, 0, 1):
        return random_int(rng, 2, 3)
    if random_int(rng, 0, 1):
        return random_int(rng, 1, 3), random_int(rng, 2, 3)
    return random_int(rng, 2, 3), random_int(rng, 1, 3)


def fitting_input(rng: torch.Generator, pool_size: Any, padding: Any, stride: Any, lead: tuple[int, ...] = (),
                  low: int = 4, high: int = 9) -> torch.Tensor:
    """Random values of shape lead + (n_h, n_w), large enough for the window, small enough for loops."""
    window, pads = pair(pool_size), pair(padding)
    steps = pair(stride) if stride is not None else window
    sizes = [max(random_int(rng, low, high) + (s - 1) * random_int(rng, 0, 2), k - 2 * p)
             for k, p, s in zip(window, pads, steps)]
    return torch.randn(*lead, *sizes, generator=rng)


def random_padding(rng: torch.Generator, pool_size: Any) -> Any:
    """An int or pair padding of at most half the window on each axis, not all zero."""
    k_h, k_w = pair(pool_size)
    if k_h == k_w and random_int(rng, 0, 1):
        return random_int(rng, 1, k_h // 2)
    padding = (random_int(rng, 0, k_h // 2), random_int(rng, 0, k_w // 2))
    return padding if padding != (0, 0) else (k_h // 2, k_w // 2)


def random_stride(rng: torch.Generator) -> Any:
    return random_int(rng, 1, 3) if random_int(rng, 0, 1) else (random_int(rng, 1, 3), random_int(rng, 1, 3))


# -- values without padding, default stride -----------------------------------------------

@hidden_test(function="pool2d", points=8,
             hint="max pooling must return the largest value of each window; without a stride the window moves "
                  "by the pool size (non-overlapping windows), as in nn.MaxPool2d")
def pool2d_max_matches_reference_default_stride(student: Student, rng: torch.Generator) -> None:
    for _ in range(3):
        pool_size = random_pool(rng)
        check(student, fitting_input(rng, pool_size, 0, None), pool_size, "max")


@hidden_test(function="pool2d", points=8,
             hint="average pooling must return the mean of each window; without a stride the window moves by the "
                  "pool size (non-overlapping windows), as in nn.AvgPool2d")
def pool2d_avg_matches_reference_default_stride(student: Student, rng: torch.Generator) -> None:
    for _ in range(3):
        pool_size = random_pool(rng)
        check(student, fitting_input(rng, pool_size, 0, None), pool_size, "avg")


# -- stride -----------------------------------------------------------------------------

@hidden_test(function="pool2d", points=8,
             hint="with stride s the window must move s_h rows down and s_w columns right, starting at 0, whether "
                  "windows overlap (stride below the pool size) or leave gaps (stride above it)")
def pool2d_explicit_stride_overlapping_and_with_gaps(student: Student, rng: torch.Generator) -> None:
    for mode in MODES:
        k = random_int(rng, 2, 3)
        for stride in (1, (k - 1, k + 1), k + 1):
            check(student, fitting_input(rng, k, 0, stride), k, mode, stride=stride)


@hidden_test(function="pool2d", points=7,
             hint="the output has floor((n + 2 * padding - pool size) / stride) + 1 rows (and columns): a last "
                  "window that would stick out of the padded input is dropped, not cut short")
def pool2d_output_size_drops_windows_that_stick_out(student: Student, rng: torch.Generator) -> None:
    for mode in MODES:
        k = random_int(rng, 2, 3)
        stride = (k, k + 1)
        # One to k - 1 pixels too many for a whole number of windows, on each axis.
        X = torch.randn(2 * k + random_int(rng, 1, k - 1), 2 * (k + 1) + k + random_int(rng, 1, k - 1), generator=rng)
        check(student, X, k, mode, stride=stride)
        X = torch.randn(3 * k + random_int(rng, 1, k - 1), 2 * k + 1, generator=rng)
        check(student, X, k, mode)


# -- padding ----------------------------------------------------------------------------

@hidden_test(function="pool2d", points=7,
             hint="max pooling pads with -inf, as nn.MaxPool2d does, so that padding is never the maximum, even "
                  "where every value of the input is negative")
def pool2d_max_padding_is_never_the_maximum(student: Student, rng: torch.Generator) -> None:
    for _ in range(3):
        pool_size = random_pool(rng)
        padding = random_padding(rng, pool_size)
        X = fitting_input(rng, pool_size, padding, None).abs() * -1 - 0.5   # all negative: zero padding would win
        check(student, X, pool_size, "max", padding=padding)


@hidden_test(function="pool2d", points=7,
             hint="average pooling with padding divides by the whole window, the padded zeros included (as "
                  "nn.AvgPool2d with its default count_include_pad=True), not by the input pixels it covers")
def pool2d_avg_padding_counts_the_zeros(student: Student, rng: torch.Generator) -> None:
    for _ in range(3):
        pool_size = random_pool(rng)
        padding = random_padding(rng, pool_size)
        X = fitting_input(rng, pool_size, padding, None) + 2.0   # positive: dividing by fewer pixels shows
        check(student, X, pool_size, "avg", padding=padding, stride=random_int(rng, 1, 2))


# -- pairs ------------------------------------------------------------------------------

@hidden_test(function="pool2d", points=8,
             hint="pool_size, padding and stride may be (h, w) pairs: the first entry is for the height (rows), "
                  "the second for the width (columns)")
def pool2d_pairs_are_height_then_width(student: Student, rng: torch.Generator) -> None:
    for mode in MODES:
        k_h = random_int(rng, 2, 3)
        pool_size = (k_h, k_h + 1)
        padding = (random_int(rng, 0, 1), 1)
        stride = (random_int(rng, 1, 2), 3)
        X = fitting_input(rng, pool_size, padding, stride, low=5, high=8)
        X = torch.cat([X, X[:1]], 0)   # never square
        check(student, X, pool_size, mode, padding=padding, stride=stride)


# -- channels and batches ---------------------------------------------------------------

@hidden_test(function="pool2d", points=8,
             hint="X of shape (c, h, w) must pool each channel on its own and keep the channel axis: "
                  "the result is (c, h', w')")
def pool2d_channels_are_pooled_separately(student: Student, rng: torch.Generator) -> None:
    for mode in MODES:
        pool_size = random_pool(rng)
        padding = random_padding(rng, pool_size) if random_int(rng, 0, 1) else 0
        stride = random_stride(rng) if random_int(rng, 0, 1) else None
        X = fitting_input(rng, pool_size, padding, stride, lead=(random_int(rng, 2, 4),))
        check(student, X, pool_size, mode, padding=padding, stride=stride)


@hidden_test(function="pool2d", points=7,
             hint="X of shape (n, c, h, w), a batch of images with channels, must pool every channel of every "
                  "image on its own: the result is (n, c, h', w')")
def pool2d_batches_of_channels_are_pooled_separately(student: Student, rng: torch.Generator) -> None:
    for mode in MODES:
        pool_size = random_pool(rng)
        padding = random_padding(rng, pool_size)
        stride = random_stride(rng)
        X = fitting_input(rng, pool_size, padding, stride, lead=(random_int(rng, 2, 3), random_int(rng, 1, 3)), high=7)
        check(student, X, pool_size, mode, padding=padding, stride=stride)


@hidden_test(function="pool2d", points=7,
             hint="your values differ from nn.MaxPool2d / nn.AvgPool2d for some combination of pool size, "
                  "padding, stride and leading axes")
def pool2d_matches_reference_on_random_settings(student: Student, rng: torch.Generator) -> None:
    for _ in range(4):
        mode = MODES[random_int(rng, 0, 1)]
        pool_size = random_pool(rng)
        padding = random_padding(rng, pool_size) if random_int(rng, 0, 1) else 0
        stride = random_stride(rng) if random_int(rng, 0, 1) else None
        lead = ((), (random_int(rng, 1, 3),), (1, random_int(rng, 1, 2)))[random_int(rng, 0, 2)]
        X = fitting_input(rng, pool_size, padding, stride, lead=lead, high=7)
        check(student, X, pool_size, mode, padding=padding, stride=stride)


# -- tips: beyond d2l's code ------------------------------------------------------------

# Python's own messages when code that never checks its arguments meets them by accident
# (`p_h, p_w = pool_size`, `range(0, n, 0)`, `X[::0]`): no answer.
ACCIDENTAL_VALUE_ERRORS = ("values to unpack", "must not be zero", "slice step cannot be zero")


def expect_value_error(student: Student, call: str, *args: Any, **kwargs: Any) -> None:
    """`pool2d(*args, **kwargs)` raises a ValueError of the student's own, not Python's by accident."""
    try:
        student.call("pool2d", *args, **kwargs)
    except StudentFailure as failure:
        if failure.kind != "raised":
            raise
        raised = failure.message.removeprefix("pool2d raised ")
        expect(raised.startswith("ValueError"), f"{call} should raise ValueError; yours raised {raised}")
        expect(not any(text in raised for text in ACCIDENTAL_VALUE_ERRORS),
               f"{call} should raise a ValueError of your own that says what is wrong; yours raised Python's "
               f"{raised}, which your code met by accident")
    else:
        raise TestFailure(f"{call} should raise ValueError; yours returned a result")


@hidden_test(function="pool2d", points=0,
             hint="an unknown mode (neither 'max' nor 'avg') can raise a ValueError that says so, instead of "
                  "returning zeros")
def pool2d_rejects_an_unknown_mode(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(4, 6, generator=rng)
    check(student, X, 2, "avg")
    expect_value_error(student, "pool2d(X, 2, mode='min')", X, 2, mode="min")


@hidden_test(function="pool2d", points=0,
             hint="padding of more than half the pool size can raise a ValueError, as nn.MaxPool2d does: some "
                  "windows would see nothing but padding")
def pool2d_rejects_padding_over_half_the_window(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(6, 6, generator=rng)
    check(student, X, 3, "max", padding=1)
    expect_value_error(student, "pool2d(X, 2, padding=2)", X, 2, padding=2)
    expect_value_error(student, "pool2d(X, (3, 2), padding=(1, 2))", X, (3, 2), padding=(1, 2))


@hidden_test(function="pool2d", points=0,
             hint="a stride or pool size of 0 can raise a ValueError of your own that says so (Python's own "
                  "errors, such as range() with a step of 0, do not count)")
def pool2d_rejects_stride_and_pool_size_0(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(6, 6, generator=rng)
    check(student, X, 2, "max", stride=(1, 2))
    expect_value_error(student, "pool2d(X, 2, stride=0)", X, 2, stride=0)
    expect_value_error(student, "pool2d(X, 2, stride=(1, 0))", X, 2, stride=(1, 0))
    expect_value_error(student, "pool2d(X, 0)", X, 0)


@hidden_test(function="pool2d", points=0,
             hint="integer images can be pooled too: compute in floating point (integers' .mean() fails) and "
                  "return a floating result")
def pool2d_integer_input(student: Student, rng: torch.Generator) -> None:
    X = torch.randint(-5, 6, (5, 6), generator=rng)
    for mode in MODES:
        expect_close(student.pool2d(X, 2, mode=mode, padding=1),
                     reference.pool2d(X, 2, mode, padding=1),
                     what=f"pool2d(X, 2, mode={mode!r}, padding=1) for an integer 5x6 X")


@hidden_test(function="pool2d", points=0,
             hint="float64 input can give a float64 result computed in float64 (make the padded input and the "
                  "output with X's dtype instead of torch.zeros' float32)")
def pool2d_keeps_float64(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(5, 6, generator=rng, dtype=F64)
    for mode in MODES:
        Y = student.pool2d(X, 2, mode=mode, padding=1)
        expect(Y.dtype == F64, f"pool2d for float64 X should return float64; yours returned {Y.dtype}")
        expect_close(Y, reference.pool2d(X, 2, mode, padding=1),
                     what=f"pool2d(X, 2, mode={mode!r}, padding=1) in float64")
