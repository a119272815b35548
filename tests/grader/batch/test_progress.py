from __future__ import annotations

import dataclasses
import io

from rich.console import Console

from grader.batch.progress import LiveProgress, PlainProgress, describe, log_line
from grader.batch.run import Graded
from tests.helpers import make_row


def test_describe_says_who_what_score_and_what_went_wrong() -> None:
    previous = make_row(score=5.0)
    row = make_row(score=7.0, timeouts=2, crashes=1)
    assert describe(Graded(row, previous)) == (
        "alice: 7/10 (was 5) [2 timeouts; 1 crash; library convolution in corr2d] (1.5 s)")
    unusable = dataclasses.replace(row, status="unusable", reason="is truncated")
    assert describe(Graded(unusable, None)) == "alice: not graded: is truncated"


def test_plain_progress_prints_a_line_per_submission() -> None:
    stream = io.StringIO()
    progress = PlainProgress(stream)
    progress.start(2, 3)
    progress.graded(Graded(make_row("alice", library_convolutions={}), None))
    progress.graded(Graded(make_row("bob", library_convolutions={}), None))
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "grading 2 submissions; 3 unchanged since they were graded"
    assert lines[1:3] == ["[1/2] alice: 7/10 (1.5 s)", "[2/2] bob: 7/10 (1.5 s)"]
    assert lines[3].startswith("graded 2 in ")


def test_live_progress_counts_graded_and_failed_and_prints_failures_verbatim() -> None:
    stream = io.StringIO()
    progress = LiveProgress(Console(file=stream, force_terminal=True, width=120))
    progress.start(2, 0)
    progress.graded(Graded(make_row("alice", library_convolutions={}), None))
    progress.graded(Graded(make_row("[bold]bob", status="unusable", reason="is truncated"), None))
    progress.finish()
    text = stream.getvalue()
    assert "1 graded" in text and "1 failed" in text and "2/2" in text
    assert "[bold]bob: not graded: is truncated" in text  # a name is never markup


FORGED = "::error file=grades.csv::all failed\n::add-mask::x\r##[set-output name=score;]100\x1b[2K\x1b[1A\u202eevil"


def test_a_name_cannot_forge_log_lines_or_workflow_commands() -> None:
    stream = io.StringIO()
    progress = PlainProgress(stream)
    progress.start(2, 0)
    progress.graded(Graded(make_row(FORGED, library_convolutions={}), None))
    progress.graded(Graded(make_row("bob", status="unusable", reason="is truncated\n::warning::fake"), None))
    progress.finish()
    lines = stream.getvalue().split("\n")
    assert len(lines) == 5 and lines[-1] == ""  # four lines: no name or reason added one
    for line in lines:
        assert "::" not in line and "##[" not in line and "\x1b" not in line and "\r" not in line
        assert "\u202e" not in line
    assert lines[1] == ("[1/2] :\\x3aerror file=grades.csv:\\x3aall failed\\x0a:\\x3aadd-mask:\\x3ax\\x0d"
                        "#\\x23[set-output name=score;]100\\x1b[2K\\x1b[1A\\u202eevil: 7/10 (1.5 s)")
    assert lines[2] == "[2/2] bob: not graded: is truncated\\x0a:\\x3awarning:\\x3afake"


def test_the_live_bar_escapes_names_too() -> None:
    stream = io.StringIO()
    progress = LiveProgress(Console(file=stream, force_terminal=True, width=400))
    progress.start(1, 0)
    progress.graded(Graded(make_row(FORGED, status="unusable", reason="is truncated"), None))
    progress.finish()
    text = stream.getvalue()
    assert ":\\x3aerror file=grades.csv" in text and "::error" not in text
    assert "\\x1b[2K\\x1b[1A\\u202eevil" in text and "\x1b[2K\x1b[1A\u202eevil" not in text


def test_log_line_leaves_ordinary_text_alone() -> None:
    for text in ("[3/9] Zoë O'Brien-Ngũgĩ: 7/10 (1.5 s)", "李伟: not graded: is truncated", "a: b: c"):
        assert log_line(text) == text
