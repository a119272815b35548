"""Batch grading: many notebooks, in parallel, into a gradebook that survives being killed.

`grade_batch` collects the notebooks, skips those the gradebook already holds
(same bytes, same version of the tests), grades the rest on a local pool or
a Dask cluster, commits each result the moment it arrives, and rewrites the
outputs (grades.csv, results/, summary.json) from the gradebook.

An input that could not be read (a link, a FIFO, a damaged zip member: see
grader.batch.collect) is recorded as unusable with its reason, without a worker;
the batch never refuses as a whole over one student's files.

The local pool is N threads in this process, each driving one submission at
a time; every submission still gets its own fresh worker process, forked
from one zygote that has already imported torch. The threads mostly wait on
their workers' sockets, and the tests' own tensor work releases the GIL.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Protocol

import torch

from grader.batch.collect import Found, collect
from grader.batch.exports import file_stem, write_outputs
from grader.batch.gradebook import FILE_NAME, Gradebook, SubmissionRow
from grader.course.assignment import (
    POINTS_PER_ASSIGNMENT,
    Assignment,
    available,
    load_assignment,
)
from grader.course.seeding import course_secret
from grader.grading.pipeline import (
    VERSION,
    GradeResult,
    grade,
    start_zygote,
    warm_up_autograd,
)
from grader.host.execute import Limits, Zygote
from grader.report.feedback import feedback_page, read_notebook
from grader.report.formats import gradescope
from grader.safe_write import write_file

FEEDBACK_FOLDER = "feedback"


@dataclasses.dataclass(frozen=True)
class BatchOptions:
    assignment: str | None = None
    jobs: int = os.cpu_count() or 1
    regrade: bool = False
    scheduler: str | None = None       # a Dask scheduler's address; None grades on this machine
    call_timeout: float = 10.0
    memory_mb: int = 2048              # a worker's memory cap: the course's [limits]
    feedback: bool = True              # write each student's feedback page into DIR/feedback/
    unconfined: bool = False           # --unconfined: hidden tests even where student code cannot be confined

    def limits(self) -> Limits:
        # Workers share the cores: N submissions at once, each with its share of threads.
        return Limits(call_timeout=self.call_timeout, memory_bytes=self.memory_mb << 20, threads=max(1, (os.cpu_count() or 1) // self.jobs))


@dataclasses.dataclass(frozen=True)
class Graded:
    """One submission just graded and committed."""
    row: SubmissionRow
    previous: SubmissionRow | None     # the row it replaced, if it was graded before

    @property
    def failed(self) -> bool:
        return self.row.status != "graded" or bool(self.row.grader_errors)


@dataclasses.dataclass(frozen=True)
class BatchResult:
    out: Path
    graded: tuple[Graded, ...]
    unchanged: tuple[str, ...]         # already in the gradebook, not graded again
    rows: tuple[SubmissionRow, ...]    # every current row, this run's and earlier ones

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
                zygote: Zygote | None = None) -> BatchResult:
    """`zygote`: one the caller started (early, or shared); else the local pool starts one that hides `out`."""
    out.mkdir(parents=True, exist_ok=True)
    zygotes = ZygoteKeeper(zygote, hidden=(out,), allow_unconfined=options.unconfined)
    try:
        return _grade_batch(paths, out, options, progress, zygotes)
    finally:
        zygotes.close()


def _grade_batch(paths: Sequence[Path], out: Path, options: BatchOptions, progress: Progress,
                 zygotes: ZygoteKeeper) -> BatchResult:
    found = collect(paths)
    definitions = load_definitions(options.assignment)
    secret = course_secret()
    with Gradebook(out / FILE_NAME) as book:
        todo = [f for f in found if options.regrade or _needs_grading(f, book.current(f.student), options, definitions)]
        unchanged = tuple(sorted({f.student for f in found} - {f.student for f in todo}))
        _note_warnings([f for f in found if f.student not in {t.student for t in todo}], book)
        run = book.start_run(VERSION, {**dataclasses.asdict(options), "paths": [str(p) for p in paths]})
        progress.start(len(todo), len(unchanged))
        graded: list[Graded] = []
        try:
            for item, outcome in _grade_all(todo, options, secret, definitions, zygotes):
                row = to_row(item, outcome)
                graded.append(Graded(row, book.record(run, row)))
                if options.feedback and not isinstance(outcome, str):
                    write_feedback(item, outcome, out)
                progress.graded(graded[-1])
        finally:
            progress.finish()
            book.finish_run(run)
            rows = book.current_rows()
            write_outputs(rows, out)
    return BatchResult(out, tuple(graded), unchanged, rows)


def write_feedback(found: Found, result: GradeResult, out: Path) -> Path:
    """The student's feedback page, DIR/feedback/<file stem>.html, written as soon as it is graded."""
    notebook = read_notebook(found.content) if result.status == "graded" else None
    path = out / FEEDBACK_FOLDER / f"{file_stem(found.student)}.html"
    return write_file(path, feedback_page(result, notebook), base=out)


def _note_warnings(unchanged: Sequence[Found], book: Gradebook) -> None:
    """A submission not graded again still shows how it was collected this time."""
    for found in unchanged:
        current = book.current(found.student)
        if current is not None and current.warnings != found.warnings:
            book.note_warnings(found.student, found.warnings)


