"""Public tests of `convolution`: the lecture's worked examples, and non-square
shapes checked value by value against PyTorch's own conv1d/conv2d/conv3d.

Run them with `grade --public`. The hidden tests check much more (random sizes
against PyTorch's own layers, symmetric and asymmetric kernels, integer input).
Values are compared at float32 precision, whatever dtype comes back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from grader.authoring.testkit import Student, expect_close, public_test


@public_test(function="convolve2d", points=4)
def convolve2d_flips_the_lecture_kernel(student: Student, rng: torch.Generator) -> None:
    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    # corr2d(X, K) is [[19, 25], [37, 43]]; the convolution uses the flipped kernel [[3, 2], [1, 0]].
    expect_close(student.convolve2d(X, K), torch.tensor([[5.0, 11.0], [23.0, 29.0]]),
                 what="convolve2d(X, K) for the lecture's X = [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and K = [[0, 1], [2, 3]]",
                 hint="the kernel must be flipped on both axes (K.flip(0, 1)) before the cross-correlation")


@public_test(function="convolve2d", points=2)
def convolve2d_non_square_image_and_kernel(student: Student, rng: torch.Generator) -> None:
    X = torch.arange(35.0).reshape(5, 7) % 6
    K = torch.tensor([[1.0, 2.0, 0.0], [-1.0, 0.0, 3.0]])
    # The convolution is PyTorch's conv2d (a cross-correlation) with the kernel flipped on both axes.
    expected = F.conv2d(X[None, None], K.flip(0, 1)[None, None])[0, 0]
    expect_close(student.convolve2d(X, K), expected,
                 what="convolve2d(X, K) for the 5x7 X = arange(35).reshape(5, 7) % 6 and K = [[1, 2, 0], [-1, 0, 3]]",
                 hint="the output has shape (n_h - k_h + 1, n_w - k_w + 1), and the kernel is flipped on both axes")


@public_test(function="corr1d", points=4)
def corr1d_lecture_example(student: Student, rng: torch.Generator) -> None:
    x = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    k = torch.tensor([1.0, 2.0])
    expect_close(student.corr1d(x, k), torch.tensor([2.0, 5.0, 8.0, 11.0, 14.0, 17.0]),
                 what="corr1d(x, k) for x = [0, 1, ..., 6] and k = [1, 2]",
                 hint="y[i] should be x[i] * k[0] + x[i + 1] * k[1]")


@public_test(function="corr1d", points=2)
def corr1d_longer_kernel(student: Student, rng: torch.Generator) -> None:
    x = torch.tensor([3.0, -1.0, 4.0, 1.0, -5.0, 9.0, 2.0, -6.0, 5.0, 3.0])
    k = torch.tensor([1.0, -2.0, 0.5, 3.0])
    expect_close(student.corr1d(x, k), F.conv1d(x[None, None], k[None, None])[0, 0],
                 what="corr1d(x, k) for x = [3, -1, 4, 1, -5, 9, 2, -6, 5, 3] and k = [1, -2, 0.5, 3]",
                 hint="there are n - k + 1 = 7 outputs, and y[i] = sum_a x[i + a] * k[a]")


@public_test(function="corr3d", points=4)
def corr3d_box_sum_example(student: Student, rng: torch.Generator) -> None:
    video = torch.arange(27.0).reshape(3, 3, 3)  # 3 frames of 3x3 pixels: X[t, i, j] = 9t + 3i + j
    expected = torch.tensor([[[52.0, 60.0], [76.0, 84.0]], [[124.0, 132.0], [148.0, 156.0]]])
    expect_close(student.corr3d(video, torch.ones(2, 2, 2)), expected,
                 what="corr3d(X, K) for the 3x3x3 video X = arange(27) and a 2x2x2 kernel of ones",
                 hint="each output should be the sum of the 2x2x2 box of X under the kernel")


@public_test(function="corr3d", points=2)
def corr3d_single_one_kernel_shifts_the_video(student: Student, rng: torch.Generator) -> None:
    video = torch.arange(27.0).reshape(3, 3, 3)
    K = torch.zeros(2, 2, 2)
    K[1, 0, 1] = 1.0
    expect_close(student.corr3d(video, K), video[1:3, 0:2, 1:3],
                 what="corr3d(X, K) for the 3x3x3 video X = arange(27) and a kernel whose only 1 is at K[1, 0, 1]",
                 hint="Y[t, i, j] should be X[t + 1, i, j + 1]: check the order of your axes and offsets")


@public_test(function="corr3d", points=2)
def corr3d_non_cubic_volume_and_kernel(student: Student, rng: torch.Generator) -> None:
    X = torch.arange(120.0).reshape(4, 5, 6) % 7
    K = torch.tensor([[[1.0, 0.0], [2.0, -1.0], [0.0, 1.0]], [[-2.0, 1.0], [0.0, 0.0], [3.0, 1.0]]])
    expect_close(student.corr3d(X, K), F.conv3d(X[None, None], K[None, None])[0, 0],
                 what="corr3d(X, K) for X = arange(120).reshape(4, 5, 6) % 7 and a 2x3x2 K",
                 hint="the output has shape (n_d - k_d + 1, n_h - k_h + 1, n_w - k_w + 1) = (3, 3, 5), "
                      "and Y[t, i, j] = sum_abc X[t + a, i + b, j + c] * K[a, b, c]")
