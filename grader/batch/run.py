"""Batch grading: many notebooks, in parallel, into a gradebook that survives being killed.

`grade_batch` collects the notebooks, skips those the gradebook already holds
(same bytes, same version of the tests), grades the rest on a local pool or
a Dask cluster, commits each result the moment it arrives, and rewrites the
outputs (grades.csv, results/, summary.json) from the gradebook.

A rerun over the same inputs adds no row: a submission is graded again only
when its bytes, the assignment asked for or the version of the tests that
decided its row changed (for an unusable one too: it is out of that
assignment's points), or when its row is a grader error, which is retried;
a retry that comes to the same verdict keeps the row it has. Whatever output
a current row lacks is written again: results/ and the rest from the rows,
a missing feedback page from what the gradebook keeps of it (grader.batch.pages).

An input that could not be read (a link, a FIFO, a damaged zip member: see
grader.batch.collect) is recorded as unusable with its reason, without a worker;
the batch never refuses as a whole over one student's files.

The local pool (`LocalPool`, one of the two executors of grader.batch.tasks)
is N threads in this process, each driving one submission at a time; every
submission still gets its own fresh worker process, forked from one zygote
that has already imported torch. The threads mostly wait on
their workers' sockets, and the tests' own tensor work releases the GIL.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypedDict

import torch

from grader.batch.cluster import DaskCluster
from grader.batch.collect import CollectedSubmission, collect
from grader.batch.exports import write_outputs
from grader.batch.gradebook import FILE_NAME, Gradebook, SubmissionRow
from grader.batch.pages import has_page, page_data, stored_result, write_feedback
from grader.batch.tasks import (
    BatchOptions,
    Executor,
    GradingTask,
    Outcome,
    grade_task,
    load_definitions,
    refused_result,
)
from grader.course import grader_version
from grader.course.assignment import Assignment
from grader.records import GradeResult, GraderFailure
from grader.report.formats import gradescope
from grader.worker.warm import warm_up

if TYPE_CHECKING:
    from grader.session import Grader


@dataclasses.dataclass(frozen=True)
class Graded:
    """One submission graded in this run. `row` is its current row: the one just committed, or the one it
    had, when this grading came to the same verdict (a retried grader error that failed the same way)."""
    row: SubmissionRow
    previous: SubmissionRow | None     # its row before this run, if it was graded before

    @property
    def failed(self) -> bool:
        return self.row.status != "graded" or bool(self.row.grader_errors)


@dataclasses.dataclass(frozen=True)
class BatchResult:
    out: Path
    graded: tuple[Graded, ...]
    unchanged: tuple[str, ...]         # already in the gradebook, not graded again
    rows: tuple[SubmissionRow, ...]    # every current row, this run's and earlier ones
    pages_rewritten: tuple[str, ...] = ()   # unchanged ones whose missing feedback page was written again

    @property
    def grader_failures(self) -> tuple[Graded, ...]:
        return tuple(g for g in self.graded if g.row.grader_errors)  # an "error" row holds its one error

    @property
    def changed_scores(self) -> tuple[Graded, ...]:
        return tuple(g for g in self.graded if g.previous is not None and g.previous.score != g.row.score)


class Progress(Protocol):
    def start(self, to_grade: int, unchanged: int) -> None: ...
    def graded(self, graded: Graded) -> None: ...
    def finish(self) -> None: ...


def grade_batch(paths: Sequence[Path], out: Path, options: BatchOptions, progress: Progress,
                grader: Grader) -> BatchResult:
    """Grade `paths` into the gradebook in `out`, in `grader`'s session: its zygote (which must hide `out`:
    `Grader(..., hide=[out])`) for the local pool, its secret for every machine of a cluster."""
    out.mkdir(parents=True, exist_ok=True)
    collected = collect(paths)
    definitions = load_definitions(options.assignment)
    secret = grader.secret
    with Gradebook(out / FILE_NAME) as book:
        todo = [c for c in collected
                if options.regrade or _needs_grading(c, book.current(c.student), options, definitions)]
        rewritten: list[str] = []
        if options.feedback:
            grading = {c.student for c in todo}
            todo += _write_missing_pages([c for c in collected if c.student not in grading], book, out, rewritten)
        grading = {c.student for c in todo}
        unchanged = tuple(sorted({c.student for c in collected} - grading))
        _note_warnings([c for c in collected if c.student not in grading], book)
        run = book.start_run(grader_version(), {**dataclasses.asdict(options), "paths": [str(p) for p in paths]})
        progress.start(len(todo), len(unchanged))
        graded: list[Graded] = []
        executor: Executor = (DaskCluster(options.scheduler, definitions) if options.scheduler
                              else LocalPool(options, definitions, grader))
        try:
            tasks = [GradingTask(submission, options, secret) for submission in todo]
            for task, outcome in _grade_all(tasks, executor, definitions):
                page = ""
                if isinstance(outcome, GradeResult):
                    page = page_data(outcome)
                    if options.feedback:  # before the commit: a kill between the two never loses a page
                        write_feedback(task.submission, outcome, out)
                graded.append(_commit(book, run, to_row(task.submission, outcome, definitions), page, options))
                progress.graded(graded[-1])
        finally:
            progress.finish()
            book.finish_run(run)
            rows = book.current_rows()
            write_outputs(rows, out)
    return BatchResult(out, tuple(graded), unchanged, rows, tuple(rewritten))


def _commit(book: Gradebook, run: int, row: SubmissionRow, page: str, options: BatchOptions) -> Graded:
    """Record `row`, unless it repeats the verdict of the current row, which then stays current (and takes
    this grading's page data): a rerun adds no row. --regrade records every one, for the history."""
    previous = book.current(row.student, with_tests=True)
    if previous is None or options.regrade or _verdict(previous) != _verdict(row):
        return Graded(row, book.record(run, row, page))
    if page:
        book.keep_page(previous.id, page)
    if previous.warnings != row.warnings:
        book.note_warnings(row.student, row.warnings)
    return Graded(dataclasses.replace(previous, warnings=row.warnings), previous)


def _verdict(row: SubmissionRow) -> tuple[object, ...]:
    """What a grading decided, and from what: not when it ran, nor how long it took."""
    return (row.content_hash, row.assignment, row.assignment_digest, row.status, row.reason, row.score,
            row.max_score, row.grader_errors, row.timeouts, row.crashes,
            sorted((name, tuple(found)) for name, found in row.library_convolutions.items()),
            [(t.name, t.function, t.hidden, t.score, t.max_score, t.passed, t.grader_error, t.feedback, t.detail)
             for t in row.tests])


def _write_missing_pages(unchanged: Sequence[CollectedSubmission], book: Gradebook, out: Path,
                         rewritten: list[str]) -> list[CollectedSubmission]:
    """Write again, from the gradebook, the feedback pages that unchanged submissions lack (a page deleted,
    an earlier run with --no-feedback); returns those to grade again instead: rows stored before the
    gradebook kept what a page needs."""
    regrade = []
    for submission in unchanged:
        if has_page(out, submission.student):
            continue
        row = book.current(submission.student, with_tests=True)
        stored = book.page(row.id) if row is not None else ""
        if row is None or not stored:
            regrade.append(submission)
            continue
        write_feedback(submission, stored_result(row, stored), out)
        rewritten.append(submission.student)
    return regrade


def _note_warnings(unchanged: Sequence[CollectedSubmission], book: Gradebook) -> None:
    """A submission not graded again still shows how it was collected this time."""
    for submission in unchanged:
        current = book.current(submission.student)
        if current is not None and current.warnings != submission.warnings:
            book.note_warnings(submission.student, submission.warnings)


def to_row(submission: CollectedSubmission, outcome: Outcome,
           definitions: Mapping[str, Assignment]) -> SubmissionRow:
    """A gradebook row; `outcome` is the result, or why the grader failed on this submission."""
    base = _Collected(student=submission.student, members=submission.members, lms_id=submission.lms_id,
                      source=submission.source, content_hash=submission.content_hash, graded_at=time.time(),
                      warnings=submission.warnings)
    if isinstance(outcome, GraderFailure):
        results = {"score": 0.0, "max_score": 0.0, "output": f"{submission.file_name} was not graded: "
                   "the grader failed on it; the course staff have been told", "tests": [],
                   "stdout_visibility": "hidden", "extra_data": {"status": "error", "reason": outcome.reason}}
        return SubmissionRow(**base, assignment=None, assignment_digest="", status="error", reason=outcome.reason,
                             score=0.0, max_score=0.0, seconds=0.0, timeouts=0, crashes=0, library_convolutions={},
                             grader_errors=(outcome.reason,), isolation={}, results=results)
    digest = outcome.assignment_digest
    asked = definitions.get(outcome.assignment or "")
    if outcome.status == "unusable" and asked is not None:
        # Out of the points of the assignment asked for: its version decides the row, as a graded one's.
        digest = asked.digest
    return SubmissionRow(
        **base, assignment=outcome.assignment, assignment_digest=digest, status=outcome.status,
        reason=outcome.reason, score=outcome.score, max_score=outcome.max_score, seconds=outcome.seconds,
        timeouts=outcome.timeouts, crashes=outcome.crashes, library_convolutions=outcome.library_convolutions,
        grader_errors=outcome.grader_errors, isolation=outcome.isolation, results=gradescope(outcome),
        tests=tuple(dataclasses.replace(t, comparisons=()) for t in outcome.tests))


class _Collected(TypedDict):
    """A row's fields that come from how the submission was collected, whatever its outcome."""

    student: str
    members: tuple[str, ...]
    lms_id: str
    source: str
    content_hash: str
    graded_at: float
    warnings: tuple[str, ...]


def _needs_grading(submission: CollectedSubmission, previous: SubmissionRow | None, options: BatchOptions,
                   definitions: Mapping[str, Assignment]) -> bool:
    if previous is None or previous.content_hash != submission.content_hash:
        return True
    if previous.status == "error" or previous.grader_errors:
        return True  # the grader failed on it: perhaps it has been fixed since
    if options.assignment is not None and previous.assignment != options.assignment:
        return True
    current = definitions.get(previous.assignment or "")
    return current is not None and current.digest != previous.assignment_digest  # its tests changed


def _grade_all(tasks: Sequence[GradingTask], executor: Executor,
               definitions: Mapping[str, Assignment]) -> Iterator[tuple[GradingTask, Outcome]]:
    for task in tasks:
        if task.submission.refused:  # nothing to run: no worker, no cluster
            yield task, refused_result(task, definitions)
    readable = [task for task in tasks if not task.submission.refused]
    if readable:
        yield from executor.run(readable)


class LocalPool:
    """The executor on this machine: `options.jobs` threads in this process, over one session's zygote."""

    def __init__(self, options: BatchOptions, definitions: Mapping[str, Assignment], grader: Grader) -> None:
        self._options = options
        self._definitions = definitions
        self._grader = grader

    def run(self, tasks: Sequence[GradingTask]) -> Iterator[tuple[GradingTask, Outcome]]:
        threads = torch.get_num_threads()
        torch.set_num_threads(self._options.limits().threads)
        threading.Thread(target=warm_up, daemon=True).start()
        pool = ThreadPoolExecutor(max_workers=self._options.jobs, thread_name_prefix="grade")
        futures = {pool.submit(grade_task, task, self._definitions, self._grader): task for task in tasks}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            # On an interrupt, stop at once: pending ones are cancelled; the running ones end with their
            # workers, which the session kills when it closes.
            pool.shutdown(wait=False, cancel_futures=True)
            torch.set_num_threads(threads)
