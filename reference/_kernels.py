"""The two computational kernels behind every reference correlation.

- `shift_and_add`: single-channel correlation in any number of dimensions. It
  loops over the kernel's offsets, not over output pixels: for each offset
  `(a, b)` the whole output gains `K[a, b] * X[a:a+h', b:b+w']` in one vectorised
  multiply-add. That is seed 002's `corr2d` with its two loops turned inside out.
- `implicit_gemm`: multi-channel 2D correlation (batches, groups, stride,
  dilation). For each offset `(a, b)` the output gains
  `K[:, :, a, b] @ X[:, a:a+h', b:b+w']`, one matrix multiplication: seed 003's
  "a 1x1 convolution is a fully connected layer over channels", once per offset.

Neither calls a library convolution. Both have two modes: when no gradient is
needed they accumulate in place into one output buffer (fast, little memory);
otherwise every step is an out-of-place, autograd-recorded operation.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

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
    padded = X.new_full((*X.shape[:lead], *(n + b + a for n, (b, a) in zip(sizes, pads))), value)
    padded[(..., *(slice(b, b + n) for n, (b, _) in zip(sizes, pads)))] = X
    return padded


def window(X: torch.Tensor, offset: Sequence[int], out_shape: Sequence[int],
           stride: Sequence[int], dilation: Sequence[int]) -> torch.Tensor:
    """The view of `X`'s trailing axes that kernel entry `offset` multiplies:
    element `i` of the view is `X[offset * dilation + i * stride]` (no copy)."""
    return X[(..., *(slice(o * d, o * d + (n - 1) * s + 1, s)
                     for o, n, s, d in zip(offset, out_shape, stride, dilation)))]


def shift_and_add(X: torch.Tensor, K: torch.Tensor, out_shape: Sequence[int],
                  stride: Sequence[int], dilation: Sequence[int]) -> torch.Tensor:
    """Correlates the (already padded) trailing axes of `X` with `K`:
    `Y[i] = sum_a X[i * stride + a * dilation] * K[a]`, `Y` of shape `out_shape`.
    `X` and `K` must already share dtype and device."""
    kernel_offsets = offsets(K.shape)
    if needs_grad(X, K):
        out = window(X, kernel_offsets[0], out_shape, stride, dilation) * K[kernel_offsets[0]]
        for offset in kernel_offsets[1:]:
            out = torch.addcmul(out, window(X, offset, out_shape, stride, dilation), K[offset])
        return out
    # Python scalars as `alpha` keep each step one fused pass over the output;
    # `tolist` moves the kernel off the device once rather than once per entry.
    weights = K.flatten().tolist()
    out = torch.mul(window(X, kernel_offsets[0], out_shape, stride, dilation), weights[0])
    for offset, weight in zip(kernel_offsets[1:], weights[1:]):
        out.add_(window(X, offset, out_shape, stride, dilation), alpha=weight)
    return out


def implicit_gemm(X: torch.Tensor, W: torch.Tensor, pads: tuple[tuple[int, int], tuple[int, int]],
                  stride: tuple[int, int], dilation: tuple[int, int], groups: int) -> torch.Tensor:
    """Multi-channel 2D correlation with `torch.nn.functional.conv2d`'s meaning.

    X: `(N, C, H, W)` unpadded; W: `(O, C // groups, k_h, k_w)`; `pads` is
    `((top, bottom), (left, right))`. Returns `(N, O, H', W')`. Shapes must
    already be valid and `X`, `W` share dtype and device.
    """
    n, c, h, w = X.shape
    o, cg, kh, kw = W.shape
    (top, bottom), (left, right) = pads
    (sh, sw), (dh, dw) = stride, dilation
    hp, wp = h + top + bottom, w + left + right
    oh, ow = (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1
    og, batch = o // groups, n * groups
    grad = needs_grad(X, W)

    # One (og, cg) matrix per offset and group, repeated over the batch so that
    # every offset is a single batched matmul over (sample, group) pairs.
    Wk = (W.reshape(groups, og, cg, kh, kw).permute(3, 4, 0, 1, 2).unsqueeze(2)
          .expand(kh, kw, n, groups, og, cg).reshape(kh, kw, batch, og, cg))
    if not grad:
        Wk = Wk.contiguous()

    if sh == 1 and sw == 1:
        # Flattened rows: with unit stride, the window of offset (a, b) is the
        # padded image read from flat position a*dh*wp + b*dw on, so every
        # operand is a plain strided view and no window is ever copied. Each
        # output row then has wp - ow junk columns (windows that wrap onto the
        # next row); they are cut off at the end. The tail of zeros keeps the
        # last offset's view inside the buffer.
        tail = dw * (kw - 1)
        buffer = X.new_zeros((n, c, hp * wp + tail))
        buffer[:, :, :hp * wp].view(n, c, hp, wp)[:, :, top:top + h, left:left + w] = X
        flat = buffer.view(batch, cg, hp * wp + tail)
        cols = oh * wp

        def operand(a: int, b: int) -> torch.Tensor:
            start = a * dh * wp + b * dw
            return flat[:, :, start:start + cols]
    else:
        padded = pad(X, pads)
        cols = oh * ow

        def operand(a: int, b: int) -> torch.Tensor:
            # A strided window is not a matrix view, so this one is copied.
            return window(padded, (a, b), (oh, ow), stride, dilation).reshape(batch, cg, cols)

    kernel_offsets = offsets((kh, kw))
    out = torch.bmm(Wk[0, 0], operand(0, 0))
    for a, b in kernel_offsets[1:]:
        if grad:
            out = torch.baddbmm(out, Wk[a, b], operand(a, b))
        else:
            out.baddbmm_(Wk[a, b], operand(a, b))

    if sh == 1 and sw == 1:
        out = out.view(n, o, oh, wp)
        return out[..., :ow].contiguous() if ow != wp else out
    return out.view(n, o, oh, ow)
