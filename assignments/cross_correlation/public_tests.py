"""Public tests of `cross_correlation`: the lecture's worked examples and shapes.

Run them with `grade --public`. The hidden tests check much more (random shapes
and values, integer input, gradients, training to kernels you have not seen).
Every value is compared with a tolerance fit for float32: computing in float32
is always fine.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from grader.authoring.answers import weight_and_losses
from grader.authoring.testkit import Student, TestFailure, Training, expect, expect_close, public_test


def library_corr2d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """PyTorch's own cross-correlation: the public tests' oracle (students may read it)."""
    return F.conv2d(X[None, None], K[None, None])[0, 0]


def edge_image() -> torch.Tensor:
    """Seed 002's 6x8 image: ones, with columns 2..5 black (0)."""
    X = torch.ones(6, 8)
    X[:, 2:6] = 0
    return X


EDGE_KERNEL = torch.tensor([[1.0, -1.0]])


@public_test(function="corr2d", points=4)
def corr2d_lecture_example(student: Student, rng: torch.Generator) -> None:
    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    expect_close(student.corr2d(X, K), torch.tensor([[19.0, 25.0], [37.0, 43.0]]),
                 what="corr2d(X, K) for the lecture's 3x3 X and 2x2 K",
                 hint="Y[i, j] must be the sum of X[i:i + k_h, j:j + k_w] * K")


@public_test(function="corr2d", points=3)
def corr2d_output_shapes(student: Student, rng: torch.Generator) -> None:
    # The shape law (n_h - k_h + 1, n_w - k_w + 1), and the values on each shape too.
    for n, k in [((6, 8), (1, 2)), ((3, 3), (2, 2)), ((5, 7), (5, 7)), ((4, 9), (1, 1)), ((2, 9), (2, 3))]:
        X, K = torch.randn(n, generator=rng), torch.randn(k, generator=rng)
        Y = student.corr2d(X, K)
        what = f"corr2d(X, K) for X of shape {n} and K of shape {k}"
        expect_close(Y, (n[0] - k[0] + 1, n[1] - k[1] + 1), what=what)
        expect_close(Y, library_corr2d(X, K), what=what)


@public_test(function="corr2d", points=3)
def corr2d_edge_image_and_its_transpose(student: Student, rng: torch.Generator) -> None:
    X = edge_image()
    expected = torch.zeros(6, 7)
    expected[:, 1], expected[:, 5] = 1.0, -1.0
    expect_close(student.corr2d(X, EDGE_KERNEL), expected,
                 what="corr2d(X, [[1, -1]]) for the lecture's 6x8 edge image")
    expect_close(student.corr2d(X.t(), EDGE_KERNEL), torch.zeros(8, 5),
                 what="corr2d(X.t(), [[1, -1]]) for the transposed edge image")


@public_test(function="Conv2D", points=1)
def conv2d_parameters(student: Student, rng: torch.Generator) -> None:
    run = student.module("Conv2D", (1, 2))
    expect(set(run.parameters) == {"weight", "bias"},
           f"Conv2D((1, 2)) should have exactly the parameters 'weight' and 'bias'; yours has {sorted(run.parameters)}")
    expect_close(run.parameters["weight"], (1, 2), what="Conv2D((1, 2)).weight")
    expect_close(run.parameters["bias"], (1,), what="Conv2D((1, 2)).bias")


@public_test(function="Conv2D", points=6)
def conv2d_learns_the_edge_kernel(student: Student, rng: torch.Generator) -> None:
    # Seed 002's loop: 20 steps of gradient descent with lr 0.01 on the edge image.
    X = edge_image()
    Y = library_corr2d(X, EDGE_KERNEL)
    # Start from a random weight (torch.rand, as d2l) and a zero bias, if the layer has one.
    start = {"weight": torch.rand(1, 2, generator=rng)}
    if "bias" in student.module("Conv2D", (1, 2)).parameters:
        start["bias"] = torch.zeros(1)
    run = student.module("Conv2D", (1, 2), parameters=start, train=Training(X=X, Y=Y, lr=0.01, steps=20))
    losses = run.losses
    expect(losses[-1] < 0.05 * losses[0],
           f"training Conv2D((1, 2)) as seed 002 does should cut the loss to under 5% in 20 steps; "
           f"yours went from {losses[0]:.3g} to {losses[-1]:.3g}")
    weight = run.parameters["weight"].reshape(-1).to(torch.float64)
    expect(bool((weight - torch.tensor([1.0, -1.0], dtype=torch.float64)).abs().max() < 0.2),
           f"after seed 002's 20 training steps Conv2D's weight should be close to [[1, -1]]; yours is {weight.tolist()}")


@public_test(function="horizontal_edge_kernel", points=3)
def horizontal_edge_kernel_on_transposed_edge_image(student: Student, rng: torch.Generator) -> None:
    K = student.horizontal_edge_kernel()
    expect(K.dim() == 2 and 1 <= K.shape[0] <= 3 and 1 <= K.shape[1] <= 3,
           f"horizontal_edge_kernel() should return a 2D kernel of at most 3x3; yours has shape {tuple(K.shape)}")
    expect(K.shape[0] >= 2, "horizontal_edge_kernel() has a single row, so its window never sees two rows "
                            "and cannot detect a horizontal edge")
    X = edge_image().t().to(torch.float64)           # rows 0-1 white, 2-5 black, 6-7 white
    K = K.to(torch.float64)
    Y = library_corr2d(X, K)
    tol = 1e-5 * (1.0 + float(K.abs().sum()))          # a float32 kernel's rounding is no response
    rows = X[:, 0]
    for i in range(Y.shape[0]):
        straddles = bool((rows[i:i + K.shape[0] - 1] != rows[i + 1:i + K.shape[0]]).any())
        if straddles and not bool((Y[i].abs() > tol).all()):
            raise TestFailure(f"corr2d(X.t(), horizontal_edge_kernel()) on the transposed edge image should be "
                              f"non-zero in output row {i}, whose window crosses a horizontal edge")
        if not straddles and bool((Y[i].abs() > tol).any()):
            raise TestFailure(f"corr2d(X.t(), horizontal_edge_kernel()) on the transposed edge image should be "
                              f"zero in output row {i}, whose window sees no change between rows")
    # The lecture's image itself has vertical edges only: a horizontal edge detector sees nothing there.
    Y = library_corr2d(edge_image().to(torch.float64), K)
    expect(bool((Y.abs() <= tol).all()),
           f"corr2d(X, horizontal_edge_kernel()) on the lecture's 6x8 edge image, whose edges are all vertical, "
           f"should be zero everywhere; it is {float(Y.abs().max()):.3g} at most")


@public_test(function="learn_kernel", points=4)
def learn_kernel_lecture_example(student: Student, rng: torch.Generator) -> None:
    X = edge_image()
    Y = library_corr2d(X, EDGE_KERNEL)
    call = "learn_kernel(X, Y, (1, 2), lr=3e-2, num_epochs=20) on the edge image"
    weight, losses = weight_and_losses(student.call("learn_kernel", X, Y, (1, 2), lr=3e-2, num_epochs=20), call,
                                       as_floats=False)
    expect(len(losses) == 20, f"{call} should return 20 losses, one per epoch; yours returned {len(losses)}")
    expect_close(weight, (1, 2), what=f"the weight of {call}")
    expect(bool((weight.to(torch.float64) - EDGE_KERNEL.to(torch.float64)).abs().max() < 0.05),
           f"{call} should learn about [[1, -1]]; yours learned {weight.tolist()}")
