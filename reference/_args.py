"""Argument checking and normalisation shared by the reference solutions.

Every public function funnels its tensors and its size arguments through here,
so the curriculum's conventions (integer input computes in float32, the result
lives on the input's device, bad arguments raise `ValueError` with a message)
are enforced in exactly one way everywhere.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import torch

#: An int, or one int per spatial axis (e.g. `(h, w)`).
IntOrTuple = int | Sequence[int]
#: `nn.Conv2d`'s padding: an int, a pair, `'valid'` or `'same'`.
Padding = int | Sequence[int] | str


def require_tensor(name: str, value: object) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def require_ndim(name: str, tensor: torch.Tensor, ndim: int, layout: str) -> None:
    """`layout` spells the expected shape for the message, e.g. `'(n_h, n_w)'`."""
    if tensor.dim() != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional {layout}, "
                         f"got shape {tuple(tensor.shape)}")


def compute_dtype(*tensors: torch.Tensor | None) -> torch.dtype:
    """The dtype the arithmetic runs in: the promoted input dtype, except that
    integer and bool input computes in float32 (as seed 002's `X.float()`)."""
    dtype: torch.dtype | None = None
    for tensor in tensors:
        if tensor is not None:
            dtype = tensor.dtype if dtype is None else torch.promote_types(dtype, tensor.dtype)
    if dtype is None or not (dtype.is_floating_point or dtype.is_complex):
        return torch.float32
    return dtype


def to_compute(tensor: torch.Tensor, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Converts without copying when nothing changes; `.to` keeps autograd."""
    if tensor.dtype == dtype and tensor.device == device:
        return tensor
    return tensor.to(device=device, dtype=dtype)


def input_and_kernel(X: object, K: object, x_layout: str, k_layout: str,
                     names: tuple[str, str] = ("X", "K")) -> tuple[torch.Tensor, torch.Tensor]:
    """Checks an input and its kernel (tensors, with as many axes as their
    layouts name; a non-empty kernel) and returns both in the compute dtype on
    X's device. Layouts are spelled as in the docstrings, e.g. `'(n_h, n_w)'`,
    so the message and the check cannot disagree."""
    X, K = require_tensor(names[0], X), require_tensor(names[1], K)
    require_ndim(names[0], X, _axes(x_layout), x_layout)
    require_ndim(names[1], K, _axes(k_layout), k_layout)
    require_nonempty_kernel(names[1], K)
    dtype, device = compute_dtype(X, K), X.device
    return to_compute(X, dtype, device), to_compute(K, dtype, device)


def _axes(layout: str) -> int:
    return sum(1 for axis in layout.strip("()").split(",") if axis.strip())


def as_int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got a bool")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def as_tuple(name: str, value: object, ndim: int) -> tuple[int, ...]:
    """An int repeated `ndim` times, or a sequence of exactly `ndim` ints (an `IntOrTuple`); else ValueError."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != ndim:
            raise ValueError(f"{name} must have {ndim} entries, got {len(value)}: {tuple(value)!r}")
        return tuple(as_int(name, v) for v in value)
    if isinstance(value, str):
        raise ValueError(f"{name} must be an int or a sequence of {ndim} ints, got {value!r}")
    return (as_int(name, value),) * ndim


def positive(name: str, values: tuple[int, ...]) -> tuple[int, ...]:
    if any(v < 1 for v in values):
        raise ValueError(f"{name} must be >= 1 on every axis, got {values}")
    return values


def non_negative(name: str, values: tuple[int, ...]) -> tuple[int, ...]:
    if any(v < 0 for v in values):
        raise ValueError(f"{name} must be >= 0 on every axis, got {values}")
    return values


def resolve_padding(padding: Padding, kernel: tuple[int, ...], stride: tuple[int, ...],
                    dilation: tuple[int, ...] | None = None) -> tuple[tuple[int, int], ...]:
    """`(before, after)` zero padding per axis, with `nn.Conv2d`'s meaning.

    `'same'` pads `dilation * (k - 1)` in total and, when that is odd, puts the
    extra row/column after (bottom/right), as PyTorch does (seed 004).
    """
    ndim = len(kernel)
    dilation = dilation if dilation is not None else (1,) * ndim
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * ndim
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"padding='same' requires stride 1 (seed 004), got stride {stride}")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    per_side = non_negative("padding", as_tuple("padding", padding, ndim))
    return tuple((p, p) for p in per_side)


def output_shape(func: str, sizes: Sequence[int], kernel: Sequence[int],
                 pads: Sequence[tuple[int, int]] | None = None, stride: Sequence[int] | None = None,
                 dilation: Sequence[int] | None = None) -> tuple[int, ...]:
    """Per axis `floor((n + pad - d(k-1) - 1) / s) + 1`, or `ValueError` when the
    (dilated) kernel does not fit in the padded input on some axis."""
    shape = []
    for axis, (n, k) in enumerate(zip(sizes, kernel, strict=True)):
        before, after = pads[axis] if pads is not None else (0, 0)
        d = dilation[axis] if dilation is not None else 1
        span, padded = d * (k - 1) + 1, n + before + after
        if span > padded:
            what = "dilated kernel" if d > 1 else "kernel"
            room = "padded input" if before or after else "input"
            raise ValueError(f"{func}: on axis {axis} the {what} ({span}) is larger than the {room} "
                             f"({padded}); the output would be empty")
        shape.append((padded - span) // (stride[axis] if stride is not None else 1) + 1)
    return tuple(shape)


def require_nonempty_kernel(name: str, kernel: torch.Tensor) -> None:
    if kernel.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(kernel.shape)}")
