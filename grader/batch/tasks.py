"""What a batch hands its executors: one `GradingTask` per collected submission, and how one is graded.

An `Executor` runs tasks and yields each with its result as it finishes: the
local pool (grader.batch.run) in threads of this process, the cluster
(grader.batch.cluster) on Dask workers. Both grade a task with `grade_task`,
so that a submission's score does not depend on where it was graded; a
grader failure on one is its `GraderFailure`, and the batch goes on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from grader.batch.collect import CollectedSubmission
from grader.course.assignment import (
    POINTS_PER_ASSIGNMENT,
    Assignment,
    available,
    load_assignment,
)
from grader.environment import usable_cpus
from grader.errors import GraderError
from grader.host.execute import Limits
from grader.records import GradeResult, GraderFailure

if TYPE_CHECKING:
    from grader.session import Grader


@dataclasses.dataclass(frozen=True)
class BatchOptions:
    assignment: str | None = None
    jobs: int = dataclasses.field(default_factory=usable_cpus)
    regrade: bool = False
    scheduler: str | None = None       # a Dask scheduler's address; None grades on this machine
    call_timeout: float = 10.0         # the ceiling of each call's calibrated budget (grader.course.budgets)
    fixed_call_timeout: bool = False   # --call-timeout: call_timeout is every call's budget
    memory_mb: int = 2048              # a worker's memory cap: the course's [limits]
    feedback: bool = True              # write each student's feedback page into DIR/feedback/
    unconfined: bool = False           # --unconfined: hidden tests even where student code cannot be confined

    def limits(self) -> Limits:
        # Workers share the cores: N submissions at once, each with its share of threads.
        return Limits(call_timeout=self.call_timeout, memory_bytes=self.memory_mb << 20,
                      threads=max(1, usable_cpus() // self.jobs), fixed_call_timeout=self.fixed_call_timeout)


@dataclasses.dataclass(frozen=True)
class GradingTask:
    """What grading one submission needs, on this machine or another: its file, the batch's options, and
    the course secret (so that every machine derives the same hidden inputs)."""

    submission: CollectedSubmission
    options: BatchOptions
    secret: bytes


Outcome = GradeResult | GraderFailure


class Executor(Protocol):
    def run(self, tasks: Sequence[GradingTask]) -> Iterator[tuple[GradingTask, Outcome]]:
        """Grade every task, yielding each with its outcome as soon as it is done."""
        ...


def grade_task(task: GradingTask, definitions: Mapping[str, Assignment], grader: Grader) -> Outcome:
    """Grade one collected notebook in `grader`'s session, which seeds with the task's secret; a grader
    failure on it is its outcome, so that the batch goes on."""
    submission, options = task.submission, task.options
    if submission.refused:
        return refused_result(task, definitions)
    try:
        if grader.secret != task.secret:
            raise GraderError("the session's course secret is not the batch's")
        return grader.grade(Path(submission.file_name), content=submission.content, assignment=options.assignment,
                            limits=options.limits(), definitions=definitions)
    except Exception as error:  # noqa: BLE001 - one submission's grader failure must not stop the batch
        return GraderFailure(submission.file_name, f"{type(error).__name__}: {error}")


def refused_result(task: GradingTask, definitions: Mapping[str, Assignment]) -> GradeResult:
    """An input that could not be read: unusable, with why, out of the assignment's points."""
    assignment = task.options.assignment
    requested = definitions.get(assignment) if assignment else None
    return GradeResult(submission=Path(task.submission.file_name or "submission"), assignment=assignment,
                       status="unusable", reason=task.submission.refused,
                       max_score_if_unusable=requested.max_score if requested else POINTS_PER_ASSIGNMENT)


def load_definitions(requested: str | None) -> dict[str, Assignment]:
    """Every assignment the batch may meet, loaded once (a broken one fails here, before any grading)."""
    names = (requested,) if requested else available()
    return {name: load_assignment(name) for name in names}
