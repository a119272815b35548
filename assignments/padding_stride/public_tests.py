"""Public tests of `padding_stride`: the lecture's worked examples and shapes.

Run them with `grade --public`. The hidden tests check much more (random sizes,
paddings and strides, 'same' with even kernels, dtypes, errors, other layers).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from grader.authoring.testkit import Student, StudentFailure, TestFailure, expect, expect_close, public_test

# d2l's examples on an 8x8 input (seed 003, section 6.3): kernel, padding, stride -> output shape.
D2L_EXAMPLES = [
    ((3, 3), 1, 1, (8, 8)),
    ((5, 3), (2, 1), 1, (8, 8)),
    ((3, 3), 1, 2, (4, 4)),
    ((3, 5), (0, 1), (3, 4), (2, 2)),
]

# Seed 004's check of padding='same' with an even kernel.
SEED004_X = torch.tensor([[4.0, 1.0, 7.0, 5.0], [4.0, 4.0, 2.0, 5.0], [7.0, 7.0, 2.0, 4.0], [1.0, 0.0, 2.0, 4.0]])
SEED004_K = torch.tensor([[1.0, 0.0], [2.0, 1.0]])
SEED004_Y = torch.tensor([[16.0, 11.0, 16.0, 15.0], [25.0, 20.0, 10.0, 13.0], [9.0, 9.0, 10.0, 12.0], [1.0, 0.0, 2.0, 4.0]])


def as_shape(result: Any, call: str) -> tuple[int, ...]:
    """The answer of conv_output_shape as a tuple, or a TestFailure."""
    if not isinstance(result, (tuple, list)) or not all(isinstance(n, (int, float)) for n in result):
        raise TestFailure(f"{call} should return a tuple of two ints; yours returned {result!r}")
    return tuple(result)


# Python's own messages when code that never checks its arguments meets them by accident
# (`ph, pw = padding` with padding='same', `range(0, n, 0)`, `X[::0]`): no answer.
ACCIDENTAL_VALUE_ERRORS = ("values to unpack", "must not be zero", "slice step cannot be zero")


def torch_corr2d(X: torch.Tensor, K: torch.Tensor, padding: Any, stride: Any) -> torch.Tensor:
    """PyTorch's own cross-correlation of a 2D X and K, in float64, for the expected answer."""
    return torch.nn.functional.conv2d(X.to(torch.float64)[None, None], K.to(torch.float64)[None, None],
                                      padding=padding, stride=stride)[0, 0]


def conv2d_argument(W: torch.Tensor, b: torch.Tensor | None, padding: Any, stride: Any) -> dict[str, Any]:
    """An `nn.Conv2d` described as plain data; the worker builds the layer from it."""
    return {"$conv2d": {"weight": W, "bias": b, "padding": padding, "stride": stride}}


def conv2d_layer(W: torch.Tensor, b: torch.Tensor | None, padding: Any, stride: Any) -> nn.Conv2d:
    """The same layer, built here in float64 for the expected answer."""
    layer = nn.Conv2d(1, 1, tuple(W.shape[2:]), padding=padding, stride=stride, bias=b is not None,
                      dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(W)
        if b is not None:
            layer.bias.copy_(b)
    return layer


@public_test(function="conv_output_shape", points=4)
def conv_output_shape_lecture_examples(student: Student, rng: torch.Generator) -> None:
    for kernel, padding, stride, expected in D2L_EXAMPLES:
        call = f"conv_output_shape((8, 8), {kernel}, padding={padding}, stride={stride})"
        result = as_shape(student.call("conv_output_shape", (8, 8), kernel, padding=padding, stride=stride), call)
        expect(result == expected, f"{call} should be {expected}; yours returned {result}")


@public_test(function="corr2d_pad_stride", points=5)
def corr2d_pad_stride_seed004_same_example(student: Student, rng: torch.Generator) -> None:
    expect_close(student.corr2d_pad_stride(SEED004_X, SEED004_K, padding="same"), SEED004_Y,
                 what="corr2d_pad_stride(X, [[1, 0], [2, 1]], padding='same') for seed 004's 4x4 X",
                 hint="'same' pads an even kernel with the extra row at the bottom and the extra column on the right")


@public_test(function="corr2d_pad_stride", points=4)
def corr2d_pad_stride_lecture_examples(student: Student, rng: torch.Generator) -> None:
    X = torch.rand(8, 8, generator=rng)
    for kernel, padding, stride, _ in D2L_EXAMPLES:
        K = torch.rand(kernel, generator=rng)
        expect_close(student.corr2d_pad_stride(X, K, padding=padding, stride=stride), torch_corr2d(X, K, padding, stride),
                     what=f"corr2d_pad_stride(X, K, padding={padding}, stride={stride}) for an 8x8 X and a "
                          f"{kernel[0]}x{kernel[1]} K")


@public_test(function="corr2d_pad_stride", points=3)
def corr2d_pad_stride_without_padding_is_corr2d(student: Student, rng: torch.Generator) -> None:
    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    expect_close(student.corr2d_pad_stride(X, K), torch.tensor([[19.0, 25.0], [37.0, 43.0]]),
                 what="corr2d_pad_stride(X, K) with the default padding 0 and stride 1 for the lecture's 3x3 X and 2x2 K")


@public_test(function="corr2d_pad_stride", points=3)
def corr2d_pad_stride_same_refuses_stride_2(student: Student, rng: torch.Generator) -> None:
    X, K = torch.rand(8, 8, generator=rng), torch.rand(3, 3, generator=rng)
    expect_close(student.corr2d_pad_stride(X, K, padding="same", stride=1), torch_corr2d(X, K, "same", 1),
                 what="corr2d_pad_stride(X, K, padding='same', stride=1) for an 8x8 X and a 3x3 K")
    call = "corr2d_pad_stride(X, K, padding='same', stride=2)"
    try:
        student.call("corr2d_pad_stride", X, K, padding="same", stride=2)
    except StudentFailure as failure:
        if failure.kind != "raised":
            raise
        raised = failure.message.removeprefix("corr2d_pad_stride raised ")
        expect(raised.startswith("ValueError"), f"{call} should raise ValueError, as nn.Conv2d does; yours raised {raised}")
        expect(not any(text in raised for text in ACCIDENTAL_VALUE_ERRORS),
               f"{call} should raise a ValueError of your own that says why, as nn.Conv2d does; yours raised "
               f"Python's {raised}, which your code met by accident")
    else:
        raise TestFailure(f"{call} should raise ValueError, as nn.Conv2d does; yours returned a result")


@public_test(function="comp_conv2d", points=4)
def comp_conv2d_lecture_example(student: Student, rng: torch.Generator) -> None:
    # d2l: nn.Conv2d(1, 1, kernel_size=3, padding=1) keeps an 8x8 input 8x8.
    X = torch.rand(8, 8, generator=rng)
    W, b = torch.randn(1, 1, 3, 3, generator=rng), torch.randn(1, generator=rng)
    Y = student.comp_conv2d(conv2d_argument(W, b, 1, 1), X)
    with torch.no_grad():
        expected = conv2d_layer(W, b, 1, 1)(X.to(torch.float64)[None, None])[0, 0]
    expect_close(Y, expected, what="comp_conv2d(nn.Conv2d(1, 1, kernel_size=3, padding=1), X) for an 8x8 X")
