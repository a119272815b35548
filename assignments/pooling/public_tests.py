"""Public tests of `pooling`: d2l section 6.5's worked examples.

Run them with `grade --public`. The hidden tests check much more (random sizes,
pool sizes, paddings and strides as ints and pairs, channels and batches, both
modes, the output size's floor).
"""

from __future__ import annotations

import torch

from grader.authoring.testkit import Student, expect_close, public_test

# d2l 6.5.1's 3x3 input, and 6.5.2's 4x4 one with a batch and a channel axis.
X_3X3 = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
X_4X4 = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)


@public_test(function="pool2d", points=5)
def pool2d_d2l_3x3_example_with_stride_1(student: Student, rng: torch.Generator) -> None:
    # d2l's first pool2d moves its window one pixel at a time: here that is stride=1, not the default.
    expect_close(student.pool2d(X_3X3, (2, 2), mode="max", stride=1), torch.tensor([[4.0, 5.0], [7.0, 8.0]]),
                 what="pool2d(X, (2, 2), mode='max', stride=1) for d2l's 3x3 X",
                 hint="each output is the largest value of one 2x2 window, the window moving one pixel at a time")
    expect_close(student.pool2d(X_3X3, (2, 2), mode="avg", stride=1), torch.tensor([[2.0, 3.0], [5.0, 6.0]]),
                 what="pool2d(X, (2, 2), mode='avg', stride=1) for d2l's 3x3 X",
                 hint="each output is the mean of one 2x2 window, the window moving one pixel at a time")


@public_test(function="pool2d", points=5)
def pool2d_default_stride_is_the_pool_size(student: Student, rng: torch.Generator) -> None:
    expect_close(student.pool2d(X_3X3, 2), torch.tensor([[4.0]]),
                 what="pool2d(X, 2) for d2l's 3x3 X",
                 hint="without a stride the window moves by the pool size, as in nn.MaxPool2d: one 2x2 window fits")
    X = X_4X4[0, 0]
    expect_close(student.pool2d(X, 2), torch.tensor([[5.0, 7.0], [13.0, 15.0]]),
                 what="pool2d(X, 2) for X = arange(16).reshape(4, 4)")
    expect_close(student.pool2d(X, 2, mode="avg"), torch.tensor([[2.5, 4.5], [10.5, 12.5]]),
                 what="pool2d(X, 2, mode='avg') for X = arange(16).reshape(4, 4)")


@public_test(function="pool2d", points=5)
def pool2d_d2l_padding_and_stride_examples(student: Student, rng: torch.Generator) -> None:
    expect_close(student.pool2d(X_4X4, 3), torch.tensor([[[[10.0]]]]),
                 what="pool2d(X, 3) for d2l's X = arange(16).reshape(1, 1, 4, 4), as nn.MaxPool2d(3)")
    expect_close(student.pool2d(X_4X4, 3, padding=1, stride=2), torch.tensor([[[[5.0, 7.0], [13.0, 15.0]]]]),
                 what="pool2d(X, 3, padding=1, stride=2) for d2l's 1x1x4x4 X, as nn.MaxPool2d(3, padding=1, stride=2)")
    expect_close(student.pool2d(X_4X4, (2, 3), padding=(0, 1), stride=(2, 3)),
                 torch.tensor([[[[5.0, 7.0], [13.0, 15.0]]]]),
                 what="pool2d(X, (2, 3), padding=(0, 1), stride=(2, 3)) for d2l's 1x1x4x4 X",
                 hint="the first entry of each pair is for the height, the second for the width")


@public_test(function="pool2d", points=5)
def pool2d_d2l_two_channels(student: Student, rng: torch.Generator) -> None:
    X = torch.cat((X_4X4, X_4X4 + 1), 1)
    expected = torch.tensor([[[[5.0, 7.0], [13.0, 15.0]], [[6.0, 8.0], [14.0, 16.0]]]])
    expect_close(student.pool2d(X, 3, padding=1, stride=2), expected,
                 what="pool2d(X, 3, padding=1, stride=2) for d2l's two channels torch.cat((X, X + 1), 1)",
                 hint="each channel is pooled on its own: the output has as many channels as the input")


@public_test(function="pool2d", points=5)
def pool2d_padding_max_ignores_it_and_avg_counts_its_zeros(student: Student, rng: torch.Generator) -> None:
    ones = torch.ones(4, 4)
    counted = torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])
    expect_close(student.pool2d(ones, 2, mode="avg", padding=1), counted,
                 what="pool2d(torch.ones(4, 4), 2, mode='avg', padding=1)",
                 hint="average pooling divides by the whole window, padded zeros included, as nn.AvgPool2d does")
    expect_close(student.pool2d(-ones, 2, mode="max", padding=1), -torch.ones(3, 3),
                 what="pool2d(-torch.ones(4, 4), 2, mode='max', padding=1)",
                 hint="max pooling pads with -inf, as nn.MaxPool2d does: padding is never the maximum")
