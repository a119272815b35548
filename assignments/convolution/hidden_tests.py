"""Hidden tests of `convolution`: convolve2d against the flipped cross-correlation,
symmetric and asymmetric kernels; corr1d and corr3d against PyTorch's conv1d and
conv3d (computed here, in the grader); float32, float64 and integer input.

Every graded test checks values against the reference, at float32 precision
whatever dtype comes back (`expect_close`): the lecture's loops, which build
their output with `torch.zeros` (float32), earn full marks. Whether float64 input
stays float64 is a tip (0 points), beyond the grading contract.

Every input is drawn from `rng`. Sizes stay small (at most 8x8 2D outputs and
5x5x5 3D outputs) so that a solution with Python loops over the output still
runs each test well under a second.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import reference
from grader.authoring.inputs import random_int, shape_text
from grader.authoring.testkit import Student, expect, expect_close, hidden_test

# Seed 000's Gaussian blur kernel.
GAUSSIAN_BLUR = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]], dtype=torch.float64) / 16


def _image(rng: torch.Generator, k_h: int, k_w: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A random image with an output of at most 8x8 for a k_h x k_w kernel."""
    return torch.randn(k_h - 1 + random_int(rng, 1, 8), k_w - 1 + random_int(rng, 1, 8), generator=rng, dtype=dtype)


