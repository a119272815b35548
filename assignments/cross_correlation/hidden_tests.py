"""Hidden tests of `cross_correlation`: properties on random inputs and comparisons with `reference`.

Every input is drawn from `rng`. Inputs of `corr2d` stay small (outputs of at
most about 12x12 pixels) so that the seeds' double loop passes in time.

The grading contract (issue 10): the seeds' code scores 100, so what it lacks
(float64 kept as float64, integer input to `learn_kernel`) is a 0-point tip;
every comparison allows for float32; and every test that checks a property of
the student against themselves (shape, linearity, shifts, silence) also checks
values against `reference` in the same test, so that an answer that does
nothing (zeros, a constant, random values of the right shape) earns almost
nothing.
"""

from __future__ import annotations

import torch

import reference
from grader.authoring.answers import weight_and_losses
from grader.authoring.inputs import random_int, shape_text
from grader.authoring.testkit import Student, TestFailure, Training, expect, expect_close, hidden_test

F64 = torch.float64


# -- corr2d ------------------------------------------------------------------------

@hidden_test(function="corr2d", points=3,
             hint="your output shape or values are wrong for some input and kernel shapes: the shape must be "
                  "(n_h - k_h + 1, n_w - k_w + 1), with Y[i, j] the sum of X[i:i + k_h, j:j + k_w] * K")
def corr2d_output_shape_law(student: Student, rng: torch.Generator) -> None:
    for _ in range(6):
        n_h, n_w = random_int(rng, 1, 9), random_int(rng, 1, 9)
        k_h, k_w = random_int(rng, 1, n_h), random_int(rng, 1, n_w)
        X, K = torch.randn(n_h, n_w, generator=rng), torch.randn(k_h, k_w, generator=rng)
        Y = student.corr2d(X, K)
        what = f"corr2d(X, K) for a {n_h}x{n_w} X and a {k_h}x{k_w} K"
        expect_close(Y, (n_h - k_h + 1, n_w - k_w + 1), what=what)
        expect_close(Y, reference.corr2d(X.to(F64), K.to(F64)), what=what)   # zeros of the right shape are not it


@hidden_test(function="corr2d", points=6,
             hint="your values differ from the cross-correlation for some shapes (a kernel as large as the image, "
                  "1x1 kernels, tall or wide images)")
def corr2d_matches_reference_random_shapes(student: Student, rng: torch.Generator) -> None:
    n = random_int(rng, 2, 6)
    cases = [
        ((n, n + 1), (n, n + 1)),                                      # kernel == input: a single output
        ((random_int(rng, 3, 9), random_int(rng, 3, 9)), (1, 1)),            # 1x1 kernel: a scaled copy
        ((random_int(rng, 10, 14), random_int(rng, 2, 4)), (3, 2)),          # tall
        ((random_int(rng, 2, 4), random_int(rng, 10, 14)), (2, 3)),          # wide
        ((random_int(rng, 6, 10), random_int(rng, 6, 10)), (random_int(rng, 2, 4), random_int(rng, 2, 4))),
    ]
    for x_shape, k_shape in cases:
        X, K = torch.randn(x_shape, generator=rng), torch.randn(k_shape, generator=rng)
        expect_close(student.corr2d(X, K), reference.corr2d(X.to(F64), K.to(F64)),
                     what=f"corr2d(X, K) for a {shape_text(x_shape)} X and a {shape_text(k_shape)} K")


@hidden_test(function="corr2d", points=3,
             hint="corr2d is not linear in X, or not the cross-correlation on random images: corr2d(a X1 + b X2, K) "
                  "must equal a corr2d(X1, K) + b corr2d(X2, K), each Y[i, j] the sum of X[i:i + k_h, j:j + k_w] * K")
def corr2d_linear_in_X(student: Student, rng: torch.Generator) -> None:
    X1, X2 = torch.randn(7, 8, generator=rng, dtype=F64), torch.randn(7, 8, generator=rng, dtype=F64)
    K = torch.randn(3, 2, generator=rng, dtype=F64)
    a, b = (float(v) for v in torch.randn(2, generator=rng, dtype=F64))
    Y, Y1, Y2 = student.corr2d(a * X1 + b * X2, K), student.corr2d(X1, K), student.corr2d(X2, K)
    # Linearity alone is met by zeros: the parts must also be right.
    expect_close(Y1, reference.corr2d(X1, K), what="corr2d(X1, K) for a random 7x8 X1 and 3x2 K")
    expect_close(Y2, reference.corr2d(X2, K), what="corr2d(X2, K) for a random 7x8 X2 and 3x2 K")
    expect_close(Y, a * Y1.to(F64) + b * Y2.to(F64),
                 what="corr2d(a X1 + b X2, K) compared with a corr2d(X1, K) + b corr2d(X2, K)")


