"""Batch grading on a Dask distributed cluster: `grade batch ... --scheduler tcp://HOST:PORT`.

Each task (a `GradingTask`: a notebook's bytes, the batch's options and the
course secret, so every machine derives the same hidden inputs, and a
submission's score does not depend on which machine graded it) returns its
`GradeResult`. The gradebook stays with the process that runs `grade batch`.

On each Dask worker process, one Grader session serves every task it runs:
the first task pays its zygote's torch import, the rest fork from it. The worker machines
need this grader and the course's assignments installed: each result names
the version of the tests that graded it, and the batch checks that against
its own.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from grader.batch.tasks import (
    GradingTask,
    Outcome,
    grade_task,
    load_definitions,
)
from grader.course import Course, locate, using
from grader.course.assignment import Assignment, load_assignment
from grader.environment import configured_course
from grader.errors import UsageError
from grader.extras import require_extra
from grader.records import GraderFailure

if TYPE_CHECKING:
    from grader.session import Grader

_ON_THIS_WORKER = threading.Lock()  # a Dask worker runs tasks in several threads


class DaskCluster:
    """An executor whose tasks run on the Dask cluster at `address`."""

    def __init__(self, address: str, definitions: Mapping[str, Assignment]) -> None:
        self._address = address
        self._definitions = dict(definitions)   # this machine's: each result is checked against them

    def run(self, tasks: Sequence[GradingTask]) -> Iterator[tuple[GradingTask, Outcome]]:
        require_extra("cluster", "grade batch --scheduler")
        from distributed import Client, as_completed

        try:
            client = Client(self._address, timeout=30)
        except (OSError, TimeoutError, ValueError) as error:
            raise UsageError(f"cannot reach the Dask scheduler at {self._address}: {error}") from None
        with client:
            futures = {client.submit(grade_remotely, task, pure=False,
                                     key=f"grade-{task.submission.content_hash[:16]}-{index}"): task
                       for index, task in enumerate(tasks)}
            for future in as_completed(futures):
                task = futures[future]
                try:
                    outcome: Outcome = future.result()
                except Exception as error:  # noqa: BLE001 - a failed task (a lost worker, say) costs one submission
                    outcome = GraderFailure(task.submission.file_name,
                                            f"the cluster failed to grade it: {type(error).__name__}: {error}")
                yield task, checked(outcome, self._definitions)


def grade_remotely(task: GradingTask) -> Outcome:
    """Runs on a Dask worker: grade one notebook in this worker process's session, with its tests."""
    with _ON_THIS_WORKER:
        grader = _session(task.secret, task.options.unconfined)
        definitions = _definitions(grader.course, task.options.assignment)
    return grade_task(task, definitions, grader)


@functools.cache
def _session(secret: bytes, unconfined: bool) -> Grader:
    """One session per worker process (and batch secret), open while the process lives: the first task pays
    its zygote's torch import, the rest fork from it. The worker is an entry point of its own: its course
    comes from $CONVGRADE_COURSE or its working folder."""
    from grader.session import Grader

    return Grader(locate(configured_course()), secret=secret, unconfined=unconfined, many_submissions=True).__enter__()


@functools.cache
def _definitions(course: Course, assignment: str | None) -> dict[str, Assignment]:
    with using(course):
        return load_definitions(assignment)


def checked(outcome: Outcome, definitions: Mapping[str, Assignment] | None = None) -> Outcome:
    """A result graded by another version of the tests than this machine's is not a grade to keep."""
    if isinstance(outcome, GraderFailure) or outcome.status != "graded" or outcome.assignment is None:
        return outcome
    ours = (definitions or {}).get(outcome.assignment) or load_assignment(outcome.assignment)
    if ours.digest != outcome.assignment_digest:
        return GraderFailure(outcome.submission.name,
                             f"the cluster's copy of the {outcome.assignment} tests differs from this machine's "
                             f"({outcome.assignment_digest} there, {ours.digest} here): install the same version "
                             "on every worker")
    return outcome
