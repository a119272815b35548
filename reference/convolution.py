"""Assignment 4, `convolution`: true (flipped) convolution; 1D and 3D cross-correlation.

Seeds: 000 (sections 9-10), 001 (9.2.2-9.2.3), 002 ("互相关运算和卷积运算"), 003 (6.1.3).
"""

from __future__ import annotations

import torch

from . import _args, _kernels
from .cross_correlation import corr2d

__all__ = ["convolve2d", "corr1d", "corr3d"]


def convolve2d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Strict mathematical 2D convolution, valid mode (seed 001 9.2.2, seed 003 6.1.3). *From scratch.*

    X: `(n_h, n_w)`, K: `(k_h, k_w)` -> `(n_h - k_h + 1, n_w - k_w + 1)`. The
    kernel is rotated 180 degrees (flipped on both axes) and then
    cross-correlated: `convolve2d(X, K) == corr2d(X, K.flip(0, 1))`.
    """
    K = _args.require_tensor("K", K)
    _args.require_ndim("K", K, 2, "(k_h, k_w)")
    return corr2d(X, K.flip(0, 1))


def _correlate_valid(name: str, X: torch.Tensor, K: torch.Tensor,
                     names: tuple[str, str], layouts: tuple[str, str]) -> torch.Tensor:
    X, K = _args.input_and_kernel(X, K, *layouts, names=names)
    out_shape = _args.output_shape(name, X.shape, K.shape)
    unit = (1,) * X.dim()
    return _kernels.correlate(X, K, out_shape, unit, unit)


def corr1d(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """1D cross-correlation, valid mode, for text and time series (seed 001 9.2.3). *From scratch.*

    x: `(n,)`, k: `(k,)` -> `(n - k + 1,)`, `y[i] = sum_a x[i + a] * k[a]`.
    """
    return _correlate_valid("corr1d", x, k, ("x", "k"), ("(n,)", "(k,)"))


def corr3d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """3D cross-correlation, valid mode, for video and medical volumes (seed 001 9.2.3). *From scratch.*

    X: `(n_d, n_h, n_w)`, K: `(k_d, k_h, k_w)` -> `(n_d - k_d + 1, n_h - k_h + 1, n_w - k_w + 1)`,
    `Y[i, j, l] = sum_abc X[i + a, j + b, l + c] * K[a, b, c]`.
    """
    return _correlate_valid("corr3d", X, K, ("X", "K"), ("(n_d, n_h, n_w)", "(k_d, k_h, k_w)"))
