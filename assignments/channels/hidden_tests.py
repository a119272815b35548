"""Hidden tests of `channels`: random channel counts and sizes against the
reference, integer input, gradients, and how the 1x1 convolution's work scales.

The seeds' code is the model answer and earns every point: seed 003's
`sum(corr2d(x, k) for x, k in zip(X, K))` on its float32 `corr2d`, and d2l's
`torch.stack` and reshape-and-matmul. What that code lacks (a float64 result
for float64 input, integer input to the 1x1, a channel-count check) shows only
as zero-point tips.

Every input is drawn from `rng`. Sizes stay small (outputs of at most 8x8 per
channel, at most 4x4 channel pairs) so that a solution built on the seeds'
double-loop `corr2d` still runs each test well under a second.
"""

from __future__ import annotations

import torch

import reference
from grader.authoring.inputs import random_int, shape_text
from grader.authoring.testkit import Student, StudentFailure, TestFailure, expect, expect_close, hidden_test


def _case(rng: torch.Generator, *, c_o: int | None = None, c_i_min: int = 1, c_i_max: int = 4,
          dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """X (c_i, h, w) and K ([c_o,] c_i, k_h, k_w), with an output of at most 8x8."""
    c_i = random_int(rng, c_i_min, c_i_max)
    k_h, k_w = random_int(rng, 1, 3), random_int(rng, 1, 3)
    h, w = k_h - 1 + random_int(rng, 1, 8), k_w - 1 + random_int(rng, 1, 8)
    X = torch.randn(c_i, h, w, generator=rng, dtype=dtype)
    shape = (c_i, k_h, k_w) if c_o is None else (c_o, c_i, k_h, k_w)
    return X, torch.randn(*shape, generator=rng, dtype=dtype)


def _expect_value_error(student: Student, name: str, X: torch.Tensor, K: torch.Tensor) -> None:
    what = f"{name}(X, K) for a {shape_text(X.shape)} X and a {shape_text(K.shape)} K"
    try:
        student.call(name, X, K)
    except StudentFailure as failure:
        if failure.kind != "raised":
            raise
        raised = failure.message.removeprefix(f"{name} raised ")
        expect(raised.startswith("ValueError"),
               f"{what} should raise ValueError (the channel counts do not match); it raised {raised}")
    else:
        raise TestFailure(f"{what} should raise ValueError (the channel counts do not match); it returned a result")


# ---------------------------------------------------------------- corr2d_multi_in

@hidden_test(function="corr2d_multi_in", points=9,
             hint="your result differs from the sum over channels of each channel's cross-correlation "
                  "for random channel counts and sizes")
def corr2d_multi_in_matches_reference_random_channels(student: Student, rng: torch.Generator) -> None:
    for _ in range(3):
        X, K = _case(rng, c_i_min=2, c_i_max=5)
        expect_close(student.corr2d_multi_in(X, K), reference.corr2d_multi_in(X.double(), K.double()),
                     what=f"corr2d_multi_in(X, K) for a {shape_text(X.shape)} X and a {shape_text(K.shape)} K")


@hidden_test(function="corr2d_multi_in", points=6,
             hint="your result is not the sum of the single-channel results: "
                  "adding a channel must add its cross-correlation to the output")
def corr2d_multi_in_is_sum_of_single_channel_results(student: Student, rng: torch.Generator) -> None:
    X, K = _case(rng, c_i_min=3, c_i_max=4, dtype=torch.float64)
    whole = student.corr2d_multi_in(X, K)
    parts = sum(reference.corr2d(X[c], K[c]) for c in range(X.shape[0]))
    expect_close(whole, parts,
                 what=f"corr2d_multi_in(X, K) for a {shape_text(X.shape)} X and a {shape_text(K.shape)} K",
                 hint="it should equal the sum over c of corr2d(X[c], K[c])")


@hidden_test(function="corr2d_multi_in", points=4,
             hint="with a single channel your result differs from the plain 2D cross-correlation")
def corr2d_multi_in_single_channel_is_corr2d(student: Student, rng: torch.Generator) -> None:
    X, K = _case(rng, c_i_min=1, c_i_max=1, dtype=torch.float64)
    expect_close(student.corr2d_multi_in(X, K), reference.corr2d(X[0], K[0]),
                 what=f"corr2d_multi_in(X, K) for one channel, a {shape_text(X.shape)} X and a {shape_text(K.shape)} K")


@hidden_test(function="corr2d_multi_in", points=4,
             hint="integer input should be computed in floating point and give a floating-point result")
def corr2d_multi_in_integer_input(student: Student, rng: torch.Generator) -> None:
    X, K = _case(rng, c_i_min=2, c_i_max=3)
    X, K = torch.randint(-5, 6, X.shape, generator=rng), torch.randint(-5, 6, K.shape, generator=rng)
    expect_close(student.corr2d_multi_in(X, K), reference.corr2d_multi_in(X.double(), K.double()),
                 what="corr2d_multi_in(X, K) for integer X and K")


@hidden_test(function="corr2d_multi_in", points=0,
             hint="float64 input could give a float64 result; a corr2d that starts from "
                  "torch.zeros(shape) always returns float32 (torch.zeros(shape, dtype=X.dtype) keeps it)")
def corr2d_multi_in_keeps_float64(student: Student, rng: torch.Generator) -> None:
    X, K = _case(rng, c_i_min=2, c_i_max=4, dtype=torch.float64)
    Y = student.corr2d_multi_in(X, K)
    expect(Y.dtype == torch.float64, f"corr2d_multi_in(X, K) for float64 X and K should return float64; "
                                     f"yours returned {Y.dtype}")
    expect_close(Y, reference.corr2d_multi_in(X, K), what="corr2d_multi_in(X, K) for float64 X and K")


@hidden_test(function="corr2d_multi_in", points=0,
             hint="zip(X, K) silently drops channels when X and K have different numbers "
                  "of channels; check X.shape[0] == K.shape[0] and raise ValueError")
def corr2d_multi_in_rejects_mismatched_channels(student: Student, rng: torch.Generator) -> None:
    c_i = random_int(rng, 2, 4)
    X = torch.randn(c_i, 5, 5, generator=rng)
    _expect_value_error(student, "corr2d_multi_in", X, torch.randn(c_i - 1, 2, 2, generator=rng))
    _expect_value_error(student, "corr2d_multi_in", X, torch.randn(c_i + 1, 2, 2, generator=rng))


# ---------------------------------------------------------------- corr2d_multi_in_out

@hidden_test(function="corr2d_multi_in_out", points=11,
             hint="your result differs from the reference for random numbers of input and output channels")
def corr2d_multi_in_out_matches_reference_random_channels(student: Student, rng: torch.Generator) -> None:
    for _ in range(3):
        X, K = _case(rng, c_o=random_int(rng, 1, 4))
        expect_close(student.corr2d_multi_in_out(X, K), reference.corr2d_multi_in_out(X.double(), K.double()),
                     what=f"corr2d_multi_in_out(X, K) for a {shape_text(X.shape)} X and a {shape_text(K.shape)} K")


@hidden_test(function="corr2d_multi_in_out", points=7,
             hint="output channel o should be the multi-input cross-correlation with kernel K[o], "
                  "with the output channels on the first axis")
def corr2d_multi_in_out_channel_o_uses_kernel_o(student: Student, rng: torch.Generator) -> None:
    X, K = _case(rng, c_o=random_int(rng, 2, 4), c_i_min=2, dtype=torch.float64)
    Y = student.corr2d_multi_in_out(X, K)
    expected = [reference.corr2d_multi_in(X, K[o]) for o in range(K.shape[0])]
    expect_close(Y, (K.shape[0], *expected[0].shape),
                 what=f"corr2d_multi_in_out(X, K) for a {shape_text(X.shape)} X and a {shape_text(K.shape)} K")
    for o, channel in enumerate(expected):
        expect_close(Y[o], channel, what=f"output channel {o} of corr2d_multi_in_out(X, K)",
                     hint=f"it should be corr2d_multi_in(X, K[{o}])")


@hidden_test(function="corr2d_multi_in_out", points=4,
             hint="integer input should be computed in floating point and give a floating-point result")
def corr2d_multi_in_out_integer_input(student: Student, rng: torch.Generator) -> None:
    X, K = _case(rng, c_o=random_int(rng, 2, 3), c_i_max=3)
    X, K = torch.randint(-5, 6, X.shape, generator=rng), torch.randint(-5, 6, K.shape, generator=rng)
    expect_close(student.corr2d_multi_in_out(X, K), reference.corr2d_multi_in_out(X.double(), K.double()),
                 what="corr2d_multi_in_out(X, K) for integer X and K")


@hidden_test(function="corr2d_multi_in_out", points=0,
             hint="float64 input could give a float64 result; a corr2d that starts from "
                  "torch.zeros(shape) always returns float32 (torch.zeros(shape, dtype=X.dtype) keeps it)")
def corr2d_multi_in_out_keeps_float64(student: Student, rng: torch.Generator) -> None:
    X, K = _case(rng, c_o=random_int(rng, 2, 3), dtype=torch.float64)
    Y = student.corr2d_multi_in_out(X, K)
    expect(Y.dtype == torch.float64, f"corr2d_multi_in_out(X, K) for float64 X and K should return float64; "
                                     f"yours returned {Y.dtype}")
    expect_close(Y, reference.corr2d_multi_in_out(X, K), what="corr2d_multi_in_out(X, K) for float64 X and K")


@hidden_test(function="corr2d_multi_in_out", points=0,
             hint="kernels whose input channels do not match X's channels could raise "
                  "ValueError (check X.shape[0] == K.shape[1]) instead of zip dropping channels silently")
def corr2d_multi_in_out_rejects_mismatched_channels(student: Student, rng: torch.Generator) -> None:
    c_i, c_o = random_int(rng, 2, 4), random_int(rng, 1, 3)
    X = torch.randn(c_i, 5, 5, generator=rng)
    _expect_value_error(student, "corr2d_multi_in_out", X, torch.randn(c_o, c_i - 1, 2, 2, generator=rng))
    _expect_value_error(student, "corr2d_multi_in_out", X, torch.randn(c_o, c_i + 1, 2, 2, generator=rng))


@hidden_test(function="corr2d_multi_in_out", points=6,
             hint="gradients of the output should flow back to both X and K (keep the computation in torch "
                  "operations autograd can follow)")
def corr2d_multi_in_out_gradients_reach_X_and_K(student: Student, rng: torch.Generator) -> None:
    X, K = _case(rng, c_o=random_int(rng, 2, 3), c_i_min=2, c_i_max=3, dtype=torch.float64)
    with torch.no_grad():
        shape = reference.corr2d_multi_in_out(X, K).shape
    G = torch.randn(*shape, generator=rng, dtype=torch.float64)
    Y, (dX, dK) = student.gradients("corr2d_multi_in_out", X, K, wrt=[0, 1], grad_output=G)
    X_ref, K_ref = X.clone().requires_grad_(True), K.clone().requires_grad_(True)
    torch.nn.functional.conv2d(X_ref.unsqueeze(0), K_ref)[0].backward(G)
    with torch.no_grad():
        expected = torch.nn.functional.conv2d(X.unsqueeze(0), K)[0]
    expect_close(Y, expected, what="corr2d_multi_in_out(X, K) while computing gradients")
    expect(dX is not None, "no gradient reached X through corr2d_multi_in_out(X, K): "
                           "the output is not connected to X by operations autograd can follow")
    expect(dK is not None, "no gradient reached K through corr2d_multi_in_out(X, K): "
                           "the output is not connected to K by operations autograd can follow")
    expect_close(dX, X_ref.grad, what="the gradient of corr2d_multi_in_out(X, K) with respect to X")
    expect_close(dK, K_ref.grad, what="the gradient of corr2d_multi_in_out(X, K) with respect to K")


# ---------------------------------------------------------------- corr2d_multi_in_out_1x1

def _case_1x1(rng: torch.Generator, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    c_i, c_o = random_int(rng, 1, 6), random_int(rng, 1, 6)
    h, w = random_int(rng, 1, 9), random_int(rng, 1, 9)
    return (torch.randn(c_i, h, w, generator=rng, dtype=dtype),
            torch.randn(c_o, c_i, 1, 1, generator=rng, dtype=dtype))


@hidden_test(function="corr2d_multi_in_out_1x1", points=11,
             hint="at every pixel, output channel o should be the sum over input channels c of K[o, c] times X[c]")
def one_by_one_matches_channel_matmul(student: Student, rng: torch.Generator) -> None:
    for _ in range(3):
        X, K = _case_1x1(rng)
        expect_close(student.corr2d_multi_in_out_1x1(X, K),
                     reference.corr2d_multi_in_out_1x1(X.double(), K.double()),
                     what=f"corr2d_multi_in_out_1x1(X, K) for a {shape_text(X.shape)} X and a {shape_text(K.shape)} K")


@hidden_test(function="corr2d_multi_in_out_1x1", points=5,
             hint="a kernel that permutes the channels should permute your output channels the same way")
def one_by_one_permutation_kernel_reorders_channels(student: Student, rng: torch.Generator) -> None:
    c = random_int(rng, 3, 5)
    X = torch.randn(c, random_int(rng, 2, 6), random_int(rng, 2, 6), generator=rng, dtype=torch.float64)
    order = torch.randperm(c, generator=rng)
    if torch.equal(order, torch.arange(c)):  # a real reordering: a copy of X must not pass
        order = order.roll(1)
    K = torch.eye(c, dtype=torch.float64)[order].reshape(c, c, 1, 1)
    expect_close(student.corr2d_multi_in_out_1x1(X, K), X[order],
                 what="corr2d_multi_in_out_1x1(X, K) for a kernel that reorders the channels",
                 hint="output channel o should be input channel order[o]")


@hidden_test(function="corr2d_multi_in_out_1x1", points=4,
             hint="your 1x1 convolution is wrong when it changes the number of channels a lot: "
                  "many input channels down to one or two, and one or two up to many")
def one_by_one_changes_channel_count(student: Student, rng: torch.Generator) -> None:
    for c_i, c_o in ((random_int(rng, 8, 16), random_int(rng, 1, 2)), (random_int(rng, 1, 2), random_int(rng, 8, 12))):
        X = torch.randn(c_i, random_int(rng, 2, 6), random_int(rng, 2, 6), generator=rng)
        K = torch.randn(c_o, c_i, 1, 1, generator=rng)
        expect_close(student.corr2d_multi_in_out_1x1(X, K),
                     reference.corr2d_multi_in_out_1x1(X.double(), K.double()),
                     what=f"corr2d_multi_in_out_1x1(X, K) for a {shape_text(X.shape)} X and a {shape_text(K.shape)} K")


@hidden_test(function="corr2d_multi_in_out_1x1", points=8,
             hint="your 1x1 convolution does more work on bigger images: compute all pixels with one matrix "
                  "multiplication (X reshaped to (c_i, h * w)), not a Python loop over pixels")
def one_by_one_scales_like_one_matmul(student: Student, rng: torch.Generator) -> None:
    c_i, c_o = random_int(rng, 2, 4), random_int(rng, 2, 4)
    h, w = random_int(rng, 3, 5), random_int(rng, 3, 5)
    K = torch.randn(c_o, c_i, 1, 1, generator=rng)
    small = torch.randn(c_i, h, w, generator=rng)
    big = torch.randn(c_i, 2 * h, 2 * w, generator=rng)  # four times the pixels
    for X in (small, big):  # the answer must be right before its cost counts
        expect_close(student.corr2d_multi_in_out_1x1(X, K), reference.corr2d_multi_in_out_1x1(X.double(), K.double()),
                     what=f"corr2d_multi_in_out_1x1(X, K) for a {shape_text(X.shape)} X and a {shape_text(K.shape)} K")
    cost_small = student.cost("corr2d_multi_in_out_1x1", small, K)
    cost_big = student.cost("corr2d_multi_in_out_1x1", big, K)
    for what, few, many in (("tensor operations", cost_small.tensor_ops, cost_big.tensor_ops),
                            ("lines of Python", cost_small.python_lines, cost_big.python_lines)):
        slack = 2 + few // 10
        expect(many <= few + slack,
               f"corr2d_multi_in_out_1x1 ran {many} {what} on a {2 * h}x{2 * w} image but {few} on a "
               f"{h}x{w} image: the work should not grow with the number of pixels (one matrix multiplication)")


@hidden_test(function="corr2d_multi_in_out_1x1", points=0,
             hint="integer input could be computed in floating point (X.float()): "
                  "torch.matmul of integer tensors returns an integer tensor")
def one_by_one_integer_input(student: Student, rng: torch.Generator) -> None:
    X, K = _case_1x1(rng)
    X, K = torch.randint(-5, 6, X.shape, generator=rng), torch.randint(-5, 6, K.shape, generator=rng)
    expect_close(student.corr2d_multi_in_out_1x1(X, K),
                 reference.corr2d_multi_in_out_1x1(X.double(), K.double()),
                 what="corr2d_multi_in_out_1x1(X, K) for integer X and K")


@hidden_test(function="corr2d_multi_in_out_1x1", points=0,
             hint="float64 input could give a float64 result")
def one_by_one_keeps_float64(student: Student, rng: torch.Generator) -> None:
    X, K = _case_1x1(rng, dtype=torch.float64)
    Y = student.corr2d_multi_in_out_1x1(X, K)
    expect(Y.dtype == torch.float64, f"corr2d_multi_in_out_1x1(X, K) for float64 X and K should return float64; "
                                     f"yours returned {Y.dtype}")
    expect_close(Y, reference.corr2d_multi_in_out_1x1(X, K),
                 what="corr2d_multi_in_out_1x1(X, K) for float64 X and K")


@hidden_test(function="corr2d_multi_in_out_1x1", points=0,
             hint="a kernel whose input channels do not match X's channels could raise "
                  "ValueError (check X.shape[0] == K.shape[1]) with a message that says so")
def one_by_one_rejects_mismatched_channels(student: Student, rng: torch.Generator) -> None:
    c_i, c_o = random_int(rng, 2, 4), random_int(rng, 1, 3)
    X = torch.randn(c_i, 4, 4, generator=rng)
    _expect_value_error(student, "corr2d_multi_in_out_1x1", X, torch.randn(c_o, c_i - 1, 1, 1, generator=rng))
    _expect_value_error(student, "corr2d_multi_in_out_1x1", X, torch.randn(c_o, c_i + 1, 1, 1, generator=rng))
