"""Batch grading on a Dask distributed cluster: `grade batch ... --scheduler tcp://HOST:PORT`.

Each task carries a notebook's bytes, the batch's options and the course
secret (so every machine derives the same hidden inputs, and a submission's
score does not depend on which machine graded it), and returns its
`GradeResult`. The gradebook stays with the process that runs `grade batch`.

On each Dask worker process, one zygote serves every task it runs: the
first task pays the torch import, the rest fork from it. The worker machines
need this grader and the course's assignments installed: each result names
the version of the tests that graded it, and the batch checks that against
its own.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from grader.course.assignment import Assignment, load_assignment
from grader.errors import UsageError
from grader.extras import require_extra

if TYPE_CHECKING:
    from grader.batch.collect import Found
    from grader.batch.run import BatchOptions, ZygoteKeeper
    from grader.grading.pipeline import GradeResult

_ON_THIS_WORKER = threading.Lock()  # a Dask worker runs tasks in several threads


def grade_on_cluster(address: str, todo: Sequence[Found], options: BatchOptions, secret: bytes,
                     definitions: dict[str, Assignment]) -> Iterator[tuple[Found, GradeResult | str]]:
    require_extra("cluster", "grade batch --scheduler")
    from distributed import Client, as_completed

    try:
        client = Client(address, timeout=30)
    except (OSError, TimeoutError, ValueError) as error:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    with client:
        futures = {client.submit(grade_remotely, found, options, secret, pure=False,
                                 key=f"grade-{found.content_hash[:16]}-{index}"): found
                   for index, found in enumerate(todo)}
        for future in as_completed(futures):
            found = futures[future]
            try:
                result: GradeResult | str = future.result()
            except Exception as error:  # noqa: BLE001 - a failed task (a lost worker, say) costs one submission
                result = f"the cluster failed to grade it: {type(error).__name__}: {error}"
            yield found, checked(result, definitions)


def grade_remotely(found: Found, options: BatchOptions, secret: bytes) -> GradeResult | str:
    """Runs on a Dask worker: grade one notebook with this worker process's zygote and tests."""
    from grader.batch.run import grade_found

    zygotes, definitions = _worker_state(options.assignment, options.unconfined)
    return grade_found(found, options, secret, definitions, zygotes)


def _worker_state(assignment: str | None, unconfined: bool) -> tuple[ZygoteKeeper, dict[str, Assignment]]:
    with _ON_THIS_WORKER:
        return _zygotes(unconfined), _definitions(assignment)


@functools.cache
def _zygotes(unconfined: bool) -> ZygoteKeeper:
    from grader.batch.run import ZygoteKeeper

    return ZygoteKeeper(allow_unconfined=unconfined)


@functools.cache
def _definitions(assignment: str | None) -> dict[str, Assignment]:
    from grader.batch.run import load_definitions

    return load_definitions(assignment)


def checked(result: GradeResult | str, definitions: Mapping[str, Assignment] | None = None) -> GradeResult | str:
    """A result graded by another version of the tests than this machine's is not a grade to keep."""
    if isinstance(result, str) or result.status != "graded" or result.assignment is None:
        return result
    ours = (definitions or {}).get(result.assignment) or load_assignment(result.assignment)
    if ours.digest != result.assignment_digest:
        return (f"the cluster's copy of the {result.assignment} tests differs from this machine's "
                f"({result.assignment_digest} there, {ours.digest} here): install the same version on every worker")
    return result

