"""The second signal of the from-scratch rule: library convolutions in the source.

The dispatcher watch in the worker sees what actually ran; this reads what the
notebook says, in the grader's own process, where student code cannot
interfere. It follows aliases (`import torch.nn.functional as F`, `from
scipy.signal import convolve2d as c`) and the notebook's own helper functions
that a from-scratch function calls.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable, Iterator

from IPython.core.inputtransformer2 import TransformerManager

LIBRARIES = ("torch", "numpy", "scipy")
_CONVOLUTION_NAME = re.compile(
    r"^(_?conv(\d?d|_transpose\dd|_tbc)?|_?convolution|convolve\w*|correlate\w*|fftconvolve|oaconvolve"
    r"|(Lazy)?Conv(Transpose)?\dd)$")


def library_convolutions(cells: tuple[str, ...], functions: Iterable[str]) -> dict[str, set[str]]:
    """For each of `functions`, the library convolutions its source (or the
    notebook helpers it calls) names, e.g. {"corr2d": {"torch.nn.functional.conv2d"}}."""
    aliases: dict[str, str] = {}
    definitions: dict[str, ast.AST] = {}
    for tree in parsed_cells(cells):
        for node in ast.walk(tree):
            _record_imports(node, aliases)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                definitions[node.name] = node  # the last definition wins, as when running
    found: dict[str, set[str]] = {}
    for name in functions:
        if name in definitions:
            used = _convolutions_reached(name, definitions, aliases)
            if used:
                found[name] = used
    return found


# What a notebook about convolutions has no reason to touch: the grader's own
# modules, the dispatcher and tracing hooks that watch it, and the ways of
# reaching them without naming them.
_TAMPERING_MODULES = frozenset({"grader", "convgrade", "ctypes", "gc", "importlib", "inspect", "builtins"})
_TAMPERING_ATTRIBUTES = frozenset({"sys.modules", "sys.settrace", "sys.setprofile", "sys.gettrace",
                                   "sys._getframe", "torch.utils._python_dispatch", "torch._C._unset_dispatch_mode",
                                   "torch._C._pop_torch_dispatch_stack", "torch._C._set_dispatch_mode",
                                   "torch._C.DisableTorchFunctionSubclass", "torch._C.DisableTorchFunction"})
_TAMPERING_CALLS = frozenset({"exec", "eval", "compile", "__import__", "globals", "vars"})


def tampering(cells: tuple[str, ...]) -> set[str]:
    """The grader-reaching constructs a notebook uses, e.g. {"import grader"}."""
    found: set[str] = set()
    aliases: dict[str, str] = {}
    for tree in parsed_cells(cells):
        for node in ast.walk(tree):
            _record_imports(node, aliases)
            if isinstance(node, ast.Import):
                found.update(f"import {a.name}" for a in node.names if _tampering_module(a.name))
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.update(f"from {node.module} import {a.name}" for a in node.names
                             if _tampering_module(f"{node.module}.{a.name}"))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _TAMPERING_CALLS:
                found.add(f"{node.func.id}()")
            dotted = _dotted(node, aliases) if isinstance(node, ast.Attribute) else None
            if dotted and any(dotted == a or dotted.startswith(a + ".") for a in _TAMPERING_ATTRIBUTES):
                found.add(dotted)
    return found


def parsed_cells(cells: tuple[str, ...]) -> Iterator[ast.Module]:
    """Each cell as Python, IPython syntax (magics, !shell) translated first.
    A cell magic's body (`%%time`) is read as the code it is; a cell that does
    not parse did not run either, so it is skipped."""
    for source in cells:
        tree = _parsed(source)
        if tree is not None:
            yield tree


@functools.lru_cache(maxsize=4096)
def _parsed(source: str) -> ast.Module | None:
    """Cached: three checks read every cell of a submission, and trees are never changed."""
    if source.lstrip().startswith("%%"):
        source = source.lstrip().partition("\n")[2]
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        pass
    # IPython's syntax is never valid Python, so only a cell that fails to parse needs its (slow) translation.
    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None


def _tampering_module(dotted: str) -> bool:
    return dotted.split(".")[0] in _TAMPERING_MODULES or any(
        dotted == a or dotted.startswith(a + ".") for a in _TAMPERING_ATTRIBUTES)


def _record_imports(node: ast.AST, aliases: dict[str, str]) -> None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                aliases[alias.asname] = alias.name
            else:
                aliases.setdefault(alias.name.split(".")[0], alias.name.split(".")[0])
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        for alias in node.names:
            aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"


def _convolutions_reached(name: str, definitions: dict[str, ast.AST], aliases: dict[str, str]) -> set[str]:
    found: set[str] = set()
    pending, seen = [name], set()
    while pending:
        current = pending.pop()
        if current in seen or current not in definitions:
            continue
        seen.add(current)
        for node in ast.walk(definitions[current]):
            dotted = _dotted(node, aliases)
            if dotted and dotted.split(".")[0] in LIBRARIES and _CONVOLUTION_NAME.match(dotted.split(".")[-1]):
                found.add(dotted)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                pending.append(node.func.id)
    return found


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return ".".join([aliases[node.id], *reversed(parts)])