@hidden_test(function="corr2d", points=3,
             hint="corr2d is not linear in K, or not the cross-correlation with random kernels: corr2d(X, a K1 + b K2) "
                  "must equal a corr2d(X, K1) + b corr2d(X, K2), each Y[i, j] the sum of X[i:i + k_h, j:j + k_w] * K")
def corr2d_linear_in_K(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(8, 7, generator=rng, dtype=F64)
    K1, K2 = torch.randn(2, 3, generator=rng, dtype=F64), torch.randn(2, 3, generator=rng, dtype=F64)
    a, b = (float(v) for v in torch.randn(2, generator=rng, dtype=F64))
    Y, Y1, Y2 = student.corr2d(X, a * K1 + b * K2), student.corr2d(X, K1), student.corr2d(X, K2)
    # Linearity alone is met by zeros: the parts must also be right.
    expect_close(Y1, reference.corr2d(X, K1), what="corr2d(X, K1) for a random 8x7 X and 2x3 K1")
    expect_close(Y2, reference.corr2d(X, K2), what="corr2d(X, K2) for a random 8x7 X and 2x3 K2")
    expect_close(Y, a * Y1.to(F64) + b * Y2.to(F64),
                 what="corr2d(X, a K1 + b K2) compared with a corr2d(X, K1) + b corr2d(X, K2)")


@hidden_test(function="corr2d", points=4,
             hint="your output does not shift when the input shifts, or is not the cross-correlation on a random "
                  "image: check your window indices")
def corr2d_translation_equivariance(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(11, 12, generator=rng, dtype=F64)
    K = torch.randn(3, 2, generator=rng, dtype=F64)
    Y = student.corr2d(X, K)
    # Shifting zeros gives zeros: the unshifted output must be right first.
    expect_close(Y, reference.corr2d(X, K), what="corr2d(X, K) for an 11x12 X and a 3x2 K")
    di, dj = random_int(rng, 1, 3), random_int(rng, 1, 3)
    expect_close(student.corr2d(X[di:, dj:], K), Y[di:, dj:],
                 what=f"corr2d of the image with its first {di} rows and {dj} columns cut off")
    expect_close(student.corr2d(X[:-di, :-dj], K), Y[:-di, :-dj],
                 what=f"corr2d of the image with its last {di} rows and {dj} columns cut off")


@hidden_test(function="corr2d", points=4,
             hint="a kernel with a single 1 at (a, b) must copy the window of X that starts at (a, b): "
                  "check that K[a, b] multiplies X[i + a, j + b] (no flipping, no transposing)")
def corr2d_delta_kernel_picks_a_window(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(8, 9, generator=rng, dtype=F64)
    k_h, k_w = random_int(rng, 2, 4), random_int(rng, 2, 4)
    h, w = 8 - k_h + 1, 9 - k_w + 1
    for a, b in [(0, 0), (k_h - 1, k_w - 1), (random_int(rng, 0, k_h - 1), random_int(rng, 0, k_w - 1))]:
        K = torch.zeros(k_h, k_w, dtype=F64)
        K[a, b] = 1.0
        expect_close(student.corr2d(X, K), X[a:a + h, b:b + w],
                     what=f"corr2d(X, K) for a {k_h}x{k_w} K that is 1 at ({a}, {b}) and 0 elsewhere")


@hidden_test(function="corr2d", points=3,
             hint="integer inputs must be computed in floating point and give a floating result")
def corr2d_integer_input(student: Student, rng: torch.Generator) -> None:
    X = torch.randint(-5, 6, (random_int(rng, 5, 9), random_int(rng, 5, 9)), generator=rng)
    K = torch.randint(-3, 4, (random_int(rng, 1, 3), random_int(rng, 1, 3)), generator=rng)
    expect_close(student.corr2d(X, K), reference.corr2d(X, K),
                 what=f"corr2d(X, K) for an integer {shape_text(X.shape)} X and an integer {shape_text(K.shape)} K")


@hidden_test(function="corr2d", points=4,
             hint="the gradients of corr2d's output do not reach X and K correctly: build the output with tensor "
                  "operations only, without .data, .item(), .detach() or torch.tensor(...)")
def corr2d_gradients_reach_X_and_K(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(random_int(rng, 5, 8), random_int(rng, 5, 8), generator=rng)
    K = torch.randn(random_int(rng, 2, 3), random_int(rng, 2, 3), generator=rng)
    G = torch.randn(X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1, generator=rng)
    output, (dX, dK) = student.gradients("corr2d", X, K, wrt=[0, 1], grad_output=G)
    expect_close(output, G.shape, what="corr2d(X, K) with gradients on")
    # Float32 in, float64 reference: this test is about the gradients, not the precision.
    X_ref, K_ref = X.to(F64).requires_grad_(True), K.to(F64).requires_grad_(True)
    reference.corr2d(X_ref, K_ref).backward(G.to(F64))
    expect(dX is not None, "no gradient reaches X from corr2d's output")
    expect(dK is not None, "no gradient reaches K from corr2d's output")
    expect_close(dX, X_ref.grad, what="the gradient of corr2d(X, K) with respect to X")
    expect_close(dK, K_ref.grad, what="the gradient of corr2d(X, K) with respect to K")


@hidden_test(function="corr2d", points=0,
             hint="float64 input gives a float32 result: that is fine (the seeds' torch.zeros output is float32), "
                  "but torch.zeros(..., dtype=X.dtype) would keep float64's precision")
def corr2d_float64_stays_float64(student: Student, rng: torch.Generator) -> None:
    """A tip, worth no points: the seeds' corr2d returns float32 for float64 input."""
    X = torch.randn(random_int(rng, 5, 9), random_int(rng, 5, 9), generator=rng, dtype=F64)
    K = torch.randn(3, 3, generator=rng, dtype=F64)
    Y = student.corr2d(X, K)
    expect(Y.dtype == F64, f"corr2d(X, K) for float64 X and K should return float64; yours returned {Y.dtype}")
    expect_close(Y, reference.corr2d(X, K), what="corr2d(X, K) in float64")


# -- Conv2D ------------------------------------------------------------------------

@hidden_test(function="Conv2D", points=1,
             hint="Conv2D(kernel_size) must have exactly two parameters: 'weight' of shape kernel_size and 'bias' of shape (1,)")
def conv2d_parameter_names_and_shapes(student: Student, rng: torch.Generator) -> None:
    for _ in range(3):
        kernel_size = (random_int(rng, 1, 4), random_int(rng, 1, 4))
        run = student.module("Conv2D", kernel_size)
        expect(set(run.parameters) == {"weight", "bias"},
               f"Conv2D({kernel_size}) should have exactly the parameters 'weight' and 'bias'; "
               f"yours has {sorted(run.parameters)}")
        expect_close(run.parameters["weight"], kernel_size, what=f"Conv2D({kernel_size}).weight")
        expect_close(run.parameters["bias"], (1,), what=f"Conv2D({kernel_size}).bias")


@hidden_test(function="Conv2D", points=5,
             hint="Conv2D's forward must cross-correlate its input with self.weight")
def conv2d_forward_correlates_with_its_weight(student: Student, rng: torch.Generator) -> None:
    kernel_size = (random_int(rng, 1, 3), random_int(rng, 1, 3))
    W = torch.randn(kernel_size, generator=rng)
    inputs = [torch.randn(random_int(rng, 4, 9), random_int(rng, 4, 9), generator=rng) for _ in range(2)]
    # Only the weight is loaded: whatever bias the layer has (if any) is read back.
    run = student.module("Conv2D", kernel_size, parameters={"weight": W}, inputs=inputs)
    bias = run.parameters.get("bias", torch.zeros(1)).to(F64).reshape(-1)
    expect(bias.numel() == 1, f"Conv2D({kernel_size}).bias should hold one value; yours has shape {tuple(bias.shape)}")
    for x, y in zip(inputs, run.outputs):
        expect_close(y, reference.corr2d(x.to(F64), W.to(F64)) + bias,
                     what=f"Conv2D({kernel_size}) with the grader's weight on a {shape_text(x.shape)} input")


@hidden_test(function="Conv2D", points=4,
             hint="Conv2D's forward must add self.bias to the cross-correlation")
def conv2d_forward_adds_its_bias(student: Student, rng: torch.Generator) -> None:
    kernel_size = (random_int(rng, 1, 3), random_int(rng, 1, 3))
    W = torch.randn(kernel_size, generator=rng)
    b = torch.randn(1, generator=rng)
    inputs = [torch.randn(random_int(rng, 4, 9), random_int(rng, 4, 9), generator=rng) for _ in range(2)]
    run = student.module("Conv2D", kernel_size, parameters={"weight": W, "bias": b}, inputs=inputs)
    for x, y in zip(inputs, run.outputs):
        expect_close(y, reference.corr2d(x.to(F64), W.to(F64)) + b.to(F64),
                     what=f"Conv2D({kernel_size}) with the grader's weight and bias on a {shape_text(x.shape)} input")


def windows(X: torch.Tensor, kernel_size: tuple[int, int], bias: bool) -> torch.Tensor:
    """One row per output pixel: the pixels under the window (and a 1 for the bias)."""
    k_h, k_w = kernel_size
    h, w = X.shape[0] - k_h + 1, X.shape[1] - k_w + 1
    columns = [X[a:a + h, b:b + w].reshape(-1) for a in range(k_h) for b in range(k_w)]
    if bias:
        columns.append(torch.ones(h * w, dtype=X.dtype))
    return torch.stack(columns, 1)


def best_learning_rate(X: torch.Tensor, kernel_size: tuple[int, int], bias: bool) -> float:
    """2 / (largest + smallest eigenvalue) of the squared loss's Hessian: the fastest
    reliable step for plain gradient descent, so the tests need few steps."""
    A = windows(X.to(F64), kernel_size, bias)
    eigenvalues = torch.linalg.eigvalsh(2 * A.T @ A)
    return float(2 / (eigenvalues[-1] + eigenvalues[0]))


@hidden_test(function="Conv2D", points=6,
             hint="training your Conv2D with gradient descent does not reach the kernel and bias that produced "
                  "the targets: gradients must reach both weight and bias through forward")
def conv2d_trains_to_a_random_kernel(student: Student, rng: torch.Generator) -> None:
    kernel_size = (random_int(rng, 1, 3), random_int(rng, 1, 3))
    X = torch.randn(kernel_size[0] + 7, kernel_size[1] + 7, generator=rng)   # an 8x8 output
    K_true = torch.randn(kernel_size, generator=rng)
    b_true = 0.5 * torch.randn(1, generator=rng)
    Y = (reference.corr2d(X.to(F64), K_true.to(F64)) + b_true.to(F64)).to(torch.float32)
    lr, steps = best_learning_rate(X, kernel_size, bias=True), 30
    run = student.module("Conv2D", kernel_size,
                         parameters={"weight": torch.rand(kernel_size, generator=rng), "bias": torch.zeros(1)},
                         inputs=[X], train=Training(X=X, Y=Y, lr=lr, steps=steps))
    losses = run.losses
    expect(losses[-1] <= 1e-3 * losses[0],
           f"training Conv2D({kernel_size}) for {steps} steps should cut the loss by 1000x; "
           f"yours went from {losses[0]:.3g} to {losses[-1]:.3g}")
    weight, bias = run.parameters["weight"].to(F64), run.parameters["bias"].to(F64)
    error = float((weight.reshape(kernel_size) - K_true.to(F64)).abs().max())
    expect(error < 0.03, f"after training, Conv2D({kernel_size})'s weight should be the target kernel; "
                         f"it is off by up to {error:.3g}")
    expect(abs(float(bias.reshape(-1)[0]) - float(b_true)) < 0.03,
           f"after training, Conv2D({kernel_size})'s bias should be the target bias {float(b_true):.3f}; "
           f"yours is {bias.reshape(-1).tolist()}")
    expect_close(run.outputs[0], reference.corr2d(X.to(F64), weight.reshape(kernel_size)) + bias.reshape(-1)[0],
                 what=f"the trained Conv2D({kernel_size})'s output compared with corr2d(x, weight) + bias of its own parameters")


# -- horizontal_edge_kernel ----------------------------------------------------------

def edge_kernel(student: Student) -> torch.Tensor:
    K = student.horizontal_edge_kernel()
    expect(K.dim() == 2 and 1 <= K.shape[0] <= 3 and 1 <= K.shape[1] <= 3,
           f"horizontal_edge_kernel() should return a 2D kernel of at most 3x3; yours has shape {tuple(K.shape)}")
    expect(bool(torch.isfinite(K.to(F64)).all()), "horizontal_edge_kernel() contains NaN or infinite values")
    return K.to(F64)


def step_profile(rng: torch.Generator, n: int) -> torch.Tensor:
    """n integer values, constant in runs of 2 to 4, with a non-zero integer step between runs.

    Runs of at least 2 mean a window of at most 3 rows never straddles two steps."""
    values: list[float] = []
    level = random_int(rng, -3, 3)
    while len(values) < n:
        values += [float(level)] * random_int(rng, 2, 4)
        step = random_int(rng, 1, 4) * (1 if random_int(rng, 0, 1) else -1)
        level += step
    return torch.tensor(values[:n], dtype=F64)


def zero_tolerance(X: torch.Tensor, K: torch.Tensor) -> float:
    """What counts as zero: a float32 kernel's rounding (0.1 + 0.2 - 0.3 != 0) is no response."""
    return 1e-5 * (1.0 + float(X.abs().max()) * float(K.abs().sum()))


@hidden_test(function="horizontal_edge_kernel", points=2,
             hint="horizontal_edge_kernel() must return a 2D tensor of at most 3x3, not all zeros")
def horizontal_edge_kernel_shape(student: Student, rng: torch.Generator) -> None:
    K = edge_kernel(student)
    expect(bool((K != 0).any()), "horizontal_edge_kernel() returned a kernel of zeros, which detects nothing")


@hidden_test(function="horizontal_edge_kernel", points=5,
             hint="your kernel responds where there is no change between rows (on constant images or on images "
                  "with only vertical edges), or does not respond to a horizontal edge at all: every column of the "
                  "kernel must sum to zero, and the kernel must compare rows")
def horizontal_edge_kernel_silent_without_row_changes(student: Student, rng: torch.Generator) -> None:
    K = edge_kernel(student)
    n_h, n_w = random_int(rng, 6, 10), random_int(rng, 6, 10)
    # Silence alone is met by a kernel of zeros: it must also see a horizontal edge.
    step = torch.zeros(n_h, n_w, dtype=F64)
    step[random_int(rng, 1, n_h - 1):] = float(random_int(rng, 1, 5))
    Y = reference.corr2d(step, K)
    expect(bool((Y.abs() > zero_tolerance(step, K)).any()),
           "corr2d(X, horizontal_edge_kernel()) is zero everywhere on an image with one horizontal edge")
    images = {
        "a constant image": torch.full((n_h, n_w), float(random_int(rng, 1, 5)), dtype=F64),
        "an image with only vertical edges (X[i, j] = g(j), g a step function)":
            step_profile(rng, n_w).expand(n_h, n_w).clone(),
        "an image whose columns are random (X[i, j] = g(j))":
            torch.randint(-4, 5, (n_w,), generator=rng).to(F64).expand(n_h, n_w).clone(),
    }
    for what, X in images.items():
        Y = reference.corr2d(X, K)
        expect(bool((Y.abs() <= zero_tolerance(X, K)).all()),
               f"corr2d(X, horizontal_edge_kernel()) should be zero everywhere on {what}; "
               f"it is {float(Y.abs().max()):.3g} at most")


@hidden_test(function="horizontal_edge_kernel", points=5,
             hint="your kernel misses some horizontal edges, or responds away from them: it must be non-zero "
                  "exactly where its window straddles a change between two rows")
def horizontal_edge_kernel_finds_row_steps(student: Student, rng: torch.Generator) -> None:
    K = edge_kernel(student)
    k_h = K.shape[0]
    expect(k_h >= 2, "horizontal_edge_kernel() has a single row, so its window never sees two rows "
                     "and cannot detect a horizontal edge")
    for _ in range(3):
        n_h, n_w = random_int(rng, 8, 12), random_int(rng, 5, 8)
        f = step_profile(rng, n_h)
        X = f[:, None].expand(n_h, n_w).clone()          # X[i, j] = f(i): only horizontal edges
        Y = reference.corr2d(X, K)
        tol = zero_tolerance(X, K)
        for i in range(Y.shape[0]):
            straddles = bool((f[i:i + k_h - 1] != f[i + 1:i + k_h]).any())
            if straddles and not bool((Y[i].abs() > tol).all()):
                raise TestFailure(f"on an image with horizontal edges only, corr2d(X, horizontal_edge_kernel()) "
                                  f"is zero in output row {i}, whose window straddles a step between two rows")
            if not straddles and not bool((Y[i].abs() <= tol).all()):
                raise TestFailure(f"on an image with horizontal edges only, corr2d(X, horizontal_edge_kernel()) "
                                  f"is non-zero in output row {i}, whose window sees no change between rows")


# -- learn_kernel --------------------------------------------------------------------

def as_kernel(weight: torch.Tensor, kernel_size: tuple[int, int], call: str) -> torch.Tensor:
    """The learned values as a float64 kernel; its exact shape is one test's business."""
    if weight.numel() != kernel_size[0] * kernel_size[1]:
        raise TestFailure(f"the weight that {call} returns should have shape {kernel_size}; "
                          f"yours has {tuple(weight.shape)}")
    return weight.detach().to(F64).reshape(kernel_size)


def learning_problem(rng: torch.Generator, integer: bool = False) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    kernel_size = (random_int(rng, 1, 3), random_int(rng, 1, 3))
    shape = (kernel_size[0] + 7, kernel_size[1] + 7)
    if integer:
        X = torch.randint(-3, 4, shape, generator=rng)
        K_true = torch.randint(-2, 3, kernel_size, generator=rng)
        return X, reference.corr2d(X, K_true).round().to(torch.int64), kernel_size
    X = torch.randn(shape, generator=rng)
    K_true = torch.randn(kernel_size, generator=rng)
    return X, reference.corr2d(X.to(F64), K_true.to(F64)).to(torch.float32), kernel_size


def least_squares_kernel(X: torch.Tensor, Y: torch.Tensor, kernel_size: tuple[int, int]) -> torch.Tensor:
    A = windows(X.to(F64), kernel_size, bias=False)
    return torch.linalg.lstsq(A, Y.to(F64).reshape(-1, 1)).solution.reshape(kernel_size)


def squared_loss(X: torch.Tensor, Y: torch.Tensor, weight: torch.Tensor) -> float:
    return float(((reference.corr2d(X.to(F64), weight.to(F64)) - Y.to(F64)) ** 2).sum())


@hidden_test(function="learn_kernel", points=2,
             hint="learn_kernel must return (weight, losses): the kernel as a 2D tensor of shape kernel_size and "
                  "a list of num_epochs Python floats (default 10)")
def learn_kernel_returns_weight_and_losses(student: Student, rng: torch.Generator) -> None:
    X, Y, kernel_size = learning_problem(rng)
    epochs = random_int(rng, 3, 7)
    call = f"learn_kernel(X, Y, {kernel_size}, lr=1e-3, num_epochs={epochs})"
    result = student.call("learn_kernel", X, Y, kernel_size, lr=1e-3, num_epochs=epochs)
    weight, _ = weight_and_losses(result, call)
    losses = result[1]
    expect_close(weight, kernel_size, what=f"the weight that {call} returns")
    expect(type(losses) is list and all(type(v) is float for v in losses),
           f"the losses that {call} returns should be a list of Python floats; yours are "
           f"{type(losses).__name__} of {sorted({type(v).__name__ for v in losses})}")
    expect(len(losses) == epochs, f"{call} should return {epochs} losses, one per epoch; yours returned {len(losses)}")
    call = f"learn_kernel(X, Y, {kernel_size}) with the default lr and num_epochs"
    _, losses = weight_and_losses(student.call("learn_kernel", X, Y, kernel_size), call)
    expect(len(losses) == 10, f"{call} should return 10 losses (num_epochs=10); yours returned {len(losses)}")


@hidden_test(function="learn_kernel", points=8,
             hint="learn_kernel does not recover the kernel that produced Y: train nn.Conv2d(1, 1, kernel_size, "
                  "bias=False) on the summed squared loss with plain gradient descent, using lr and num_epochs")
def learn_kernel_recovers_a_random_kernel(student: Student, rng: torch.Generator) -> None:
    X, Y, kernel_size = learning_problem(rng)
    lr, epochs = best_learning_rate(X, kernel_size, bias=False), 60
    K_true = least_squares_kernel(X, Y, kernel_size)
    call = f"learn_kernel(X, Y, {kernel_size}, lr={lr:.3g}, num_epochs={epochs})"
    weight, _ = weight_and_losses(student.call("learn_kernel", X, Y, kernel_size, lr=lr, num_epochs=epochs), call)
    error = float((as_kernel(weight, kernel_size, call) - K_true).abs().max())
    expect(error < 1e-3 * (1 + float(K_true.abs().max())),
           f"{call} on a random image should recover the kernel that produced Y; yours is off by up to {error:.3g}")


@hidden_test(function="learn_kernel", points=4,
             hint="learn_kernel's losses do not fall as gradient descent should, or are not the losses of the "
                  "kernel being trained (the summed squared error of each epoch, before its update)")
def learn_kernel_losses_fall(student: Student, rng: torch.Generator) -> None:
    X, Y, kernel_size = learning_problem(rng)
    lr, epochs = best_learning_rate(X, kernel_size, bias=False), 30
    call = f"learn_kernel(X, Y, {kernel_size}, lr={lr:.3g}, num_epochs={epochs})"
    weight, losses = weight_and_losses(student.call("learn_kernel", X, Y, kernel_size, lr=lr, num_epochs=epochs), call)
    expect(len(losses) == epochs, f"{call} should return {epochs} losses; yours returned {len(losses)}")
    expect(all(b <= a * (1 + 1e-5) + 1e-6 for a, b in zip(losses, losses[1:])),
           f"the losses of {call} should fall at every epoch; yours are {[round(v, 4) for v in losses[:6]]}...")
    expect(losses[-1] <= 1e-4 * losses[0],
           f"the loss of {call} should fall by 10000x; yours went from {losses[0]:.3g} to {losses[-1]:.3g}")
    final = squared_loss(X, Y, as_kernel(weight, kernel_size, call))
    expect(final <= losses[-1] * (1 + 1e-3) + 1e-5,
           f"the returned kernel of {call} has loss {final:.3g}, more than the last reported loss {losses[-1]:.3g}")


@hidden_test(function="learn_kernel", points=4,
             hint="with lr=0 the kernel must not move, so every epoch's loss must be the same and equal to the "
                  "summed squared error of the returned kernel")
def learn_kernel_zero_learning_rate_keeps_the_kernel(student: Student, rng: torch.Generator) -> None:
    X, Y, kernel_size = learning_problem(rng)
    call = f"learn_kernel(X, Y, {kernel_size}, lr=0.0, num_epochs=4)"
    weight, losses = weight_and_losses(student.call("learn_kernel", X, Y, kernel_size, lr=0.0, num_epochs=4), call)
    expect(len(losses) == 4, f"{call} should return 4 losses; yours returned {len(losses)}")
    expect(max(losses) - min(losses) <= 1e-5 * (1 + max(losses)),
           f"{call} should report the same loss at every epoch; yours are {losses}")
    loss = squared_loss(X, Y, as_kernel(weight, kernel_size, call))
    expect(abs(loss - losses[0]) <= 1e-4 * (1 + loss),
           f"{call} reports a loss of {losses[0]:.4g}, but the summed squared error of its kernel is {loss:.4g}")


@hidden_test(function="learn_kernel", points=0,
             hint="learn_kernel fails on integer X and Y: that is fine (the seeds' loop takes float images), but "
                  "X.float() and Y.float() before training would make nn.Conv2d accept them")
def learn_kernel_integer_input(student: Student, rng: torch.Generator) -> None:
    """A tip, worth no points: nn.Conv2d refuses integer input, and the seeds' loop does not convert it."""
    X, Y, kernel_size = learning_problem(rng, integer=True)
    lr, epochs = best_learning_rate(X, kernel_size, bias=False), 60
    K_true = least_squares_kernel(X, Y, kernel_size)
    call = f"learn_kernel(X, Y, {kernel_size}, lr={lr:.3g}, num_epochs={epochs}) with integer X and Y"
    weight, _ = weight_and_losses(student.call("learn_kernel", X, Y, kernel_size, lr=lr, num_epochs=epochs), call)
    error = float((as_kernel(weight, kernel_size, call) - K_true).abs().max())
    expect(error < 1e-3 * (1 + float(K_true.abs().max())),
           f"{call} should recover the integer kernel that produced Y; yours is off by up to {error:.3g}")
