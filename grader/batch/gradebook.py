"""The gradebook: a SQLite file in the batch's output folder.

One row per graded submission and one per test of it, committed the moment
the submission is graded, so a batch killed at any point (even `kill -9`)
keeps everything graded before. A regrade never deletes: the new row becomes
current and the old one stays, for comparison. Beside a row, `pages` keeps
what its feedback page shows beyond it (grader.batch.pages), so that a page
that has gone missing is written again without grading again.

The file and SQLite's companions (-wal, -shm, -journal) are refused when they
are symbolic links: SQLite would write through them.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from grader.errors import UsageError
from grader.records import ResultStatus, TestScore

FILE_NAME = "gradebook.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, started_at REAL NOT NULL, finished_at REAL,
    grader_version TEXT NOT NULL, arguments TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),
    student TEXT NOT NULL, members TEXT NOT NULL, lms_id TEXT NOT NULL, source TEXT NOT NULL,
    content_hash TEXT NOT NULL, assignment TEXT, assignment_digest TEXT NOT NULL,
    status TEXT NOT NULL,                 -- graded | unusable | error (the grader failed on it)
    reason TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL,
    seconds REAL NOT NULL, graded_at REAL NOT NULL,
    timeouts INTEGER NOT NULL, crashes INTEGER NOT NULL, library_convolutions TEXT NOT NULL,
    grader_errors TEXT NOT NULL, isolation TEXT NOT NULL,
    results TEXT NOT NULL,                -- the single-submission results.json
    current INTEGER NOT NULL,
    warnings TEXT NOT NULL DEFAULT '[]'); -- how it was collected (a key made distinct, an ignored file)
CREATE INDEX IF NOT EXISTS current_by_student ON submissions(student, current);
CREATE TABLE IF NOT EXISTS tests (
    submission_id INTEGER NOT NULL REFERENCES submissions(id), name TEXT NOT NULL, function TEXT NOT NULL,
    hidden INTEGER NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL, passed INTEGER NOT NULL,
    grader_error INTEGER NOT NULL, feedback TEXT NOT NULL, detail TEXT NOT NULL,
    PRIMARY KEY (submission_id, name));
CREATE TABLE IF NOT EXISTS pages (
    submission_id INTEGER PRIMARY KEY REFERENCES submissions(id),
    data TEXT NOT NULL);                  -- grader.batch.pages.page_data: read one at a time, never with the rows
"""


@dataclasses.dataclass(frozen=True)
class SubmissionRow:
    student: str
    members: tuple[str, ...]
    lms_id: str
    source: str
    content_hash: str
    assignment: str | None
    assignment_digest: str
    status: ResultStatus            # error: the grader failed on it
    reason: str
    score: float
    max_score: float
    seconds: float
    graded_at: float
    timeouts: int
    crashes: int
    library_convolutions: Mapping[str, Sequence[str]]
    grader_errors: tuple[str, ...]
    isolation: Mapping[str, Any]
    results: Mapping[str, Any]
    tests: tuple[TestScore, ...] = ()
    warnings: tuple[str, ...] = ()
    id: int = 0
    run_id: int = 0


