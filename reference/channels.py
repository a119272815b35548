"""Assignment 3, `channels`: multiple input and output channels, 1x1 convolution.

Seeds: 003 (section 6.4), 004 ("standard convolution": n kernels of shape (m, k, k)).
"""

from __future__ import annotations

import torch

from . import _args, _kernels

__all__ = ["corr2d_multi_in", "corr2d_multi_in_out", "corr2d_multi_in_out_1x1"]


def _check_channels(X: torch.Tensor, K: torch.Tensor, k_layout: str) -> None:
    if X.shape[0] != K.shape[-3]:
        raise ValueError(f"X has {X.shape[0]} input channels but K {k_layout} has "
                         f"{K.shape[-3]}: every input channel needs its own kernel channel")


def corr2d_multi_in(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Multi-input-channel cross-correlation (seed 003 section 6.4.1). *From scratch.*

    X: `(c_i, n_h, n_w)`, K: `(c_i, k_h, k_w)` -> `(n_h - k_h + 1, n_w - k_w + 1)`:
    the per-channel 2D cross-correlations, summed. d2l's two-channel example
    gives `[[56, 72], [104, 120]]`. Gradients flow to X and K.
    """
    X, K = _args.input_and_kernel(X, K, "(c_i, n_h, n_w)", "(c_i, k_h, k_w)")
    _check_channels(X, K, "(c_i, k_h, k_w)")
    # The sum over channels is the single output channel of the general case.
    return corr2d_multi_in_out(X, K.unsqueeze(0))[0]


def corr2d_multi_in_out(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Multi-input, multi-output-channel cross-correlation (seeds 003 section 6.4.2, 004). *From scratch.*

    X: `(c_i, n_h, n_w)`, K: `(c_o, c_i, k_h, k_w)` -> `(c_o, n_h - k_h + 1, n_w - k_w + 1)`:
    output channel `o` is `corr2d_multi_in(X, K[o])`. Computed as matrix
    products: `(c_o, c_i * k_h * k_w) @ (c_i * k_h * k_w, pixels)` over the
    window matrix (im2col) for small inputs, and an implicit GEMM, one
    `(c_o, c_i) @ (c_i, pixels)` product per kernel offset, for large ones.
    Gradients flow to X and K.
    """
    X, K = _args.input_and_kernel(X, K, "(c_i, n_h, n_w)", "(c_o, c_i, k_h, k_w)")
    _check_channels(X, K, "(c_o, c_i, k_h, k_w)")
    _args.output_shape("corr2d_multi_in_out", X.shape[1:], K.shape[2:])
    return _kernels.correlate_channels(X.unsqueeze(0), K, ((0, 0), (0, 0)), (1, 1), (1, 1), 1)[0]


def corr2d_multi_in_out_1x1(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """1x1 convolution as one matrix multiplication (seed 003 section 6.4.3).

    X: `(c_i, h, w)`, K: `(c_o, c_i, 1, 1)` -> `(c_o, h, w)`. A 1x1 kernel sees one
    pixel at a time, so it is a fully connected layer over channels applied to
    every pixel: `K (c_o, c_i) @ X (c_i, h * w)`.
    """
    X, K = _args.input_and_kernel(X, K, "(c_i, h, w)", "(c_o, c_i, 1, 1)")
    if K.shape[2:] != (1, 1):
        raise ValueError(f"K must be a 1x1 kernel of shape (c_o, c_i, 1, 1), got {tuple(K.shape)}")
    _check_channels(X, K, "(c_o, c_i, 1, 1)")
    c_i, h, w = X.shape
    Y = torch.matmul(K.reshape(K.shape[0], c_i), X.reshape(c_i, h * w))
    return Y.reshape(K.shape[0], h, w)
