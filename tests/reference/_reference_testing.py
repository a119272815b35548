"""Shared tools of the reference package's tests: data, oracles, tolerances,
and the static check that a from-scratch function calls no library convolution."""

from __future__ import annotations

import ast
import builtins
import contextlib
import inspect
import re
import textwrap
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from reference import _kernels

#: The settings of every property test: reproducible, and small enough that the
#: whole reference suite stays well under a minute on two cores.
PROPERTY = settings(max_examples=40, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
FEW = settings(PROPERTY, max_examples=15)

DTYPES = (torch.float32, torch.float64, torch.int64)
dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**31 - 1)


def make(shape: Sequence[int], dtype: torch.dtype, seed: int,
         device: torch.device | str = "cpu") -> torch.Tensor:
    """Random test data: standard normal floats, or small integers in [-4, 4]."""
    gen = torch.Generator().manual_seed(seed)
    if dtype.is_floating_point:
        data = torch.randn(tuple(shape), generator=gen, dtype=torch.float64).to(dtype)
    else:
        data = torch.randint(-4, 5, tuple(shape), generator=gen).to(dtype)
    return data.to(device)


def expected_dtype(*dtypes_in: torch.dtype) -> torch.dtype:
    """The curriculum's rule: float64 if any input is, else float32."""
    return torch.float64 if torch.float64 in dtypes_in else torch.float32


def f64(t: torch.Tensor) -> torch.Tensor:
    """The oracle's input: PyTorch's own operator, run in float64 on the CPU."""
    return t.detach().to("cpu", torch.float64)


def assert_matches(actual: torch.Tensor, oracle: torch.Tensor, *dtypes_in: torch.dtype) -> None:
    """Shape exactly, dtype by the curriculum's rule, values within a tolerance
    fit for the result dtype (scaled by the size of the values)."""
    want_dtype = expected_dtype(*dtypes_in)
    assert actual.dtype == want_dtype, f"dtype {actual.dtype}, expected {want_dtype}"
    assert tuple(actual.shape) == tuple(oracle.shape), f"shape {tuple(actual.shape)} != {tuple(oracle.shape)}"
    tol = 1e-9 if want_dtype == torch.float64 else 1e-4
    scale = float(oracle.abs().max()) if oracle.numel() else 1.0
    torch.testing.assert_close(actual.detach().to("cpu", torch.float64), oracle.to(torch.float64),
                               rtol=tol, atol=tol * (1.0 + scale))


@contextlib.contextmanager
def large_input_paths() -> Iterator[None]:
    """Sends every correlation down the path large inputs take (shift-and-add
    when no gradient is needed, one GEMM per kernel offset), so that small test
    data covers those paths too."""
    saved = _kernels.IM2COL_LIMIT, _kernels.GEMM_IM2COL_LIMIT
    _kernels.IM2COL_LIMIT = _kernels.GEMM_IM2COL_LIMIT = -1
    try:
        yield
    finally:
        _kernels.IM2COL_LIMIT, _kernels.GEMM_IM2COL_LIMIT = saved


def on_both_paths(compute: Callable[[], torch.Tensor]) -> list[torch.Tensor]:
    """`compute()` as small inputs run it (im2col), then as large ones do."""
    default = compute()
    with large_input_paths():
        return [default, compute()]


# -- static check: no library convolution inside a from-scratch function -------

#: Names that, wherever they appear as an attribute, reach a library convolution.
FORBIDDEN_ATTRIBUTES = re.compile(
    r"^(conv[123]d|conv_tbc|conv_transpose[123]d|convolution|_convolution\w*|\w+_convolution\w*"
    r"|Conv[123]d|ConvTranspose[123]d|LazyConv\w*|convolve\w*|fftconvolve|oaconvolve"
    r"|correlate2d|correlate1d|signal)$")
#: Modules that hold library convolutions: referring to them at all is suspect.
FORBIDDEN_MODULES = ("torch.nn.functional", "torch.nn.modules.conv", "torch._C._nn")
FORBIDDEN_OBJECT_NAMES = re.compile(r"^(conv\w*|_conv\w*|Conv\w*|\w*convolution\w*|convolve\w*|correlate\w*)$")


def _resolve(node: ast.expr, namespace: dict[str, Any]) -> Any:
    """The object an expression like `_kernels.shift_and_add` names, or None."""
    if isinstance(node, ast.Name):
        return namespace[node.id] if node.id in namespace else getattr(builtins, node.id, None)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, namespace)
        return getattr(base, node.attr, None) if base is not None else None
    return None


def _is_reference_code(obj: Any) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return (isinstance(obj, (types.FunctionType, type))
            and (module == "reference" or module.startswith("reference.")))


def _is_library_convolution(obj: Any) -> bool:
    if obj is None or _is_reference_code(obj):
        return False
    if isinstance(obj, types.ModuleType):
        return obj.__name__.split(".")[0] == "scipy" or obj.__name__ in FORBIDDEN_MODULES
    name = getattr(obj, "__name__", "") or ""
    return bool(FORBIDDEN_OBJECT_NAMES.match(name))


def library_convolutions_used(func: Callable[..., Any]) -> set[str]:
    """Every library-convolution reference in `func`'s source and in the source
    of every reference-package function it calls, transitively."""
    found: set[str] = set()
    seen: set[Any] = set()
    pending: list[Any] = [func]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        namespace = dict(getattr(current, "__globals__", None) or vars(inspect.getmodule(current)))
        tree = ast.parse(textwrap.dedent(inspect.getsource(current)))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                module = getattr(node, "module", None) or ""
                names = [alias.name for alias in node.names]
                if any(n.startswith("scipy") for n in [module, *names]) or any(
                        FORBIDDEN_ATTRIBUTES.match(n.split(".")[-1]) for n in names):
                    found.add(f"import of {module or names}")
            if isinstance(node, ast.Attribute) and FORBIDDEN_ATTRIBUTES.match(node.attr):
                found.add(ast.unparse(node))
            if isinstance(node, (ast.Name, ast.Attribute)):
                obj = _resolve(node, namespace)
                if _is_library_convolution(obj):
                    found.add(ast.unparse(node))
                elif _is_reference_code(obj) and obj is not current:
                    pending.append(obj)
    return found
