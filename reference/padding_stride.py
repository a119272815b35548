"""Assignment 2, `padding_stride`: padding and stride.

Seeds: 003 (section 6.3, the output-shape formula and `comp_conv2d`), 004
(`nn.Conv2d`'s padding `'valid'` / `'same'` and its 4x4 example).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from . import _args, _kernels

__all__ = ["conv_output_shape", "corr2d_pad_stride", "comp_conv2d"]


def conv_output_shape(input_shape: Sequence[int], kernel_shape: Sequence[int],
                      padding: _args.Padding = 0, stride: _args.IntOrTuple = 1) -> tuple[int, int]:
    """The output `(h, w)` of a 2D convolution, as Python ints (seed 003 section 6.3.2).

    Each axis: `floor((n + 2p - k) / s) + 1`, `p` being the padding on each side
    as in `nn.Conv2d`. `padding` and `stride` are an int or an `(h, w)` pair;
    `'valid'` and `'same'` are accepted too, with `nn.Conv2d`'s meaning.
    A kernel larger than the padded input, or a stride below 1, is a `ValueError`.
    """
    n = _args.positive("input_shape", _args.as_tuple("input_shape", input_shape, 2))
    k = _args.positive("kernel_shape", _args.as_tuple("kernel_shape", kernel_shape, 2))
    s = _args.positive("stride", _args.as_tuple("stride", stride, 2))
    pads = _args.resolve_padding(padding, k, s)
    h, w = _args.output_shape("conv_output_shape", n, k, pads, s)
    return h, w


def corr2d_pad_stride(X: torch.Tensor, K: torch.Tensor, padding: _args.Padding = 0,
                      stride: _args.IntOrTuple = 1) -> torch.Tensor:
    """2D cross-correlation with zero padding and stride (seeds 003 section 6.3, 004). *From scratch.*

    X: `(n_h, n_w)`, K: `(k_h, k_w)` -> `conv_output_shape(X.shape, K.shape, padding, stride)`,
    `Y[i, j] = sum_ab Xpad[i * s_h + a, j * s_w + b] * K[a, b]`.
    `padding`: an int or `(p_h, p_w)` pair (zeros on each side), `'valid'` (none)
    or `'same'` (output shape = input shape; stride must be 1; an even kernel's
    extra row/column goes at the bottom/right, as in `nn.Conv2d`). Seed 004:
    `corr2d_pad_stride([[4,1,7,5],[4,4,2,5],[7,7,2,4],[1,0,2,4]], [[1,0],[2,1]], 'same')`
    is `[[16,11,16,15],[25,20,10,13],[9,9,10,12],[1,0,2,4]]`.
    `stride`: an int or `(s_h, s_w)` pair, each >= 1.
    """
    X, K = _args.input_and_kernel(X, K, "(n_h, n_w)", "(k_h, k_w)")
    s = _args.positive("stride", _args.as_tuple("stride", stride, 2))
    kernel = tuple(K.shape)
    pads = _args.resolve_padding(padding, kernel, s)
    out_shape = _args.output_shape("corr2d_pad_stride", X.shape, kernel, pads, s)
    return _kernels.correlate(_kernels.pad(X, pads), K, out_shape, s, (1, 1))


def comp_conv2d(conv2d: nn.Conv2d, X: torch.Tensor) -> torch.Tensor:
    """Applies an `nn.Conv2d` with one input and one output channel to a 2D X (seed 003 section 6.3.1).

    X: `(n_h, n_w)` -> `(h', w')`: reshapes X to `(1, 1, n_h, n_w)` (batch and
    channel axes), runs the layer, and drops those two axes again. Integer X
    is converted to the layer's dtype.
    """
    X = _args.require_tensor("X", X)
    _args.require_ndim("X", X, 2, "(n_h, n_w)")
    if not isinstance(conv2d, nn.Conv2d):
        raise TypeError(f"conv2d must be an nn.Conv2d, got {type(conv2d).__name__}")
    if conv2d.in_channels != 1 or conv2d.out_channels != 1:
        raise ValueError("comp_conv2d adds and removes a single channel axis, so the layer needs "
                         f"1 input and 1 output channel; it has {conv2d.in_channels} and "
                         f"{conv2d.out_channels}")
    if not (X.is_floating_point() or X.is_complex()):
        X = X.to(conv2d.weight.dtype)
    Y: torch.Tensor = conv2d(X.reshape((1, 1, *X.shape)))
    return Y.reshape(Y.shape[2:])
