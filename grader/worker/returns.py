"""What a student's function returned, in words a student can act on.

"corr2d returned a numpy.ndarray of shape (2, 2); expected a torch.Tensor
(torch.from_numpy converts one)", rather than the error that converting it
raised. Used on both sides of the wire: in the worker, for what cannot cross
to the grader (an array, an object of the student's own class), and in the
grader, for plain data of the wrong kind.

A description names the value's type and size, never its contents beyond a
number: what a student returns may be huge, and a type's name is theirs to
choose (any length, any characters), so names are cut and escaped.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from grader.worker.quote import cut

NAME_LIMIT = 60          # characters of a type's name
NUMBER_LIMIT = 40        # characters of a number's repr
ITEMS_SHOWN = 3          # items of a list or tuple whose kinds are named
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def described(value: Any) -> str:
    """`value` in a few words: "None", "a float (0.5)", "a tuple of 2 items (a torch.Tensor, a list)"."""
    try:
        return _described(value, nested=False)
    except Exception:  # noqa: BLE001 - in the worker, a student's object may raise from anything it is asked
        return "an object that cannot be described"


def tensor_expected(value: Any) -> str:
    """The end of "NAME returned ...; expected a torch.Tensor (how to get one)"."""
    return f"returned {described(value)}; expected a torch.Tensor{_quietly(_advice, value)}"


def not_plain(value: Any, inside: str = "") -> str:
    """Why a returned value cannot cross to the grader, and what would."""
    advice = " (torch.from_numpy converts one)" if _quietly(_is_array, value) else ""
    return (f"returned {described(value)}{inside}, which the grader cannot take: return a torch.Tensor{advice}, "
            "or plain numbers, strings, lists, tuples and dicts")


def _quietly(ask: Any, value: Any) -> Any:
    try:
        return ask(value)
    except Exception:  # noqa: BLE001 - as in described(): a student's type may raise from its own attributes
        return ""


def _described(value: Any, *, nested: bool) -> str:
    kind = type(value)
    if value is None:
        return "None"
    if kind is bool:
        return f"a bool ({value})"
    if kind in (int, float):
        return f"{'an int' if kind is int else 'a float'} ({cut(repr(value), NUMBER_LIMIT)})"
    if kind is str:
        return f"a str of {len(value)} character{'s' * (len(value) != 1)}"
    if kind in (list, tuple):
        text = f"a {kind.__name__} of {len(value)} item{'s' * (len(value) != 1)}"
        if nested or not value:
            return text
        shown = ", ".join(_described(item, nested=True) for item in value[:ITEMS_SHOWN])
        return f"{text} ({shown}{', ...' if len(value) > ITEMS_SHOWN else ''})"
    if kind is dict:
        return f"a dict of {len(value)} key{'s' * (len(value) != 1)}"
    if isinstance(value, torch.Tensor):
        with torch._C.DisableTorchFunctionSubclass():  # a subclass's own shape is not asked
            shape = tuple(torch.Tensor.as_subclass(value, torch.Tensor).shape)
        return f"a torch.Tensor of shape {_shape(shape)}"
    if _is_array(value):
        return f"a numpy.ndarray of shape {_shape(tuple(value.shape))} and dtype {_name(str(value.dtype))}"
    name = _name(f"{kind.__module__}.{kind.__qualname__}" if kind.__module__ != "builtins" else kind.__qualname__)
    article = "an" if name[:1].lower() in "aeiou" else "a"
    if kind.__module__ == "numpy" and hasattr(value, "item"):  # a numpy scalar: its number says more than its type
        return f"{article} {name} ({cut(repr(value.item()), NUMBER_LIMIT)})"
    return f"{article} {name}"


def _advice(value: Any) -> str:
    if value is None:
        return " (is a return statement missing?)"
    if _is_array(value):
        return " (torch.from_numpy converts one)"
    if type(value) in (list, tuple):
        if any(isinstance(item, torch.Tensor) for item in value):
            return f" (return the tensor itself, not a {type(value).__name__} holding it)"
        return " (torch.tensor converts a list of numbers)"
    if type(value) in (bool, int, float) or type(value).__module__ == "numpy":
        return " (torch.tensor converts a number; or keep the tensor instead of calling .item() or float())"
    return ""


def _is_array(value: Any) -> bool:
    kind = type(value)
    return (kind.__module__ == "numpy" and kind.__qualname__ in ("ndarray", "matrix")) or (
        kind.__module__ == "numpy.ma.core" and kind.__qualname__ == "MaskedArray")


def _shape(shape: tuple[Any, ...]) -> str:
    sizes = [str(int(n)) for n in shape[:8]] + (["..."] if len(shape) > 8 else [])
    return "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"


def _name(text: str) -> str:
    """A type's name as one inert line: control and other non-ASCII characters escaped, then cut."""
    escaped = _UNPRINTABLE.sub(lambda match: match[0].encode("unicode_escape").decode("ascii"), str(text))
    return cut(escaped, NAME_LIMIT)
