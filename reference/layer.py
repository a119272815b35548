"""Beyond the seeds' chapter: the general convolution layer and pooling.

`conv2d` is what `nn.Conv2d` computes, with every argument seed 004 lists
(stride, padding, dilation, groups); `pool2d` is d2l's pooling layer (seed 003
section 6.5) with padding and stride. Both are written from scratch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from . import _args, _kernels

__all__ = ["conv2d", "pool2d"]


def conv2d(X: torch.Tensor, W: torch.Tensor, bias: torch.Tensor | None = None,
           stride: _args.IntOrTuple = 1, padding: _args.Padding = 0,
           dilation: _args.IntOrTuple = 1, groups: int = 1) -> torch.Tensor:
    """Batched multi-channel 2D cross-correlation with `torch.nn.functional.conv2d`'s meaning. *From scratch.*

    X: `(N, C, H, W)` (or unbatched `(C, H, W)`), W: `(O, C // groups, k_h, k_w)`,
    bias: `(O,)` or None -> `(N, O, H', W')` (or `(O, H', W')`), where on each axis
    `H' = floor((H + pad - dilation * (k - 1) - 1) / stride) + 1`.
    `stride`, `dilation`: int or pair, >= 1. `padding`: int or pair (zeros on
    each side), `'valid'`, or `'same'` (stride 1 only; odd totals put the extra
    row/column at the bottom/right). `groups` splits the channels into that many
    independent convolutions (seed 004). Gradients flow to X, W and bias.
    """
    X, W = _args.require_tensor("X", X), _args.require_tensor("W", W)
    if X.dim() not in (3, 4):
        raise ValueError(f"X must be 4-dimensional (N, C, H, W) or 3-dimensional (C, H, W), "
                         f"got shape {tuple(X.shape)}")
    _args.require_ndim("W", W, 4, "(O, C // groups, k_h, k_w)")
    _args.require_nonempty_kernel("W", W)
    batched = X.dim() == 4
    X4 = X if batched else X.unsqueeze(0)
    g = _args.as_int("groups", groups)
    if g < 1:
        raise ValueError(f"groups must be >= 1, got {g}")
    c, o = X4.shape[1], W.shape[0]
    if c % g or o % g:
        raise ValueError(f"groups={g} must divide both the input channels ({c}) and the output channels ({o})")
    if W.shape[1] * g != c:
        raise ValueError(f"X has {c} input channels, but W of shape {tuple(W.shape)} with groups={g} "
                         f"expects {W.shape[1] * g} (W.shape[1] * groups)")
    if bias is not None:
        bias = _args.require_tensor("bias", bias)
        if tuple(bias.shape) != (o,):
            raise ValueError(f"bias must have shape ({o},), one value per output channel, "
                             f"got {tuple(bias.shape)}")
    s = _args.positive("stride", _args.as_tuple("stride", stride, 2))
    d = _args.positive("dilation", _args.as_tuple("dilation", dilation, 2))
    kernel = (W.shape[2], W.shape[3])
    pads = _args.resolve_padding(padding, kernel, s, d)
    _args.output_shape("conv2d", X4.shape[2:], kernel, pads, s, d)

    dtype = _args.compute_dtype(X, W, bias)
    X4, W = _args.to_compute(X4, dtype, X.device), _args.to_compute(W, dtype, X.device)
    out = _kernels.correlate_channels(X4, W, pads, s, d, g)
    if bias is not None:
        bias = _args.to_compute(bias, dtype, X.device).view(1, o, 1, 1)
        out = out + bias if _kernels.needs_grad(out, bias) else out.add_(bias)
    return out if batched else out[0]


def pool2d(X: torch.Tensor, pool_size: _args.IntOrTuple, mode: str = "max",
           padding: _args.IntOrTuple = 0, stride: _args.IntOrTuple | None = None) -> torch.Tensor:
    """2D max or average pooling over the last two axes (d2l section 6.5). *From scratch.*

    X: `(..., n_h, n_w)` (a plain 2D image, or with any leading axes such as
    `(N, C, n_h, n_w)`), pool_size `(p_h, p_w)` or int -> `(..., h', w')` with
    `h' = floor((n_h + 2 * pad_h - p_h) / s_h) + 1`. `stride` defaults to
    `pool_size` (non-overlapping windows), as in `nn.MaxPool2d`. `padding` (at
    most half the window, as PyTorch requires) pads with -inf for `'max'` and
    with zeros for `'avg'`, which divides by the full window size
    (`nn.AvgPool2d`'s default `count_include_pad=True`).
    """
    X = _args.require_tensor("X", X)
    if X.dim() < 2:
        raise ValueError(f"X must have at least 2 dimensions (..., n_h, n_w), got shape {tuple(X.shape)}")
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    window = _args.positive("pool_size", _args.as_tuple("pool_size", pool_size, 2))
    s = window if stride is None else _args.positive("stride", _args.as_tuple("stride", stride, 2))
    p = _args.non_negative("padding", _args.as_tuple("padding", padding, 2))
    if any(2 * pad > k for pad, k in zip(p, window, strict=True)):
        raise ValueError(f"padding {p} must be at most half of pool_size {window}, "
                         "or some windows would see only padding")
    out_shape = _args.output_shape("pool2d", X.shape[-2:], window, [(pad, pad) for pad in p], s)

    X = _args.to_compute(X, _args.compute_dtype(X), X.device)
    fill = float("-inf") if mode == "max" else 0.0
    padded = _kernels.pad(X, [(pad, pad) for pad in p], value=fill)
    if mode == "max":
        return _reduce_windows(padded, window, out_shape, s, torch.maximum)
    total = _reduce_windows(padded, window, out_shape, s, torch.add)
    return total / (window[0] * window[1])


def _reduce_windows(X: torch.Tensor, window: tuple[int, ...], out_shape: Sequence[int],
                    stride: tuple[int, ...],
                    combine: Callable[..., torch.Tensor]) -> torch.Tensor:
    """Folds `combine` over the window's offsets, one whole-output operation per offset."""
    offsets = _kernels.offsets(window)
    dilation = (1,) * len(window)
    views = (_kernels.window(X, offset, out_shape, stride, dilation) for offset in offsets)
    out = next(views).clone()
    grad = _kernels.needs_grad(X)
    for view in views:
        # In place when nothing needs a gradient: one buffer for the whole fold.
        out = combine(out, view) if grad else combine(out, view, out=out)
    return out
