"""The vocabulary of an assignment's tests.

An assignment's `public_tests.py` and `hidden_tests.py` import only this module
(and `reference`). A test is a plain function `(student, rng) -> None` that
raises `TestFailure` when the student's answer is wrong; the decorators attach
its points, the curriculum name it grades, and (for hidden tests) the hint that
is all a student ever sees of it.

Tests run in the grader's process. `student` is a proxy: every call on it sends
plain data to the worker that holds the student's code and brings plain data
back, so nothing a student writes can reach the test's own objects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import torch

from grader.authoring.comparison import record_comparison
from grader.records import ComparisonVerdict, FailureKind
from grader.worker.quote import MESSAGE_LIMIT, cut
from grader.worker.returns import described

TestBody = Callable[["Student", torch.Generator], None]


@dataclasses.dataclass(frozen=True)
class GradedTest:
    name: str
    function: str
    points: float
    hidden: bool
    hint: str
    body: TestBody

    @property
    def tip(self) -> bool:
        """Worth no points: advice on a property beyond the grading contract."""
        return self.points == 0

    def __call__(self, student: Student, rng: torch.Generator) -> None:
        self.body(student, rng)


def public_test(*, function: str, points: float, hint: str = "") -> Callable[[TestBody], GradedTest]:
    """A test students may read and run; its failure message is shown to them.

    `points=0` makes it a tip: it runs and shows its advice, but never counts.
    It is for properties beyond the contract (the seeds' code lacks them)."""
    return _graded(function=function, points=points, hidden=False, hint=hint)


def hidden_test(*, function: str, points: float, hint: str) -> Callable[[TestBody], GradedTest]:
    """A test whose inputs and code stay with the grader; students see only `hint`.

    `points=0` makes it a tip, as for `public_test`."""
    if not hint:
        raise ValueError("a hidden test needs a hint: it is all the student sees of it")
    return _graded(function=function, points=points, hidden=True, hint=hint)


def _graded(*, function: str, points: float, hidden: bool, hint: str) -> Callable[[TestBody], GradedTest]:
    def decorate(body: TestBody) -> GradedTest:
        return GradedTest(name=body.__name__, function=function, points=float(points),
                          hidden=hidden, hint=hint, body=body)
    return decorate


class TestFailure(Exception):
    """The student's answer is wrong; the message says how, in one sentence.

    A message that quotes the student's value (`yours returned {result!r}`)
    is cut to MESSAGE_LIMIT characters, keeping its start and end."""

    __test__ = False  # not a pytest class, despite the name

    def __init__(self, message: str) -> None:
        message = cut(message, MESSAGE_LIMIT)
        super().__init__(message)
        self.message = message


class StudentFailure(Exception):
    """The student's code did not produce an answer: it raised, hung, crashed,
    was missing, or returned something that is not plain data."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        message = cut(message, MESSAGE_LIMIT)  # it quotes what the worker sent
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclasses.dataclass(frozen=True)
class Training:
    """Plain gradient descent on squared loss, as seed 002 trains `Conv2D`."""
    X: torch.Tensor
    Y: torch.Tensor
    lr: float
    steps: int


@dataclasses.dataclass(frozen=True)
class ModuleRun:
    parameters: Mapping[str, torch.Tensor]  # after construction, loading and training
    outputs: Sequence[torch.Tensor]         # forward(x) for each input, after training
    losses: Sequence[float]                 # summed squared loss before each training step


@dataclasses.dataclass(frozen=True)
class CallCost:
    """How much work one call did: tensor ops dispatched, and lines of Python run."""
    tensor_ops: int
    python_lines: int


class Student(Protocol):
    """The student's notebook, as the tests may use it."""

    def __getattr__(self, name: str) -> Callable[..., torch.Tensor]:
        """`student.corr2d(X, K)`: call a function that must return one tensor."""

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call a function that returns other plain data (ints, tuples, lists)."""

    def gradients(self, name: str, *args: Any, wrt: Sequence[int],
                  grad_output: torch.Tensor | None = None) -> tuple[torch.Tensor, tuple[torch.Tensor | None, ...]]:
        """Call `name`, back-propagate `grad_output` (default: ones), and return
        the output and the gradient reaching each argument in `wrt` (None when
        none arrives)."""

    def module(self, name: str, *ctor_args: Any, parameters: Mapping[str, torch.Tensor] | None = None,
               inputs: Sequence[torch.Tensor] = (), train: Training | None = None) -> ModuleRun:
        """Build `name(*ctor_args)`, optionally load `parameters`, train, then
        run `forward` on each input."""

    def cost(self, name: str, *args: Any) -> CallCost:
        """Call `name` and count the work it did."""


FLOAT32_TOLERANCE = 1e-4  # students may compute in float32, whatever dtype they hand back


def float_tolerance(expected: torch.Tensor) -> tuple[float, float]:
    """(rtol, atol) fit for float32, the precision every student may compute in,
    scaled by the size of the values, since sums of many float32 products lose bits.

    Never tighter for float64 results: a float32 computation cast to float64 is
    as right as the float32 one."""
    scale = float(expected.detach().abs().max()) if expected.numel() else 1.0
    return FLOAT32_TOLERANCE, FLOAT32_TOLERANCE * (1.0 + scale)


def expect_close(actual: Any, expected: torch.Tensor | tuple[int, ...], *, what: str,
                 hint: str = "") -> None:
    """The one tensor comparison of every test: type, then shape, then values, then the hint.

    `expected` is a tensor, or just a shape (a tuple) for a shape-only check.
    `what` names the call in the student's terms, e.g. "corr2d(X, K) for a 3x3
    X and 2x2 K"; every message starts with it. In a public test the values
    are also recorded for the student's feedback page (grader.authoring.comparison).
    """
    verdict, message, (rtol, atol) = _compare(actual, expected, what, hint)
    record_comparison(what, verdict, expected, actual, rtol=rtol, atol=atol)
    if message:
        raise TestFailure(message)


def _compare(actual: Any, expected: torch.Tensor | tuple[int, ...], what: str,
             hint: str) -> tuple[ComparisonVerdict, str, tuple[float, float]]:
    """(verdict, failure message or "", the (rtol, atol) of the value check or zeros)."""
    no_tolerance = (0.0, 0.0)
    if not isinstance(actual, torch.Tensor):
        return "not_a_tensor", f"{what} should be a torch.Tensor; yours is {described(actual)}", no_tolerance
    expected_shape = tuple(expected.shape) if isinstance(expected, torch.Tensor) else tuple(expected)
    if tuple(actual.shape) != expected_shape:
        return ("wrong_shape", f"{what} should have shape {_shape(expected_shape)}; yours has "
                f"{_shape(tuple(actual.shape))}" + (f": {hint}" if hint else ""), no_tolerance)
    if not isinstance(expected, torch.Tensor):
        return "match", "", no_tolerance
    if not (actual.is_floating_point() or actual.is_complex()):
        return ("not_floating", f"{what} should return a floating-point tensor; yours has dtype {actual.dtype}",
                no_tolerance)
    want = expected.detach().to(torch.float64)
    got = actual.detach().to(torch.float64)
    rtol, atol = float_tolerance(want)
    bad = mismatches(got, want)
    if bad.any():
        first = tuple(int(i) for i in bad.nonzero()[0])
        worst = float((got - want).abs().nan_to_num(float("inf")).max())
        return ("wrong_values", f"{what} is wrong in {int(bad.sum())} of {want.numel()} values "
                f"(first at index {first}, largest difference {worst:.3g})" + (f": {hint}" if hint else ""),
                (rtol, atol))
    return "match", "", (rtol, atol)


def mismatches(actual: torch.Tensor, expected: torch.Tensor, *, equal_nan: bool = False) -> torch.Tensor:
    """Where two tensors of one shape differ by more than the float32 tolerance (a bool tensor)."""
    want, got = expected.detach().to(torch.float64), actual.detach().to(torch.float64)
    rtol, atol = float_tolerance(want)
    # torch.isclose decides exactly as torch.testing.assert_close does for two
    # float64 CPU tensors of one shape, without assert_close's first-call import
    # of torch.distributed and sympy (a second of CPU per grading run).
    return ~torch.isclose(got, want, rtol=rtol, atol=atol, equal_nan=equal_nan)


def expect(condition: bool, message: str) -> None:
    """A non-tensor check, e.g. a parameter's name or a loss that must fall."""
    if not condition:
        raise TestFailure(message)


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"
