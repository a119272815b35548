"""Answers that do nothing: what a grade must not reward.

Each is the teaching notebook plus one cell that rebinds every graded name to
a wrapper: it calls the solution only to learn the shape of the right answer,
then hands back zeros of that shape, a constant, a copy of the input's
top-left window, or random values. Classes keep their parameters and lose
their forward pass. Ints in an answer (an output shape) become a constant, and
floats (losses) zero. `grade audit` grades each one, and the released stubs
beside them; none may score over 10% of the assignment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

NothingKind = Literal["zeros", "constant", "top-left copy of the input", "random values"]
KINDS: tuple[NothingKind, ...] = ("zeros", "constant", "top-left copy of the input", "random values")

_TENSOR_OF_KIND: dict[NothingKind, str] = {
    "zeros": "_cg_torch.zeros(value.shape, dtype=_cg_float(value), device=value.device)",
    "constant": "_cg_torch.full(value.shape, 0.5, dtype=_cg_float(value), device=value.device)",
    "top-left copy of the input": "_cg_top_left(value, args)",
    "random values": "_cg_torch.rand(value.shape, generator=_cg_torch.Generator().manual_seed(0))"
                     ".to(dtype=_cg_float(value), device=value.device)",
}

_WRAPPERS = '''
import torch as _cg_torch


def _cg_float(value):
    return value.dtype if value.is_floating_point() else _cg_torch.float32


def _cg_top_left(value, args):
    """The first tensor argument's top-left corner, in the answer's shape (zeros where it is smaller)."""
    out = _cg_torch.zeros(value.shape, dtype=_cg_float(value), device=value.device)
    source = next((a for a in args if isinstance(a, _cg_torch.Tensor) and a.dim() > 0), None)
    if source is None or value.dim() == 0:
        return out
    source = source.detach()
    while source.dim() > value.dim():
        source = source[0]
    while source.dim() < value.dim():
        source = source.unsqueeze(0)
    region = tuple(slice(0, min(a, b)) for a, b in zip(out.shape, source.shape))
    out[region] = source[region].to(out.dtype)
    return out


def _cg_nothing(value, args):
    if isinstance(value, _cg_torch.Tensor):
        return {tensor}
    if isinstance(value, (tuple, list)):
        return type(value)(_cg_nothing(v, args) for v in value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {integer}
    if isinstance(value, float):
        return 0.0
    return value


def _cg_function(real):
    def nothing(*args, **kwargs):
        return _cg_nothing(real(*args, **kwargs), args)
    return nothing


def _cg_module(real):
    class Nothing(real):
        def forward(self, *args, **kwargs):
            return _cg_nothing(real.forward(self, *args, **kwargs), args)
    Nothing.__name__ = Nothing.__qualname__ = real.__name__
    return Nothing


def _cg_wrap(real):
    return _cg_module(real) if isinstance(real, type) else _cg_function(real)
'''


def do_nothing_cells(cells: Sequence[str], functions: Sequence[str], kind: NothingKind) -> tuple[str, ...]:
    """The solved notebook's cells, then one cell that makes every graded name do nothing of `kind`."""
    integer = "0" if kind == "zeros" else "1"
    wrapper = _WRAPPERS.replace("{tensor}", _TENSOR_OF_KIND[kind]).replace("{integer}", integer)
    # One statement per name, not a loop over globals(): the tampering check refuses globals().
    rebind = "".join(f"try:\n    {name} = _cg_wrap({name})\nexcept NameError:\n    pass\n" for name in functions)
    return (*cells, wrapper + "\n\n" + rebind)
