"""How a batch shows its progress: a live bar on a terminal, plain lines in CI logs.

Every line names a student, whose name (a file or folder name they chose) and
reasons may hold anything, so each line goes through `log_line`: control
characters (ANSI escapes, newlines, carriage returns, bidirectional overrides)
are printed escaped, and the prefixes that make a CI log run a command
(GitHub Actions' `::command::` and its older `##[command]`) are defused.
"""

from __future__ import annotations

import re
import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from grader.batch.run import Graded
from grader.report.formats import points

# C0 and C1 controls, DEL, the line and paragraph separators, and the bidirectional controls (Trojan Source).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_WORKFLOW_COMMAND = re.compile(r"::|##\[")


def log_line(text: str) -> str:
    """`text` as one inert line of a log: no control character acts, no workflow command runs."""
    escaped = _UNPRINTABLE.sub(_escape, text)
    return _WORKFLOW_COMMAND.sub(lambda match: match[0][0] + _escape(match[0][1:2]) + match[0][2:], escaped)


def _escape(match: re.Match[str] | str) -> str:
    char = match if isinstance(match, str) else match[0]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def describe(graded: Graded) -> str:
    """One submission's line: who, and what became of it."""
    row = graded.row
    if row.status == "unusable":
        return f"{row.student}: not graded: {row.reason}"
    if row.status == "error":
        return f"{row.student}: grader error: {row.reason}"
    line = f"{row.student}: {points(row.score)}/{points(row.max_score)}"
    if graded.previous is not None and graded.previous.score != row.score:
        line += f" (was {points(graded.previous.score)})"
    problems = [f"{row.timeouts} timeout{'s' * (row.timeouts != 1)}"] if row.timeouts else []
    problems += [f"{row.crashes} crash{'es' * (row.crashes != 1)}"] if row.crashes else []
    if row.library_convolutions:
        problems.append("library convolution in " + ", ".join(sorted(row.library_convolutions)))
    problems += ["grader errors"] if row.grader_errors else []
    return line + (f" [{'; '.join(problems)}]" if problems else "") + f" ({row.seconds:.1f} s)"


class PlainProgress:
    """A line per submission, for logs and pipes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout  # looked up now, not at import: tests and callers redirect it
        self._total = 0
        self._done = 0
        self._started = time.monotonic()

    def start(self, to_grade: int, unchanged: int) -> None:
        self._total = to_grade
        self._started = time.monotonic()
        print(f"grading {to_grade} submission{'s' * (to_grade != 1)}"
              + (f"; {unchanged} unchanged since they were graded" if unchanged else ""), file=self._stream, flush=True)

    def graded(self, graded: Graded) -> None:
        self._done += 1
        print(log_line(f"[{self._done}/{self._total}] {describe(graded)}"), file=self._stream, flush=True)

    def finish(self) -> None:
        if self._total:
            print(f"graded {self._done} in {time.monotonic() - self._started:.1f} s", file=self._stream, flush=True)


class LiveProgress:
    """A rich progress bar with counts of graded and failed, and an ETA."""

    def __init__(self, console: Console | None = None) -> None:
        self._console = console or Console()
        self._bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("[green]{task.fields[graded]} graded[/] [red]{task.fields[failed]} failed[/]"),
                             TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                             console=self._console, transient=False)
        self._task = self._bar.add_task("grading", total=0, graded=0, failed=0)
        self._graded = 0
        self._failed = 0

    def start(self, to_grade: int, unchanged: int) -> None:
        if unchanged:
            self._console.print(f"{unchanged} submission{'s' * (unchanged != 1)} unchanged since they were graded")
        self._bar.update(self._task, total=to_grade)
        self._bar.start()

    def graded(self, graded: Graded) -> None:
        if graded.failed:
            self._failed += 1
            self._bar.console.print(Text(log_line(describe(graded)), style="red"))  # Text: a name is never markup
        else:
            self._graded += 1
        self._bar.update(self._task, advance=1, graded=self._graded, failed=self._failed)

    def finish(self) -> None:
        self._bar.stop()