class Gradebook:
    """The batch's SQLite file. Not thread-safe: the batch's one thread writes it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for companion in ("", "-wal", "-shm", "-journal"):
            linked = path.with_name(path.name + companion)
            if linked.is_symlink():
                raise UsageError(f"{linked} is a symbolic link: the gradebook is never written through one")
        try:
            self._db = sqlite3.connect(path)
            self._db.row_factory = sqlite3.Row
            # WAL: a commit survives the process being killed right after it.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._add_missing_columns()
        except sqlite3.DatabaseError as error:
            raise UsageError(f"{path} is not a gradebook this grader can use: {error}") from None
        self.path = path

    def start_run(self, grader_version: str, arguments: Mapping[str, Any]) -> int:
        with self._db:
            cursor = self._db.execute("INSERT INTO runs (started_at, grader_version, arguments) VALUES (?, ?, ?)",
                                      (time.time(), grader_version, json.dumps(dict(arguments), default=str)))
        return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int) -> None:
        with self._db:
            self._db.execute("UPDATE runs SET finished_at = ? WHERE id = ?", (time.time(), run_id))

    def current(self, student: str, *, with_tests: bool = False) -> SubmissionRow | None:
        row = self._db.execute("SELECT * FROM submissions WHERE student = ? AND current = 1", (student,)).fetchone()
        return None if row is None else self._submission(row, with_tests=with_tests)

    def record(self, run_id: int, row: SubmissionRow, page: str = "") -> SubmissionRow | None:
        """Store a newly graded submission as current, with its page's data if it has a page, in one
        transaction; returns the row it replaced."""
        previous = self.current(row.student)
        with self._db:  # one transaction: the old row stops being current only if the new one lands
            self._db.execute("UPDATE submissions SET current = 0 WHERE student = ? AND current = 1", (row.student,))
            cursor = self._db.execute(
                "INSERT INTO submissions (run_id, student, members, lms_id, source, content_hash, assignment, "
                "assignment_digest, status, reason, score, max_score, seconds, graded_at, timeouts, crashes, "
                "library_convolutions, grader_errors, isolation, results, warnings, current) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (run_id, row.student, json.dumps(list(row.members)), row.lms_id, row.source, row.content_hash,
                 row.assignment, row.assignment_digest, row.status, row.reason, row.score, row.max_score,
                 row.seconds, row.graded_at, row.timeouts, row.crashes,
                 json.dumps({k: list(v) for k, v in row.library_convolutions.items()}),
                 json.dumps(list(row.grader_errors)), json.dumps(dict(row.isolation), default=str),
                 json.dumps(row.results, allow_nan=False), json.dumps(list(row.warnings))))
            submission_id = cursor.lastrowid
            self._db.executemany(
                "INSERT INTO tests (submission_id, name, function, hidden, score, max_score, passed, grader_error, "
                "feedback, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(submission_id, t.name, t.function, t.hidden, t.score, t.max_score, t.passed, t.grader_error,
                  t.feedback, t.detail) for t in row.tests])
            if page:
                self._db.execute("INSERT INTO pages (submission_id, data) VALUES (?, ?)", (submission_id, page))
        return previous

    def keep_page(self, submission_id: int, page: str) -> None:
        """The page data of a row graded again to the same verdict, which stays current (or of one stored
        before pages were kept)."""
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO pages (submission_id, data) VALUES (?, ?)", (submission_id, page))

    def page(self, submission_id: int) -> str:
        """A row's page data; "" when it has none (a grader failure, or a row stored before pages were kept)."""
        found = self._db.execute("SELECT data FROM pages WHERE submission_id = ?", (submission_id,)).fetchone()
        return "" if found is None else str(found[0])

    def note_warnings(self, student: str, warnings: Sequence[str]) -> None:
        """The current row's collection warnings, for a submission this run did not grade again."""
        with self._db:
            self._db.execute("UPDATE submissions SET warnings = ? WHERE student = ? AND current = 1",
                             (json.dumps(list(warnings)), student))

    def current_rows(self) -> tuple[SubmissionRow, ...]:
        rows = self._db.execute("SELECT * FROM submissions WHERE current = 1 ORDER BY student").fetchall()
        return tuple(self._submission(row, with_tests=True) for row in rows)

    def history(self, student: str) -> tuple[SubmissionRow, ...]:
        """Every grading of a student's submission, oldest first."""
        rows = self._db.execute("SELECT * FROM submissions WHERE student = ? ORDER BY id", (student,)).fetchall()
        return tuple(self._submission(row, with_tests=True) for row in rows)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def _add_missing_columns(self) -> None:
        """A gradebook written by an earlier version lacks the newer columns."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(submissions)")}
        if "warnings" not in columns:
            with self._db:
                self._db.execute("ALTER TABLE submissions ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]'")

    def _submission(self, values: sqlite3.Row, *, with_tests: bool) -> SubmissionRow:
        tests: tuple[TestScore, ...] = ()
        if with_tests:
            tests = tuple(TestScore(name=name, function=function, hidden=bool(hidden), score=score,
                                    max_score=max_score, passed=bool(passed), grader_error=bool(error),
                                    feedback=feedback, detail=detail)
                          for name, function, hidden, score, max_score, passed, error, feedback, detail
                          in self._db.execute("SELECT name, function, hidden, score, max_score, passed, "
                                              "grader_error, feedback, detail FROM tests WHERE submission_id = ? "
                                              "ORDER BY rowid", (values["id"],)))
        return SubmissionRow(
            student=values["student"], members=tuple(json.loads(values["members"])), lms_id=values["lms_id"],
            source=values["source"], content_hash=values["content_hash"], assignment=values["assignment"],
            assignment_digest=values["assignment_digest"], status=values["status"], reason=values["reason"],
            score=values["score"], max_score=values["max_score"], seconds=values["seconds"],
            graded_at=values["graded_at"], timeouts=values["timeouts"], crashes=values["crashes"],
            library_convolutions=json.loads(values["library_convolutions"]),
            grader_errors=tuple(json.loads(values["grader_errors"])), isolation=json.loads(values["isolation"]),
            results=json.loads(values["results"]), tests=tests, warnings=tuple(json.loads(values["warnings"])),
            id=values["id"], run_id=values["run_id"])


def rows_by_student(rows: Sequence[SubmissionRow]) -> Iterator[tuple[str, SubmissionRow]]:
    """Each person a row is graded for: a group submission counts for each member."""
    for row in rows:
        for member in row.members or (row.student,):
            yield member, row