def to_row(found: Found, outcome: GradeResult | str) -> SubmissionRow:
    """A gradebook row; `outcome` is the result, or why the grader failed on this submission."""
    base = dict(student=found.student, members=found.members, lms_id=found.lms_id, source=found.source,
                content_hash=found.content_hash, graded_at=time.time(), warnings=found.warnings)
    if isinstance(outcome, str):
        results = {"score": 0.0, "max_score": 0.0, "output": f"{found.file_name} was not graded: "
                   "the grader failed on it; the course staff have been told", "tests": [],
                   "stdout_visibility": "hidden", "extra_data": {"status": "error", "reason": outcome}}
        return SubmissionRow(**base, assignment=None, assignment_digest="", status="error", reason=outcome,
                             score=0.0, max_score=0.0, seconds=0.0, timeouts=0, crashes=0, library_convolutions={},
                             grader_errors=(outcome,), isolation={}, results=results)
    return SubmissionRow(
        **base, assignment=outcome.assignment, assignment_digest=outcome.assignment_digest, status=outcome.status,
        reason=outcome.reason, score=outcome.score, max_score=outcome.max_score, seconds=outcome.seconds,
        timeouts=outcome.timeouts, crashes=outcome.crashes, library_convolutions=outcome.library_convolutions,
        grader_errors=outcome.grader_errors, isolation=outcome.isolation, results=gradescope(outcome),
        tests=tuple(dataclasses.replace(t, comparisons=()) for t in outcome.tests))


def load_definitions(requested: str | None) -> dict[str, Assignment]:
    """Every assignment the batch may meet, loaded once (a broken one fails here, before any grading)."""
    names = (requested,) if requested else available()
    return {name: load_assignment(name) for name in names}


def _needs_grading(found: Found, previous: SubmissionRow | None, options: BatchOptions,
                   definitions: Mapping[str, Assignment]) -> bool:
    if previous is None or previous.content_hash != found.content_hash:
        return True
    if previous.status == "error" or previous.grader_errors:
        return True  # the grader failed on it: perhaps it has been fixed since
    if options.assignment is not None and previous.assignment != options.assignment:
        return True
    current = definitions.get(previous.assignment or "")
    return current is not None and current.digest != previous.assignment_digest  # its tests changed


def _grade_all(todo: Sequence[Found], options: BatchOptions, secret: bytes, definitions: Mapping[str, Assignment],
               zygotes: ZygoteKeeper) -> Iterator[tuple[Found, GradeResult | str]]:
    for found in todo:
        if found.refused:  # nothing to run: no worker, no cluster
            yield found, refused_result(found, options, definitions)
    todo = [found for found in todo if not found.refused]
    if not todo:
        return
    if options.scheduler:
        from grader.batch.cluster import grade_on_cluster

        yield from grade_on_cluster(options.scheduler, todo, options, secret, dict(definitions))
        return
    yield from _grade_locally(todo, options, secret, definitions, zygotes)


def _grade_locally(todo: Sequence[Found], options: BatchOptions, secret: bytes, definitions: Mapping[str, Assignment],
                   zygotes: ZygoteKeeper) -> Iterator[tuple[Found, GradeResult | str]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(options.limits().threads)
    threading.Thread(target=warm_up_autograd, daemon=True).start()
    pool = ThreadPoolExecutor(max_workers=options.jobs, thread_name_prefix="grade")
    futures = {pool.submit(grade_found, found, options, secret, definitions, zygotes): found for found in todo}
    try:
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        # On an interrupt, stop at once: pending ones are cancelled, and closing
        # the zygote kills the workers that the running ones wait on.
        pool.shutdown(wait=False, cancel_futures=True)
        zygotes.close()
        pool.shutdown(wait=True)
        torch.set_num_threads(threads)


def grade_found(found: Found, options: BatchOptions, secret: bytes, definitions: Mapping[str, Assignment],
                zygotes: ZygoteKeeper) -> GradeResult | str:
    """Grade one collected notebook; a grader failure on it is returned as its message, so the batch goes on."""
    if found.refused:
        return refused_result(found, options, definitions)
    try:
        return grade(Path(found.file_name), content=found.content, assignment=options.assignment,
                     limits=options.limits(), zygote=zygotes.get(), secret=secret, definitions=definitions)
    except Exception as error:  # noqa: BLE001 - one submission's grader failure must not stop the batch
        return f"{type(error).__name__}: {error}"


def refused_result(found: Found, options: BatchOptions, definitions: Mapping[str, Assignment]) -> GradeResult:
    """An input that could not be read: unusable, with why, out of the assignment's points."""
    requested = definitions.get(options.assignment) if options.assignment else None
    return GradeResult(submission=Path(found.file_name or "submission"), assignment=options.assignment,
                       status="unusable", reason=found.refused,
                       max_score_if_unusable=requested.max_score if requested else POINTS_PER_ASSIGNMENT)


class ZygoteKeeper:
    """One zygote shared by the pool's threads, replaced if it dies (say, killed for memory).

    It closes only the zygotes it started; `given` belongs to the caller.
    """

    def __init__(self, given: Zygote | None = None, hidden: Sequence[Path] = (), *,
                 allow_unconfined: bool = False) -> None:
        self._lock = threading.Lock()
        self._allow_unconfined = allow_unconfined  # a replacement zygote keeps the batch's choice
        self._given = given
        self._zygote = given
        self._hidden = tuple(hidden)
        self._closed = False

    def get(self) -> Zygote:
        with self._lock:
            if self._closed:
                raise RuntimeError("the batch was stopped")
            if self._zygote is None or not self._zygote.alive():
                self._close_own()
                self._zygote = start_zygote(self._hidden, allow_unconfined=self._allow_unconfined)
            return self._zygote

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._close_own()

    def _close_own(self) -> None:
        if self._zygote is not None and self._zygote is not self._given:
            self._zygote.close()
        self._zygote = None
