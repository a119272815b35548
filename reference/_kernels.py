"""The two computational kernels behind every reference correlation.

- `correlate`: single-channel correlation in any number of dimensions. Large
  problems shift and add: a loop over the kernel's offsets, not over output
  pixels, where for each offset `(a, b)` the whole output gains
  `K[a, b] * X[a:a+h', b:b+w']` in one vectorised multiply-add (seed 002's
  `corr2d` with its two loops turned inside out). Small problems, and any that
  need gradients, are one matrix product with a window matrix (im2col).
- `correlate_channels`: multi-channel 2D correlation (batches, groups, stride,
  dilation). Large problems are an implicit GEMM: for each offset `(a, b)` the
  output gains `K[:, :, a, b] @ X[:, a:a+h', b:b+w']`, one matrix
  multiplication (seed 003's "a 1x1 convolution is a fully connected layer over
  channels", once per offset). Small ones are one GEMM over all offsets.

Neither calls a library convolution. Where no gradient is needed, shift-and-add
and implicit GEMM accumulate in place into one output buffer (fast, little
memory); otherwise every step is an out-of-place, autograd-recorded operation.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from types import EllipsisType

import torch


def needs_grad(*tensors: torch.Tensor | None) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def offsets(kernel_shape: Sequence[int]) -> list[tuple[int, ...]]:
    """Every kernel offset, in row-major order."""
    return list(itertools.product(*(range(k) for k in kernel_shape)))


def pad(X: torch.Tensor, pads: Sequence[tuple[int, int]], value: float = 0.0) -> torch.Tensor:
    """`X` with its last `len(pads)` axes padded by `(before, after)` copies of `value`.

    Writing `X` into a fresh buffer is recorded by autograd, so gradients reach `X`.
    """
    if all(before == 0 and after == 0 for before, after in pads):
        return X
    lead = X.dim() - len(pads)
    sizes = X.shape[lead:]
    padded = X.new_full((*X.shape[:lead], *(n + b + a for n, (b, a) in zip(sizes, pads, strict=True))), value)
    interior: tuple[EllipsisType | slice, ...] = (
        ..., *(slice(b, b + n) for n, (b, _) in zip(sizes, pads, strict=True)))
    padded[interior] = X
    return padded


def window(X: torch.Tensor, offset: Sequence[int], out_shape: Sequence[int],
           stride: Sequence[int], dilation: Sequence[int]) -> torch.Tensor:
    """The view of `X`'s trailing axes that kernel entry `offset` multiplies:
    element `i` of the view is `X[offset * dilation + i * stride]` (no copy)."""
    per_axis = zip(offset, out_shape, stride, dilation, strict=True)
    index: tuple[EllipsisType | slice, ...] = (..., *(slice(o * d, o * d + (n - 1) * s + 1, s)
                                                     for o, n, s, d in per_axis))
    return X[index]


#: Above this many window-matrix elements (kernel entries x output pixels;
#: 4 MiB of float32) a single-channel problem counts as large: the matrix no
#: longer stays in cache, and shift-and-add, which never builds it, is as fast
#: and far steadier when other work shares the cores (benchmarks/reference.py).
IM2COL_LIMIT = 1 << 20
#: The same for multi-channel problems (16 MiB of float32), whose alternative,
#: one small GEMM per kernel offset, gains on the big GEMM only later.
GEMM_IM2COL_LIMIT = 1 << 22


def correlate(X: torch.Tensor, K: torch.Tensor, out_shape: Sequence[int],
              stride: Sequence[int], dilation: Sequence[int]) -> torch.Tensor:
    """Correlates the (already padded) trailing axes of `X` with `K`:
    `Y[i] = sum_a X[i * stride + a * dilation] * K[a]`, `Y` of shape `out_shape`.
    `X` and `K` must already share dtype and device.

    Small problems, and any problem that needs gradients, take one matrix
    product over a window matrix (few operations, each differentiable); large
    ones without gradients shift-and-add in place (no big temporary).
    """
    if not needs_grad(X, K) and K.numel() * math.prod(out_shape) > IM2COL_LIMIT:
        return shift_and_add(X, K, out_shape, stride, dilation)
    return im2col_matvec(X, K, out_shape, stride, dilation)


def shift_and_add(X: torch.Tensor, K: torch.Tensor, out_shape: Sequence[int],
                  stride: Sequence[int], dilation: Sequence[int]) -> torch.Tensor:
    """`correlate` as one in-place multiply-add over the whole output per kernel
    offset. Not differentiable: callers use it only when no gradient is needed."""
    kernel_offsets = offsets(K.shape)
    # Python scalars as `alpha` keep each step one fused pass over the output;
    # `tolist` moves the kernel off the device once rather than once per entry.
    weights = K.flatten().tolist()
    out = torch.mul(window(X, kernel_offsets[0], out_shape, stride, dilation), weights[0])
    for offset, weight in zip(kernel_offsets[1:], weights[1:], strict=True):
        out.add_(window(X, offset, out_shape, stride, dilation), alpha=weight)
    return out


def im2col_matvec(X: torch.Tensor, K: torch.Tensor, out_shape: Sequence[int],
                  stride: Sequence[int], dilation: Sequence[int]) -> torch.Tensor:
    """`correlate` as (flattened kernel) @ (window matrix): seed 002's exercise
    "express cross-correlation as a matrix multiplication". Row `a` of the
    window matrix holds the pixels kernel entry `a` multiplies, for every
    output pixel; it starts as a strided view of X and is copied once, in runs
    of whole output rows. Differentiable."""
    X = X.contiguous()
    steps = X.stride()
    windows = X.as_strided((*K.shape, *out_shape),
                           (*[st * d for st, d in zip(steps, dilation, strict=True)],
                            *[st * s for st, s in zip(steps, stride, strict=True)]))
    pixels = math.prod(out_shape)
    return torch.mm(K.reshape(1, -1), windows.reshape(K.numel(), pixels)).view(tuple(out_shape))


def correlate_channels(X: torch.Tensor, W: torch.Tensor, pads: Sequence[tuple[int, int]],
                       stride: Sequence[int], dilation: Sequence[int], groups: int) -> torch.Tensor:
    """Multi-channel 2D correlation with `torch.nn.functional.conv2d`'s meaning.

    X: `(N, C, H, W)` unpadded; W: `(O, C // groups, k_h, k_w)`; `pads` is
    `((top, bottom), (left, right))`. Returns `(N, O, H', W')`. Shapes must
    already be valid and `X`, `W` share dtype and device.

    Small problems are one batched GEMM over the whole window matrix (im2col);
    large ones are an implicit GEMM, one `(O, C) @ (C, pixels)` product per
    kernel offset, so the window matrix is never built. Both are differentiable.
    """
    n, c, h, w = X.shape
    o, cg, kh, kw = W.shape
    (top, bottom), (left, right) = pads
    (sh, sw), (dh, dw) = stride, dilation
    hp, wp = h + top + bottom, w + left + right
    oh, ow = (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1
    og, batch = o // groups, n * groups
    if n * c * kh * kw * oh * ow > GEMM_IM2COL_LIMIT:
        return _implicit_gemm(X, W, pads, stride, dilation, groups, (oh, ow))
    padded = pad(X, pads).contiguous()
    # Axes (sample * group, input channel, kernel row, kernel column, output row, output column).
    windows = padded.as_strided((batch, cg, kh, kw, oh, ow), (cg * hp * wp, hp * wp, dh * wp, dw, sh * wp, sw))
    weights = W.reshape(1, groups, og, cg * kh * kw).expand(n, -1, -1, -1).reshape(batch, og, cg * kh * kw)
    out = torch.bmm(weights, windows.reshape(batch, cg * kh * kw, oh * ow))
    return out.view(n, o, oh, ow)


def _implicit_gemm(X: torch.Tensor, W: torch.Tensor, pads: Sequence[tuple[int, int]], stride: Sequence[int],
                   dilation: Sequence[int], groups: int, out_shape: tuple[int, int]) -> torch.Tensor:
    """`correlate_channels` as `out += W[:, :, a, b] @ window(a, b)`, one GEMM per offset."""
    n, c, h, w = X.shape
    o, cg, kh, kw = W.shape
    (top, bottom), (left, right) = pads
    (sh, sw), (dh, dw) = stride, dilation
    hp, wp = h + top + bottom, w + left + right
    oh, ow = out_shape
    og, batch = o // groups, n * groups
    grad = needs_grad(X, W)

    # The padded image, each channel flattened. With unit stride, kernel offset
    # (a, b) reads output pixel (i, j) from flat position (i + a*dh)*wp + j + b*dw:
    # computing whole wp-wide rows makes every window a matrix view (rows of
    # contiguous runs), so no window is copied. The wp - ow extra columns are
    # windows that wrap onto the next row, cut off at the end; the tail of
    # zeros keeps the last offset's run inside the buffer.
    unit = sh == 1 and sw == 1
    grid_w = wp if unit else ow
    length = hp * wp + (dw * (kw - 1) if unit else 0)
    buffer = X.new_zeros((n, c, length))
    buffer[:, :, :hp * wp].view(n, c, hp, wp)[:, :, top:top + h, left:left + w] = X

    def operand(a: int, b: int) -> torch.Tensor:
        # A strided window is not a matrix view: its reshape copies.
        view = buffer.as_strided((batch, cg, oh, grid_w), (cg * length, length, sh * wp, sw),
                                 buffer.storage_offset() + a * dh * wp + b * dw)
        return view.reshape(batch, cg, oh * grid_w)

    # One (og, cg) matrix per offset and group, repeated over the batch so that
    # every offset is a single batched matmul over (sample, group) pairs.
    Wk = (W.reshape(groups, og, cg, kh, kw).permute(3, 4, 0, 1, 2).unsqueeze(2)
          .expand(kh, kw, n, groups, og, cg).reshape(kh, kw, batch, og, cg))
    if not grad:
        Wk = Wk.contiguous()
    out = torch.bmm(Wk[0, 0], operand(0, 0))
    for a, b in offsets((kh, kw))[1:]:
        if grad:
            out = torch.baddbmm(out, Wk[a, b], operand(a, b))
        else:
            out.baddbmm_(Wk[a, b], operand(a, b))
    out = out.view(n, o, oh, grid_w)
    return out[..., :ow].contiguous() if grid_w != ow else out
