"""What a public test compared: the expected and actual tensors behind its verdict.

`testkit.expect_close` records each of its comparisons into the collector that
`test.run_test` opens around a public test, so that a student's feedback page
can show the values side by side. A hidden test runs with the collector shut,
so its inputs and expected values never leave the test.

The collector is a context variable: batch grading runs tests in several
threads at once, and each thread must collect only its own test's comparisons.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator
from typing import Any

import torch

from grader.records import ComparisonVerdict

# Enough to see what went wrong, small enough for a batch to keep every result in memory.
MAX_SIDE = 64           # of each of the last two dimensions
MAX_LEADING = 4         # of each dimension before them
MAX_PLANES = 16         # of all of them together: a tensor of many dimensions must not keep 4 ** n planes
MAX_PER_TEST = 16       # a test that compares in a loop keeps its last ones, the failure among them
MAX_VALUES_PER_TEST = 1 << 18   # values kept by one test's comparisons together (2 MiB of float64)


@dataclasses.dataclass(frozen=True, eq=False)
class Comparison:
    """One `expect_close`: its label, verdict, and (the start of) both values.

    `expected` is None for a shape-only check, `actual` is None when the
    answer was not a tensor. Values are detached float64 CPU copies (complex
    ones as magnitudes), cut to `MAX_LEADING`/`MAX_SIDE` along each dimension.
    """

    label: str                              # the call, in the student's terms (expect_close's `what`)
    verdict: ComparisonVerdict
    expected_shape: tuple[int, ...]
    actual_shape: tuple[int, ...] | None    # None when the answer was not a tensor
    expected: torch.Tensor | None = None
    actual: torch.Tensor | None = None
    rtol: float = 0.0                       # the tolerance of the value check, when there was one
    atol: float = 0.0
    truncated: bool = False                 # a value was cut to its first MAX_SIDE x MAX_SIDE

    @property
    def matched(self) -> bool:
        return self.verdict == "match"

    def __eq__(self, other: object) -> bool:
        # Field by field, with tensors compared by value: the default would ask a tensor for its truth.
        if not isinstance(other, Comparison):
            return NotImplemented
        return (self._fields_but_tensors() == other._fields_but_tensors()
                and _same(self.expected, other.expected) and _same(self.actual, other.actual))

    def __hash__(self) -> int:
        return hash(self._fields_but_tensors())

    def _fields_but_tensors(self) -> tuple[Any, ...]:
        return (self.label, self.verdict, self.expected_shape, self.actual_shape, self.rtol, self.atol,
                self.truncated)


_collector: contextvars.ContextVar[list[Comparison] | None] = contextvars.ContextVar(
    "convgrade_comparisons", default=None)


@contextlib.contextmanager
def collecting(*, enabled: bool) -> Iterator[list[Comparison]]:
    """The comparisons `expect_close` makes inside the block, in order.

    With `enabled=False` nothing is collected, not even by a collector opened
    further out: a hidden test's values must never be kept anywhere.
    """
    collected: list[Comparison] = []
    token = _collector.set(collected if enabled else None)
    try:
        yield collected
    finally:
        _collector.reset(token)


def record_comparison(label: str, verdict: ComparisonVerdict, expected: torch.Tensor | tuple[int, ...],
                      actual: Any, *, rtol: float = 0.0, atol: float = 0.0) -> None:
    """Keep one comparison, if a collector is open in this context."""
    collected = _collector.get()
    if collected is None:
        return
    expected_value, expected_cut = _snapshot(expected) if isinstance(expected, torch.Tensor) else (None, False)
    actual_value, actual_cut = _snapshot(actual) if isinstance(actual, torch.Tensor) else (None, False)
    expected_shape = tuple(expected.shape) if isinstance(expected, torch.Tensor) else tuple(expected)
    actual_shape = tuple(actual.shape) if isinstance(actual, torch.Tensor) else None
    if len(collected) >= MAX_PER_TEST:
        del collected[0]
    collected.append(Comparison(label, verdict, expected_shape, actual_shape, expected_value, actual_value,
                                rtol, atol, expected_cut or actual_cut))
    while len(collected) > 1 and sum(_values_kept(c) for c in collected) > MAX_VALUES_PER_TEST:
        del collected[0]


def _snapshot(tensor: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """A small detached float64 CPU copy of the tensor's start, and whether it was cut."""
    leading = tuple(slice(0, n) for n in _leading_kept(tuple(tensor.shape[:-2])))
    trailing = tuple(slice(0, MAX_SIDE) for _ in range(min(tensor.dim(), 2)))
    kept = tensor.detach()[leading + trailing]   # cut before copying, so a large tensor costs no more
    truncated = tuple(kept.shape) != tuple(tensor.shape)
    if kept.is_complex():
        kept = kept.abs()                        # a heatmap can show only one real number per cell
    return kept.to(device="cpu", dtype=torch.float64, copy=True), truncated


def _values_kept(comparison: Comparison) -> int:
    return sum(t.numel() for t in (comparison.expected, comparison.actual) if t is not None)


def _leading_kept(shape: tuple[int, ...]) -> tuple[int, ...]:
    """How much of each leading dimension to keep: MAX_LEADING of each, the
    last ones first, while the planes kept number at most MAX_PLANES."""
    kept: list[int] = []
    planes = 1
    for size in reversed(shape):
        keep = max(1, min(size, MAX_LEADING, MAX_PLANES // planes))
        kept.append(keep)
        planes *= keep
    return tuple(reversed(kept))


def _same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and bool(torch.equal(a.nan_to_num(), b.nan_to_num())) and bool(
        torch.equal(a.isnan(), b.isnan()))