def _conv1d(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """PyTorch's 1D cross-correlation, in float64."""
    return F.conv1d(x.double()[None, None], k.double()[None, None])[0, 0]


def _conv3d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """PyTorch's 3D cross-correlation, in float64."""
    return F.conv3d(X.double()[None, None], K.double()[None, None])[0, 0]


# ---------------------------------------------------------------- convolve2d

@hidden_test(function="convolve2d", points=10,
             hint="your result differs from the cross-correlation with the kernel flipped on both axes, "
                  "for random float32 and float64 images and kernels")
def convolve2d_matches_corr2d_of_flipped_kernel(student: Student, rng: torch.Generator) -> None:
    for trial, dtype in enumerate((torch.float32, torch.float32, torch.float64)):
        low = 2 if trial == 0 else 1  # at least one kernel with two rows and two columns to flip
        K = torch.randn(random_int(rng, low, 4), random_int(rng, low, 4), generator=rng, dtype=dtype)
        X = _image(rng, *K.shape, dtype=dtype)
        expect_close(student.convolve2d(X, K), reference.corr2d(X.double(), K.double().flip(0, 1)),
                     what=f"convolve2d(X, K) for a {shape_text(X.shape)} X and a {shape_text(K.shape)} K")


@hidden_test(function="convolve2d", points=3,
             hint="for the lecture's Gaussian blur kernel, which is symmetric, your convolution should equal "
                  "the cross-correlation")
def convolve2d_equals_corr2d_for_gaussian_blur(student: Student, rng: torch.Generator) -> None:
    X = _image(rng, 3, 3)
    expect_close(student.convolve2d(X, GAUSSIAN_BLUR), reference.corr2d(X, GAUSSIAN_BLUR),
                 what="convolve2d(X, K) for the Gaussian blur kernel")


@hidden_test(function="convolve2d", points=4,
             hint="for kernels unchanged by a 180-degree rotation (K == K.flip(0, 1)) your convolution should "
                  "equal the cross-correlation")
def convolve2d_equals_corr2d_for_point_symmetric_kernels(student: Student, rng: torch.Generator) -> None:
    for _ in range(2):
        R = torch.randn(random_int(rng, 2, 4), random_int(rng, 2, 4), generator=rng, dtype=torch.float64)
        K = R + R.flip(0, 1)  # point-symmetric, but (in general) not symmetric about either axis alone
        X = _image(rng, *K.shape)
        expect_close(student.convolve2d(X, K), reference.corr2d(X, K),
                     what=f"convolve2d(X, K) for a {K.shape[0]}x{K.shape[1]} kernel with K == K.flip(0, 1)")


@hidden_test(function="convolve2d", points=5,
             hint="for the lecture's asymmetric edge kernel and its transpose, your convolution does not flip the "
                  "kernel on both axes")
def convolve2d_flips_asymmetric_edge_kernels(student: Student, rng: torch.Generator) -> None:
    for K in (torch.tensor([[1.0, -1.0]], dtype=torch.float64), torch.tensor([[1.0], [-1.0]], dtype=torch.float64)):
        X = _image(rng, *K.shape)
        # Flipping [[1, -1]] negates it: the convolution finds the same edges with the opposite sign.
        expect_close(student.convolve2d(X, K), -reference.corr2d(X, K),
                     what=f"convolve2d(X, K) for the edge kernel K = {K.tolist()}",
                     hint="it should be -corr2d(X, K), since flipping this kernel negates it")


@hidden_test(function="convolve2d", points=3,
             hint="when the kernel is as large as the image, the single output should be the sum of X times the "
                  "flipped kernel")
def convolve2d_kernel_as_large_as_the_image(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(random_int(rng, 2, 5), random_int(rng, 2, 5), generator=rng, dtype=torch.float64)
    K = torch.randn(*X.shape, generator=rng, dtype=torch.float64)
    expect_close(student.convolve2d(X, K), (X * K.flip(0, 1)).sum().reshape(1, 1),
                 what=f"convolve2d(X, K) for X and K both {shape_text(X.shape)}")


@hidden_test(function="convolve2d", points=3,
             hint="integer input should be computed in floating point and give a floating-point result")
def convolve2d_integer_input(student: Student, rng: torch.Generator) -> None:
    K = torch.randint(-5, 6, (random_int(rng, 2, 3), random_int(rng, 2, 3)), generator=rng)
    X = torch.randint(-5, 6, tuple(_image(rng, *K.shape).shape), generator=rng)
    expect_close(student.convolve2d(X, K), reference.corr2d(X.double(), K.double().flip(0, 1)),
                 what="convolve2d(X, K) for integer X and K")


@hidden_test(function="convolve2d", points=0,
             hint="float64 input could give a float64 result; a corr2d that starts from torch.zeros(shape) "
                  "returns float32 (torch.zeros(shape, dtype=X.dtype) keeps float64)")
def convolve2d_keeps_float64(student: Student, rng: torch.Generator) -> None:
    K = torch.randn(random_int(rng, 2, 3), random_int(rng, 2, 3), generator=rng, dtype=torch.float64)
    X = _image(rng, *K.shape)
    Y = student.convolve2d(X, K)
    expect(Y.dtype == torch.float64, f"convolve2d(X, K) for float64 X and K should return float64; "
                                     f"yours returned {Y.dtype}")
    expect_close(Y, reference.corr2d(X, K.flip(0, 1)), what="convolve2d(X, K) for float64 X and K")


# ---------------------------------------------------------------- corr1d

@hidden_test(function="corr1d", points=10,
             hint="your result differs from PyTorch's conv1d (a cross-correlation) for random lengths, "
                  "float32 and float64")
def corr1d_matches_conv1d_random_lengths(student: Student, rng: torch.Generator) -> None:
    for dtype in (torch.float32, torch.float32, torch.float64):
        k = torch.randn(random_int(rng, 2, 5), generator=rng, dtype=dtype)
        x = torch.randn(k.shape[0] - 1 + random_int(rng, 1, 20), generator=rng, dtype=dtype)
        expect_close(student.corr1d(x, k), _conv1d(x, k),
                     what=f"corr1d(x, k) for x of length {x.shape[0]} and k of length {k.shape[0]}")


@hidden_test(function="corr1d", points=5,
             hint="when the kernel is as long as the input there is exactly one output, the dot product of the two")
def corr1d_kernel_as_long_as_input(student: Student, rng: torch.Generator) -> None:
    x = torch.randn(random_int(rng, 2, 9), generator=rng, dtype=torch.float64)
    k = torch.randn(x.shape[0], generator=rng, dtype=torch.float64)
    expect_close(student.corr1d(x, k), _conv1d(x, k),
                 what=f"corr1d(x, k) for x and k both of length {x.shape[0]}")


@hidden_test(function="corr1d", points=5,
             hint="a kernel of length 1 should scale the input and keep its length")
def corr1d_length_one_kernel(student: Student, rng: torch.Generator) -> None:
    x = torch.randn(random_int(rng, 1, 12), generator=rng, dtype=torch.float64)
    k = torch.randn(1, generator=rng, dtype=torch.float64)
    expect_close(student.corr1d(x, k), x * k,
                 what=f"corr1d(x, k) for x of length {x.shape[0]} and k of length 1")


@hidden_test(function="corr1d", points=3,
             hint="your first output is not the dot product of the kernel with the first window of the input")
def corr1d_first_output_is_first_window(student: Student, rng: torch.Generator) -> None:
    k = torch.randn(random_int(rng, 2, 4), generator=rng, dtype=torch.float64)
    x = torch.randn(k.shape[0] + random_int(rng, 3, 8), generator=rng, dtype=torch.float64)
    y = student.corr1d(x, k)
    expect(y.dim() == 1 and y.shape[0] >= 1,
           f"corr1d(x, k) for x of length {x.shape[0]} and k of length {k.shape[0]} should return a "
           f"non-empty 1D tensor; yours has shape {tuple(y.shape)}")
    expect_close(y[:1], (x[:k.shape[0]] * k).sum().reshape(1),
                 what="the first output of corr1d(x, k)", hint="it should be sum_a x[a] * k[a]")


@hidden_test(function="corr1d", points=3,
             hint="integer input should be computed in floating point and give a floating-point result")
def corr1d_integer_input(student: Student, rng: torch.Generator) -> None:
    k = torch.randint(-5, 6, (random_int(rng, 2, 4),), generator=rng)
    x = torch.randint(-5, 6, (k.shape[0] + random_int(rng, 0, 12),), generator=rng)
    expect_close(student.corr1d(x, k), _conv1d(x, k), what="corr1d(x, k) for integer x and k")


@hidden_test(function="corr1d", points=0,
             hint="float64 input could give a float64 result; an output made with torch.zeros(n) is float32 "
                  "(torch.zeros(n, dtype=x.dtype) keeps float64)")
def corr1d_keeps_float64(student: Student, rng: torch.Generator) -> None:
    k = torch.randn(random_int(rng, 2, 4), generator=rng, dtype=torch.float64)
    x = torch.randn(k.shape[0] + random_int(rng, 0, 12), generator=rng, dtype=torch.float64)
    y = student.corr1d(x, k)
    expect(y.dtype == torch.float64, f"corr1d(x, k) for float64 x and k should return float64; yours returned {y.dtype}")
    expect_close(y, _conv1d(x, k), what="corr1d(x, k) for float64 x and k")


# ---------------------------------------------------------------- corr3d

def _volume(rng: torch.Generator, kernel_shape: tuple[int, ...], dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A random volume with an output of at most 5x5x5 for the kernel."""
    return torch.randn(*(k - 1 + random_int(rng, 1, 5) for k in kernel_shape), generator=rng, dtype=dtype)


@hidden_test(function="corr3d", points=11,
             hint="your result differs from PyTorch's conv3d (a cross-correlation) for random small volumes, "
                  "float32 and float64")
def corr3d_matches_conv3d_random_volumes(student: Student, rng: torch.Generator) -> None:
    for dtype in (torch.float32, torch.float32, torch.float64):
        K = torch.randn(random_int(rng, 1, 3), random_int(rng, 1, 3), random_int(rng, 1, 3), generator=rng, dtype=dtype)
        X = _volume(rng, tuple(K.shape), dtype=dtype)
        expect_close(student.corr3d(X, K), _conv3d(X, K),
                     what=f"corr3d(X, K) for a {shape_text(X.shape)} X and a {shape_text(K.shape)} K")


@hidden_test(function="corr3d", points=4,
             hint="for a volume and a kernel of depth 1, your result differs from the 2D cross-correlation")
def corr3d_depth_one_is_corr2d(student: Student, rng: torch.Generator) -> None:
    K = torch.randn(1, random_int(rng, 1, 3), random_int(rng, 1, 3), generator=rng, dtype=torch.float64)
    X = _volume(rng, tuple(K.shape))[:1]
    expect_close(student.corr3d(X, K), reference.corr2d(X[0], K[0]).unsqueeze(0),
                 what=f"corr3d(X, K) for a {shape_text(X.shape)} X and a {shape_text(K.shape)} K")


@hidden_test(function="corr3d", points=4,
             hint="when the kernel is as large as the volume, the single output should be the sum of X times K")
def corr3d_kernel_fills_the_volume(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(random_int(rng, 1, 3), random_int(rng, 1, 3), random_int(rng, 1, 3), generator=rng,
                    dtype=torch.float64)
    K = torch.randn(*X.shape, generator=rng, dtype=torch.float64)
    expect_close(student.corr3d(X, K), (X * K).sum().reshape(1, 1, 1),
                 what=f"corr3d(X, K) for X and K both {shape_text(X.shape)}")


@hidden_test(function="corr3d", points=4,
             hint="a kernel with a single 1 should shift the volume by that entry's offsets on the same axes: "
                  "check the order of your axes and offsets")
def corr3d_single_one_kernel_shifts_the_volume(student: Student, rng: torch.Generator) -> None:
    shape = (random_int(rng, 2, 3), random_int(rng, 2, 3), random_int(rng, 2, 3))
    a, b, c = (random_int(rng, 0, n - 1) for n in shape)
    if (a, b, c) == (0, 0, 0):  # a 1 at the origin would be passed by a copy of X's corner
        c = shape[2] - 1
    K = torch.zeros(shape, dtype=torch.float64)
    K[a, b, c] = 1.0
    X = _volume(rng, shape)
    d, h, w = (n - k + 1 for n, k in zip(X.shape, shape))
    expect_close(student.corr3d(X, K), X[a:a + d, b:b + h, c:c + w],
                 what=f"corr3d(X, K) for a {shape_text(X.shape)} X and a kernel whose only 1 is at K[{a}, {b}, {c}]")


@hidden_test(function="corr3d", points=3,
             hint="integer input should be computed in floating point and give a floating-point result")
def corr3d_integer_input(student: Student, rng: torch.Generator) -> None:
    K = torch.randint(-5, 6, (random_int(rng, 1, 3), random_int(rng, 1, 3), random_int(rng, 1, 3)), generator=rng)
    X = torch.randint(-5, 6, tuple(_volume(rng, tuple(K.shape)).shape), generator=rng)
    expect_close(student.corr3d(X, K), _conv3d(X, K), what="corr3d(X, K) for integer X and K")


@hidden_test(function="corr3d", points=0,
             hint="float64 input could give a float64 result; an output made with torch.zeros(shape) is float32 "
                  "(torch.zeros(shape, dtype=X.dtype) keeps float64)")
def corr3d_keeps_float64(student: Student, rng: torch.Generator) -> None:
    K = torch.randn(random_int(rng, 1, 3), random_int(rng, 1, 3), random_int(rng, 1, 3), generator=rng,
                    dtype=torch.float64)
    X = _volume(rng, tuple(K.shape))
    Y = student.corr3d(X, K)
    expect(Y.dtype == torch.float64, f"corr3d(X, K) for float64 X and K should return float64; yours returned {Y.dtype}")
    expect_close(Y, _conv3d(X, K), what="corr3d(X, K) for float64 X and K")
