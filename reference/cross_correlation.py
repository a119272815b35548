"""Assignment 1, `cross_correlation`: 2D cross-correlation and the convolutional layer.

Seeds: all five (seed 002 section 5.1, seed 003 sections 6.2.1-6.2.4; d2l
"Convolutions for Images").
"""

from __future__ import annotations

import torch
from torch import nn

from . import _args, _kernels

__all__ = ["corr2d", "Conv2D", "horizontal_edge_kernel", "learn_kernel"]


def corr2d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """2D cross-correlation, valid mode (seed 002 section 5.1.1). *From scratch.*

    X: `(n_h, n_w)`, K: `(k_h, k_w)` -> `(n_h - k_h + 1, n_w - k_w + 1)`, with
    `Y[i, j] = sum_ab X[i + a, j + b] * K[a, b]`. Seed example:
    `corr2d([[0,1,2],[3,4,5],[6,7,8]], [[0,1],[2,3]]) == [[19, 25], [37, 43]]`.

    The result is float64 if either input is, float32 for float32 or integer
    input, and lives on X's device. Gradients flow to X and K.
    """
    X, K = _args.input_and_kernel(X, K, "(n_h, n_w)", "(k_h, k_w)")
    out_shape = _args.output_shape("corr2d", X.shape, K.shape)
    return _kernels.correlate(X, K, out_shape, (1, 1), (1, 1))


class Conv2D(nn.Module):
    """The seeds' hand-written convolutional layer (seed 002 section 5.1.2, seed 003 6.2.2).

    Parameters: `weight` of shape `kernel_size`, initialised `torch.rand` as d2l
    does, and a scalar `bias` of shape `(1,)`, initialised to zero.
    forward: x `(n_h, n_w)` -> `corr2d(x, weight) + bias`, `(n_h - k_h + 1, n_w - k_w + 1)`.
    """

    def __init__(self, kernel_size: int | tuple[int, int]) -> None:
        super().__init__()
        shape = _args.positive("kernel_size", _args.as_tuple("kernel_size", kernel_size, 2))
        self.weight = nn.Parameter(torch.rand(shape))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return corr2d(x, self.weight) + self.bias


def horizontal_edge_kernel() -> torch.Tensor:
    """A `(2, 1)` kernel that detects horizontal edges (the seeds' exercise).

    `corr2d(X, K)[i, j] = X[i, j] - X[i + 1, j]`: zero wherever two vertically
    adjacent pixels agree (constant images, purely vertical edges `X[i, j] = g(j)`,
    rows far from a step) and non-zero exactly where the window straddles a
    change between rows. It is seed 002's `[[1, -1]]` turned on its side, just
    as `corr2d(X.t(), K)` turns the image (seed 003).
    """
    return torch.tensor([[1.0], [-1.0]])


def learn_kernel(X: torch.Tensor, Y: torch.Tensor, kernel_size: int | tuple[int, int],
                 lr: float = 3e-2, num_epochs: int = 10) -> tuple[torch.Tensor, list[float]]:
    """Learns the kernel that maps X to Y (seed 003 section 6.2.4, seed 000 section 15).

    X: `(n_h, n_w)`, Y: `(n_h - k_h + 1, n_w - k_w + 1)`. Trains
    `nn.Conv2d(1, 1, kernel_size, bias=False)` on the squared loss
    `((Y_hat - Y) ** 2).sum()` with plain gradient descent,
    `weight.data[:] -= lr * weight.grad`, exactly the seeds' loop.

    Returns `(weight, losses)`: the learned kernel of shape `kernel_size`
    (detached), and for each epoch the loss that epoch's forward pass computed
    (the value the seeds print), as Python floats. With seed 002's edge image
    and `Y = corr2d(X, [[1, -1]])`, kernel_size `(1, 2)` learns about `[[1, -1]]`.
    """
    X, Y = _args.require_tensor("X", X), _args.require_tensor("Y", Y)
    _args.require_ndim("X", X, 2, "(n_h, n_w)")
    _args.require_ndim("Y", Y, 2, "(n_h - k_h + 1, n_w - k_w + 1)")
    kernel = _args.positive("kernel_size", _args.as_tuple("kernel_size", kernel_size, 2))
    epochs = _args.as_int("num_epochs", num_epochs)
    if epochs < 0:
        raise ValueError(f"num_epochs must be >= 0, got {epochs}")
    expected = _args.output_shape("learn_kernel", X.shape, kernel)
    if tuple(Y.shape) != expected:
        raise ValueError(f"Y must have shape {expected} (X's shape minus kernel_size plus 1), "
                         f"got {tuple(Y.shape)}")

    dtype = _args.compute_dtype(X, Y)
    conv = nn.Conv2d(1, 1, kernel_size=(kernel[0], kernel[1]), bias=False).to(device=X.device, dtype=dtype)
    # nn.Conv2d wants (batch, channel, height, width); batch and channel are 1.
    X4 = X.detach().to(dtype).reshape(1, 1, *X.shape)
    Y4 = Y.detach().to(device=X.device, dtype=dtype).reshape(1, 1, *Y.shape)
    losses: list[float] = []
    with torch.enable_grad():
        for _ in range(epochs):
            loss = ((conv(X4) - Y4) ** 2).sum()
            conv.zero_grad()
            loss.backward()
            assert conv.weight.grad is not None
            conv.weight.data[:] -= lr * conv.weight.grad
            losses.append(float(loss.detach()))
    return conv.weight.detach().reshape(kernel), losses
