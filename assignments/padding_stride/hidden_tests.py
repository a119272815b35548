"""Hidden tests of `padding_stride`: properties on random inputs and comparisons with `reference`.

Every input is drawn from `rng`. Inputs of `corr2d_pad_stride` stay small
(outputs of at most about 12x12 pixels) so that a double-loop solution passes
in time. `comp_conv2d` receives its `nn.Conv2d` as a plain-data description
(`{"$conv2d": {...}}`) that the worker turns into a real layer.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

import reference
from grader.authoring.inputs import random_int, shape_text
from grader.authoring.testkit import Student, StudentFailure, TestFailure, expect, expect_close, hidden_test

F64 = torch.float64


def pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def formula(n: tuple[int, int], k: tuple[int, int], padding: Any, stride: Any) -> tuple[int, int]:
    """Seed 003: floor((n + 2p - k) / s) + 1 on each axis."""
    p, s = pair(padding), pair(stride)
    return tuple((n[i] + 2 * p[i] - k[i]) // s[i] + 1 for i in range(2))  # type: ignore[return-value]


def random_setting(rng: torch.Generator, max_padding: int = 2, max_stride: int = 3,
                   pairs: bool = True) -> tuple[tuple[int, int], tuple[int, int], Any, Any]:
    """(input shape, kernel shape, padding, stride), with the kernel fitting in the padded input;
    padding and stride are ints or pairs (when `pairs`)."""
    k = (random_int(rng, 1, 4), random_int(rng, 1, 4))
    if pairs and random_int(rng, 0, 1):
        padding: Any = (random_int(rng, 0, max_padding), random_int(rng, 0, max_padding))
    else:
        padding = random_int(rng, 0, max_padding)
    if pairs and random_int(rng, 0, 1):
        stride: Any = (random_int(rng, 1, max_stride), random_int(rng, 1, max_stride))
    else:
        stride = random_int(rng, 1, max_stride)
    p = pair(padding)
    n = (max(random_int(rng, 4, 10), k[0] - 2 * p[0]), max(random_int(rng, 4, 10), k[1] - 2 * p[1]))
    return n, k, padding, stride


def zero_padded(X: torch.Tensor, p_h: int, p_w: int) -> torch.Tensor:
    padded = torch.zeros(X.shape[0] + 2 * p_h, X.shape[1] + 2 * p_w, dtype=X.dtype)
    padded[p_h:p_h + X.shape[0], p_w:p_w + X.shape[1]] = X
    return padded


# Python's own messages when code that never checks its arguments meets them by accident:
# `ph, pw = padding` with padding='same', `range(0, n, 0)`, `X[::0]`. Such a ValueError is no answer.
ACCIDENTAL_VALUE_ERRORS = ("values to unpack", "must not be zero", "slice step cannot be zero")


def expect_value_error(student: Student, call: str, *args: Any, **kwargs: Any) -> None:
    """`corr2d_pad_stride(*args, **kwargs)` raises a ValueError of the student's own, not Python's by accident."""
    try:
        student.call("corr2d_pad_stride", *args, **kwargs)
    except StudentFailure as failure:
        if failure.kind != "raised":
            raise
        raised = failure.message.removeprefix("corr2d_pad_stride raised ")
        expect(raised.startswith("ValueError"), f"{call} should raise ValueError; yours raised {raised}")
        expect(not any(text in raised for text in ACCIDENTAL_VALUE_ERRORS),
               f"{call} should raise a ValueError of your own that says what is wrong; yours raised Python's "
               f"{raised}, which your code met by accident")
    else:
        raise TestFailure(f"{call} should raise ValueError; yours returned a result")


# -- conv_output_shape -----------------------------------------------------------------

def shape_answer(result: Any, call: str) -> tuple[Any, ...]:
    if not isinstance(result, (tuple, list)) or not all(isinstance(n, (int, float)) for n in result):
        raise TestFailure(f"{call} should return a tuple of two ints; yours returned {result!r}")
    return tuple(result)


@hidden_test(function="conv_output_shape", points=5,
             hint="your output shape is wrong for some int padding and stride: each axis is "
                  "floor((n + 2 * padding - k) / stride) + 1, with the padding on each side")
def conv_output_shape_matches_formula_ints(student: Student, rng: torch.Generator) -> None:
    for _ in range(8):
        n, k, padding, stride = random_setting(rng, max_padding=3, max_stride=4, pairs=False)
        n = (n[0] + random_int(rng, 0, 20), n[1] + random_int(rng, 0, 20))
        call = f"conv_output_shape({n}, {k}, padding={padding}, stride={stride})"
        result = shape_answer(student.call("conv_output_shape", n, k, padding=padding, stride=stride), call)
        expected = formula(n, k, padding, stride)
        expect(result == expected, f"{call} should be {expected}; yours returned {result}")


@hidden_test(function="conv_output_shape", points=5,
             hint="your output shape is wrong when padding or stride differ between height and width: "
                  "the first entry of a pair is for the height, the second for the width")
def conv_output_shape_matches_formula_pairs(student: Student, rng: torch.Generator) -> None:
    for _ in range(8):
        k = (random_int(rng, 1, 5), random_int(rng, 1, 5))
        padding = (random_int(rng, 0, 3), random_int(rng, 0, 3))
        stride = (random_int(rng, 1, 4), random_int(rng, 1, 4))
        if padding[0] == padding[1] and stride[0] == stride[1]:
            stride = (stride[0], stride[0] + 1)
        n = (max(k[0], random_int(rng, 3, 25)), max(k[1], random_int(rng, 3, 25)))
        call = f"conv_output_shape({n}, {k}, padding={padding}, stride={stride})"
        result = shape_answer(student.call("conv_output_shape", n, k, padding=padding, stride=stride), call)
        expected = formula(n, k, padding, stride)
        expect(result == expected, f"{call} should be {expected}; yours returned {result}")


@hidden_test(function="conv_output_shape", points=3,
             hint="conv_output_shape must return the right shape as a tuple of two Python ints "
                  "(use // or math.floor for the floor: / alone gives floats)")
def conv_output_shape_returns_python_ints(student: Student, rng: torch.Generator) -> None:
    # No padding: this test is about the type; the padding has tests of its own.
    n, k, padding, stride = (random_int(rng, 9, 15), random_int(rng, 9, 15)), (3, 2), 0, (2, 3)
    call = f"conv_output_shape({n}, {k}, padding={padding}, stride={stride})"
    result = student.call("conv_output_shape", n, k, padding=padding, stride=stride)
    expect(type(result) is tuple and len(result) == 2 and all(type(v) is int for v in result),
           f"{call} should return a tuple of two Python ints; yours returned {result!r}")
    expected = formula(n, k, padding, stride)
    expect(result == expected, f"{call} should be {expected}; yours returned {result}")


# -- corr2d_pad_stride -----------------------------------------------------------------

@hidden_test(function="corr2d_pad_stride", points=5,
             hint="padding='same' with an odd kernel must keep the input's shape, with (k - 1) / 2 zeros on every side")
def corr2d_pad_stride_same_odd_kernels(student: Student, rng: torch.Generator) -> None:
    for k in [(3, 3), (1, 5), (random_int(rng, 0, 1) * 2 + 3, 1)]:
        X = torch.randn(random_int(rng, k[0], 9), random_int(rng, k[1], 9), generator=rng)
        K = torch.randn(k, generator=rng)
        expect_close(student.corr2d_pad_stride(X, K, padding="same"), reference.corr2d_pad_stride(X.to(F64), K.to(F64), "same"),
                     what=f"corr2d_pad_stride(X, K, padding='same') for a {shape_text(X.shape)} X and a "
                          f"{shape_text(k)} K")


@hidden_test(function="corr2d_pad_stride", points=5,
             hint="padding='same' with an even kernel must keep the input's shape and put the extra row at the "
                  "bottom and the extra column on the right, as nn.Conv2d does")
def corr2d_pad_stride_same_even_kernels(student: Student, rng: torch.Generator) -> None:
    for k in [(2, 2), (4, 3), (1, 4), (2, random_int(rng, 1, 4))]:
        X = torch.randn(random_int(rng, 4, 9), random_int(rng, 4, 9), generator=rng)
        K = torch.randn(k, generator=rng)
        expect_close(student.corr2d_pad_stride(X, K, padding="same"), reference.corr2d_pad_stride(X.to(F64), K.to(F64), "same"),
                     what=f"corr2d_pad_stride(X, K, padding='same') for a {shape_text(X.shape)} X and a "
                          f"{shape_text(k)} K")


@hidden_test(function="corr2d_pad_stride", points=6,
             hint="with stride s your output is not every s-th output of stride 1: the window must move s_h rows "
                  "down and s_w columns right, both starting at 0")
def corr2d_pad_stride_stride_subsamples_stride_1(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(random_int(rng, 9, 12), random_int(rng, 9, 12), generator=rng, dtype=F64)
    K = torch.randn(random_int(rng, 2, 3), random_int(rng, 2, 3), generator=rng, dtype=F64)
    padding = (random_int(rng, 0, 2), random_int(rng, 0, 2))
    full = student.corr2d_pad_stride(X, K, padding=padding, stride=1)
    expect_close(full, reference.corr2d_pad_stride(X, K, padding, 1),
                 what=f"corr2d_pad_stride(X, K, padding={padding}, stride=1) for a {shape_text(X.shape)} X and a "
                      f"{shape_text(K.shape)} K")
    s = random_int(rng, 2, 3)
    for stride in [s, (s, 1), (1, s), (2, 3)]:
        s_h, s_w = pair(stride)
        expect_close(student.corr2d_pad_stride(X, K, padding=padding, stride=stride), full[::s_h, ::s_w],
                     what=f"corr2d_pad_stride(X, K, padding={padding}, stride={stride}) compared with every "
                          f"{s_h}th row and {s_w}th column of stride 1")


@hidden_test(function="corr2d_pad_stride", points=6,
             hint="padding p must equal cross-correlating the input surrounded by p_h rows of zeros at the top and "
                  "at the bottom and p_w columns of zeros on the left and on the right")
def corr2d_pad_stride_padding_is_zero_padding(student: Student, rng: torch.Generator) -> None:
    for padding in [random_int(rng, 1, 2), (random_int(rng, 1, 2), 0), (0, random_int(rng, 1, 2)), (1, 3)]:
        p_h, p_w = pair(padding)
        X = torch.randn(random_int(rng, 4, 8), random_int(rng, 4, 8), generator=rng, dtype=F64)
        K = torch.randn(random_int(rng, 1, 3), random_int(rng, 1, 3), generator=rng, dtype=F64)
        expect_close(student.corr2d_pad_stride(X, K, padding=padding), reference.corr2d(zero_padded(X, p_h, p_w), K),
                     what=f"corr2d_pad_stride(X, K, padding={padding}) for a {shape_text(X.shape)} X and a "
                          f"{shape_text(K.shape)} K, compared with corr2d of the zero-padded X")


@hidden_test(function="corr2d_pad_stride", points=9,
             hint="your values differ from the padded, strided cross-correlation for some paddings and strides")
def corr2d_pad_stride_matches_reference(student: Student, rng: torch.Generator) -> None:
    for _ in range(5):
        n, k, padding, stride = random_setting(rng)
        X, K = torch.randn(n, generator=rng), torch.randn(k, generator=rng)
        expect_close(student.corr2d_pad_stride(X, K, padding=padding, stride=stride),
                     reference.corr2d_pad_stride(X.to(F64), K.to(F64), padding, stride),
                     what=f"corr2d_pad_stride(X, K, padding={padding}, stride={stride}) for a {shape_text(n)} X and a "
                          f"{shape_text(k)} K")


@hidden_test(function="corr2d_pad_stride", points=3,
             hint="padding='valid' must mean no padding at all")
def corr2d_pad_stride_valid_is_no_padding(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(random_int(rng, 5, 9), random_int(rng, 5, 9), generator=rng, dtype=F64)
    K = torch.randn(random_int(rng, 1, 4), random_int(rng, 1, 4), generator=rng, dtype=F64)
    expect_close(student.corr2d_pad_stride(X, K, padding="valid"), reference.corr2d(X, K),
                 what=f"corr2d_pad_stride(X, K, padding='valid') for a {shape_text(X.shape)} X and a "
                      f"{shape_text(K.shape)} K")


@hidden_test(function="corr2d_pad_stride", points=3,
             hint="padding='same' must work with stride 1 and raise a ValueError of your own with any other "
                  "stride, as nn.Conv2d does (Python's own errors, such as a failed unpacking, do not count)")
def corr2d_pad_stride_same_with_stride_raises(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(random_int(rng, 6, 9), random_int(rng, 6, 9), generator=rng)
    K = torch.randn(2 * random_int(rng, 0, 1) + 1, 3, generator=rng)   # odd: even kernels have their own test
    for stride in [1, (1, 1)]:
        expect_close(student.corr2d_pad_stride(X, K, padding="same", stride=stride),
                     reference.corr2d_pad_stride(X.to(F64), K.to(F64), "same", 1),
                     what=f"corr2d_pad_stride(X, K, padding='same', stride={stride}) for a {shape_text(X.shape)} X "
                          f"and a {shape_text(K.shape)} K")
    for stride in [random_int(rng, 2, 3), (1, 2)]:
        expect_value_error(student, f"corr2d_pad_stride(X, K, padding='same', stride={stride})",
                           X, K, padding="same", stride=stride)


@hidden_test(function="corr2d_pad_stride", points=3,
             hint="a stride of 0 (on either axis) must raise a ValueError of your own that says so, while strides "
                  "of 1 and more work (Python's own errors, such as range() with a step of 0, do not count)")
def corr2d_pad_stride_stride_0_raises(student: Student, rng: torch.Generator) -> None:
    X, K = torch.randn(8, 8, generator=rng), torch.randn(3, 3, generator=rng)
    for stride in [(1, random_int(rng, 2, 3)), (2, 1)]:
        expect_close(student.corr2d_pad_stride(X, K, padding=1, stride=stride),
                     reference.corr2d_pad_stride(X.to(F64), K.to(F64), 1, stride),
                     what=f"corr2d_pad_stride(X, K, padding=1, stride={stride}) for an 8x8 X and a 3x3 K")
    for stride in [0, (1, 0), (0, 2)]:
        expect_value_error(student, f"corr2d_pad_stride(X, K, padding=1, stride={stride})",
                           X, K, padding=1, stride=stride)


@hidden_test(function="corr2d_pad_stride", points=3,
             hint="integer inputs must be computed in floating point and give a floating result")
def corr2d_pad_stride_integer_input(student: Student, rng: torch.Generator) -> None:
    n, k, padding, stride = random_setting(rng)
    X = torch.randint(-5, 6, n, generator=rng)
    K = torch.randint(-3, 4, k, generator=rng)
    expect_close(student.corr2d_pad_stride(X, K, padding=padding, stride=stride),
                 reference.corr2d_pad_stride(X, K, padding, stride),
                 what=f"corr2d_pad_stride(X, K, padding={padding}, stride={stride}) for an integer {shape_text(n)} X "
                      f"and an integer {shape_text(k)} K")


@hidden_test(function="corr2d_pad_stride", points=0,
             hint="float64 input can give a float64 result computed in float64 "
                  "(make the padded tensor and the output with the input's dtype instead of torch.zeros' float32)")
def corr2d_pad_stride_float64_stays_float64(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(random_int(rng, 5, 9), random_int(rng, 5, 9), generator=rng, dtype=F64)
    K = torch.randn(3, 2, generator=rng, dtype=F64)
    Y = student.corr2d_pad_stride(X, K, padding=(1, 2), stride=(2, 1))
    expect(Y.dtype == F64, f"corr2d_pad_stride for float64 X and K should return float64; yours returned {Y.dtype}")
    expect_close(Y, reference.corr2d_pad_stride(X, K, (1, 2), (2, 1)),
                 what="corr2d_pad_stride(X, K, padding=(1, 2), stride=(2, 1)) in float64")


# -- comp_conv2d -----------------------------------------------------------------------

def conv2d_argument(W: torch.Tensor, b: torch.Tensor | None, padding: Any, stride: Any) -> dict[str, Any]:
    """An `nn.Conv2d` described as plain data; the worker builds the layer from it."""
    return {"$conv2d": {"weight": W, "bias": b, "padding": padding, "stride": stride}}


def expected_output(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None, padding: Any, stride: Any) -> torch.Tensor:
    """What the layer computes, in float64, with the reference's comp_conv2d."""
    layer = nn.Conv2d(1, 1, tuple(W.shape[2:]), padding=padding, stride=stride, bias=b is not None, dtype=F64)
    with torch.no_grad():
        layer.weight.copy_(W)
        if b is not None:
            layer.bias.copy_(b)
        return reference.comp_conv2d(layer, X.to(F64))


