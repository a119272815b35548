"""The records every stage shares: what loading, executing, testing and scoring produce, and a grade.

Readers (the report formats, the gradebook, the class report) import these and
never the stages that make them, so that reading a result costs no torch
import. Records only: frozen dataclasses, their small properties, and the
Literal types of their statuses. The torch-holding types a record merely
carries (a test, a comparison) are named for type checkers alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from grader.authoring.comparison import Comparison
    from grader.authoring.testkit import GradedTest

CellStatus = Literal["ok", "error", "timeout", "crashed"]
# A StudentFailure's kind. "timeout": the call ran past its budget, out of memory, or ended its worker.
FailureKind = Literal["raised", "missing", "bad_return", "timeout", "crashed"]
ComparisonVerdict = Literal["match", "not_a_tensor", "wrong_shape", "not_floating", "wrong_values"]
TestStatus = Literal["passed", "failed", "grader_error"]
ResultStatus = Literal["graded", "unusable", "error"]   # error: a test failed on its own code, so no score
# Where the call budgets in force came from: the assignment's calibration (grader.course.budgets), one fixed
# budget for every call (--call-timeout), or the course's call_timeout because no calibration is current.
BudgetSource = Literal["calibrated", "fixed", "uncalibrated"]
# Hears each step of a grade as it starts ("cell 7 of 20", "test corr2d_grad"): a terminal's progress line.
StepListener = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Submission:
    """A notebook that loaded: what grading reads of it."""

    path: Path
    cells: tuple[str, ...]         # code cells' sources, in notebook order
    assignment: str | None         # the assignment a release wrote into the metadata
    digest: str                    # sha256 over the code, which is all that is graded
    notes: tuple[str, ...] = ()
    positions: tuple[int, ...] = ()  # each code cell's place in the notebook as its student sees it (from 1)


@dataclasses.dataclass(frozen=True)
class Unusable:
    """An upload that is no gradable notebook, and the one-line reason."""

    path: Path
    reason: str


@dataclasses.dataclass(frozen=True)
class CellOutcome:
    index: int
    status: CellStatus
    message: str = ""


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What a submission's workers' guards reported on their evidence channels (grader.host.evidence)."""

    convolutions: Mapping[str, tuple[str, ...]]   # from-scratch function -> what the watch saw in its calls
    tampering: tuple[str, ...]                    # what the guard saw outside them


@dataclasses.dataclass(frozen=True)
class CallBudgets:
    """The seconds one call into student code may take, per graded name (grader.course.budgets)."""

    seconds: Mapping[str, float]   # name -> its budget, never over `ceiling`
    ceiling: float                 # any other name's budget: the course's call_timeout (or --call-timeout)
    source: BudgetSource

    def of(self, name: str) -> float:
        return self.seconds.get(name, self.ceiling)


@dataclasses.dataclass(frozen=True)
class ExecutionRecord:
    """How one submission's run went, once its tests are done (grader.host.execute)."""

    cells: tuple[CellOutcome, ...]
    notes: tuple[str, ...]
    isolation: Mapping[str, Any]
    student_output: str
    restarts: int
    timeouts: int                  # cells and calls that ran out of time
    crashes: int                   # cells and calls whose process died, or that ran out of its memory
    evidence: Evidence = Evidence({}, ())   # what the workers' guards reported (grader.worker.guard)
    # name -> the most computing (CPU seconds, else wall) one answered call of it took, as budgets count it
    slowest_calls: Mapping[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class TestOutcome:
    __test__ = False  # not a pytest class

    test: GradedTest
    status: TestStatus
    message: str = ""      # the full reason; only instructors see it for hidden tests
    seconds: float = 0.0
    comparisons: tuple[Comparison, ...] = ()   # what a public test compared; always empty for a hidden one


@dataclasses.dataclass(frozen=True)
class TestScore:
    __test__ = False  # not a pytest class

    name: str
    function: str
    score: float
    max_score: float
    passed: bool
    hidden: bool
    feedback: str          # what the student may see
    detail: str            # the full reason, for instructors
    grader_error: bool = False
    comparisons: tuple[Comparison, ...] = ()   # a public test's values, for the feedback page; none if hidden
    seconds: float = 0.0   # how long the test took, its calls into student code included

    @property
    def tip(self) -> bool:
        """Worth no points (grader.authoring.testkit): advice, never counted."""
        return self.max_score == 0


@dataclasses.dataclass(frozen=True)
class GradeResult:
    """One notebook's grade, or why it has none (grader.grading.pipeline)."""

    submission: Path
    assignment: str | None
    status: ResultStatus
    reason: str                                  # why unusable or not graded; "" when graded
    tests: tuple[TestScore, ...] = ()
    library_convolutions: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    cells: tuple[CellOutcome, ...] = ()
    notes: tuple[str, ...] = ()
    isolation: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    student_output: str = ""
    seconds: float = 0.0
    max_score_if_unusable: float = 0.0
    assignment_digest: str = ""                  # the version of the tests that graded it
    timeouts: int = 0                            # cells and calls that ran out of time
    crashes: int = 0                             # cells and calls whose worker died, or ran out of its memory
    call_budgets: CallBudgets | None = None      # the budgets in force; None when nothing ran
    # name -> seconds of its slowest answered call: what `grade calibrate` and `grade audit` measure
    slowest_calls: Mapping[str, float] = dataclasses.field(default_factory=dict)

    @property
    def score(self) -> float:
        """The points earned; 0 unless graded (a grader error is never a lower score: there is none)."""
        return sum(t.score for t in self.tests) if self.status == "graded" else 0.0

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests) if self.tests else self.max_score_if_unusable

    @property
    def grader_errors(self) -> tuple[str, ...]:
        return tuple(f"{t.name}: {t.detail}" for t in self.tests if t.grader_error)


@dataclasses.dataclass(frozen=True)
class GraderFailure:
    """The grader failed on one submission of a batch (its own defect, a lost cluster worker, tests of
    another version): no result, and the batch goes on."""

    submission: str                # the collected file's name
    reason: str                    # one line, for the staff
