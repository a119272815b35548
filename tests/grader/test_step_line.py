from __future__ import annotations

import io
import time

from grader.step_line import StepLine


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_long_grade_shows_its_current_step_then_clears_the_line() -> None:
    stream = Terminal()
    with StepLine(stream, "grading nb.ipynb", quiet_seconds=0) as steps:
        steps.show("cell 3 of 9")
        time.sleep(1.2)
    shown = stream.getvalue()
    assert "\rgrading nb.ipynb: cell 3 of 9 ..." in shown
    assert shown.endswith("\r")


def test_a_quick_grade_or_a_stream_that_is_no_terminal_shows_nothing() -> None:
    quick, piped = Terminal(), io.StringIO()
    with StepLine(quick, "grading", quiet_seconds=60) as steps:
        steps.show("cell 1 of 1")
        time.sleep(0.7)
    with StepLine(piped, "grading", quiet_seconds=0) as steps:
        steps.show("cell 1 of 1")
        time.sleep(0.7)
    assert quick.getvalue() == "" and piped.getvalue() == ""