def describe(k: Any, padding: Any, stride: Any, bias: bool = True) -> str:
    return (f"nn.Conv2d(1, 1, kernel_size={tuple(k)}, padding={padding}, stride={stride}"
            + ("" if bias else ", bias=False") + ")")


@hidden_test(function="comp_conv2d", points=9,
             hint="comp_conv2d must return exactly what the given layer computes on X with a batch and a channel "
                  "axis of size 1 added, and those two axes removed again")
def comp_conv2d_matches_the_layer(student: Student, rng: torch.Generator) -> None:
    for bias in (True, False, True):
        n, k, padding, stride = random_setting(rng)
        X = torch.randn(n, generator=rng)
        W = torch.randn(1, 1, *k, generator=rng)
        b = torch.randn(1, generator=rng) if bias else None
        expect_close(student.comp_conv2d(conv2d_argument(W, b, padding, stride), X),
                     expected_output(X, W, b, padding, stride),
                     what=f"comp_conv2d({describe(k, padding, stride, bias)}, X) for a {shape_text(n)} X")


@hidden_test(function="comp_conv2d", points=5,
             hint="comp_conv2d must return a 2D tensor (h', w'): drop the batch and channel axes, nothing else")
def comp_conv2d_returns_2d(student: Student, rng: torch.Generator) -> None:
    for _ in range(3):
        n, k, padding, stride = random_setting(rng)
        n = (n[0] + 1, n[1] + 3)   # never square
        X = torch.randn(n, generator=rng)
        W = torch.randn(1, 1, *k, generator=rng)
        b = torch.zeros(1)
        Y = student.comp_conv2d(conv2d_argument(W, b, padding, stride), X)
        expect_close(Y, expected_output(X, W, b, padding, stride),
                     what=f"comp_conv2d({describe(k, padding, stride)}, X) for a {shape_text(n)} X")


