"""Public tests of `channels`: the lecture's worked examples and the output shapes.

Run them with `grade --public`. The hidden tests check much more (random
channel counts and sizes, integer input, gradients, how the 1x1 work scales).
"""

from __future__ import annotations

import torch

from grader.authoring.testkit import Student, expect_close, public_test

# d2l's two-channel example (seed 003, section 6.4.1).
X_TWO = torch.tensor([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
                      [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
K_TWO = torch.tensor([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])


@public_test(function="corr2d_multi_in", points=5)
def corr2d_multi_in_two_channel_example(student: Student, rng: torch.Generator) -> None:
    Y = student.corr2d_multi_in(X_TWO, K_TWO)
    expect_close(Y, torch.tensor([[56.0, 72.0], [104.0, 120.0]]),
                 what="corr2d_multi_in(X, K) for the lecture's two-channel example",
                 hint="each channel's cross-correlation must be added up, not averaged or stacked")


@public_test(function="corr2d_multi_in", points=2)
def corr2d_multi_in_output_shape(student: Student, rng: torch.Generator) -> None:
    X = torch.ones(3, 5, 6)
    K = torch.ones(3, 2, 3)
    expect_close(student.corr2d_multi_in(X, K), (4, 4),
                 what="corr2d_multi_in(X, K) for X of shape (3, 5, 6) and K of shape (3, 2, 3)")


@public_test(function="corr2d_multi_in_out", points=5)
def corr2d_multi_in_out_three_kernels_example(student: Student, rng: torch.Generator) -> None:
    K = torch.stack((K_TWO, K_TWO + 1, K_TWO + 2), 0)
    expected = torch.tensor([[[56.0, 72.0], [104.0, 120.0]],
                             [[76.0, 100.0], [148.0, 172.0]],
                             [[96.0, 128.0], [192.0, 224.0]]])
    expect_close(student.corr2d_multi_in_out(X_TWO, K), expected,
                 what="corr2d_multi_in_out(X, K) for the lecture's kernels K, K + 1, K + 2",
                 hint="output channel o must be corr2d_multi_in(X, K[o]), stacked along axis 0")


@public_test(function="corr2d_multi_in_out", points=2)
def corr2d_multi_in_out_output_shape(student: Student, rng: torch.Generator) -> None:
    X = torch.ones(3, 5, 6)
    K = torch.ones(4, 3, 2, 3)
    expect_close(student.corr2d_multi_in_out(X, K), (4, 4, 4),
                 what="corr2d_multi_in_out(X, K) for X of shape (3, 5, 6) and K of shape (4, 3, 2, 3)")


@public_test(function="corr2d_multi_in_out_1x1", points=5)
def one_by_one_mixes_channels_example(student: Student, rng: torch.Generator) -> None:
    # Seed 003's figure: d_o = sum_c w_oc * c_c at every pixel, here with 3 input and 2 output channels.
    X = torch.arange(12.0).reshape(3, 2, 2)           # channels [0..3], [4..7], [8..11]
    K = torch.tensor([[1.0, 0.0, 0.0], [1.0, -2.0, 1.0]]).reshape(2, 3, 1, 1)
    expected = torch.tensor([[[0.0, 1.0], [2.0, 3.0]],  # output 0 copies input channel 0
                             [[0.0, 0.0], [0.0, 0.0]]])  # output 1: c_0 - 2 c_1 + c_2 = 0 here
    expect_close(student.corr2d_multi_in_out_1x1(X, K), expected,
                 what="corr2d_multi_in_out_1x1(X, K) for a (3, 2, 2) X and K of shape (2, 3, 1, 1)",
                 hint="output channel o at each pixel must be sum over c of K[o, c] * X[c] at that pixel")


@public_test(function="corr2d_multi_in_out_1x1", points=2)
def one_by_one_keeps_height_and_width(student: Student, rng: torch.Generator) -> None:
    X = torch.ones(3, 5, 7)
    K = torch.ones(2, 3, 1, 1)
    expect_close(student.corr2d_multi_in_out_1x1(X, K), (2, 5, 7),
                 what="corr2d_multi_in_out_1x1(X, K) for X of shape (3, 5, 7) and K of shape (2, 3, 1, 1)")