@hidden_test(function="comp_conv2d", points=4,
             hint="comp_conv2d drops output axes of size 1 that belong to the image: remove only the batch and "
                  "channel axes (squeeze() removes too much)")
def comp_conv2d_keeps_axes_of_size_1(student: Student, rng: torch.Generator) -> None:
    n = (random_int(rng, 3, 6), random_int(rng, 3, 6))
    for k in [(n[0], 2), (1, n[1]), n]:   # a single output row, a single output column, a single pixel
        X = torch.randn(n, generator=rng)
        W = torch.randn(1, 1, *k, generator=rng)
        b = torch.randn(1, generator=rng)
        expect_close(student.comp_conv2d(conv2d_argument(W, b, 0, 1), X), expected_output(X, W, b, 0, 1),
                     what=f"comp_conv2d({describe(k, 0, 1)}, X) for a {shape_text(n)} X")


@hidden_test(function="comp_conv2d", points=3,
             hint="comp_conv2d must work with a float64 layer on float64 X: hand X to the layer in the layer's dtype")
def comp_conv2d_float64_layer(student: Student, rng: torch.Generator) -> None:
    n, k, padding, stride = random_setting(rng)
    X = torch.randn(n, generator=rng, dtype=F64)
    W, b = torch.randn(1, 1, *k, generator=rng, dtype=F64), torch.randn(1, generator=rng, dtype=F64)
    Y = student.comp_conv2d(conv2d_argument(W, b, padding, stride), X)
    expect_close(Y, expected_output(X, W, b, padding, stride),
                 what=f"comp_conv2d({describe(k, padding, stride)} in float64, X) for a {shape_text(n)} X")


@hidden_test(function="comp_conv2d", points=0,
             hint="convert integer X to the layer's floating dtype before calling the "
                  "layer, and comp_conv2d works on integer images too")
def comp_conv2d_integer_input(student: Student, rng: torch.Generator) -> None:
    n, k, padding, stride = random_setting(rng)
    X = torch.randint(-5, 6, n, generator=rng)
    W, b = torch.randn(1, 1, *k, generator=rng), torch.randn(1, generator=rng)
    expect_close(student.comp_conv2d(conv2d_argument(W, b, padding, stride), X),
                 expected_output(X, W, b, padding, stride),
                 what=f"comp_conv2d({describe(k, padding, stride)}, X) for an integer {shape_text(n)} X")
