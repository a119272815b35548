"""Naming the failed cell that left a graded name undefined, as the student counts cells."""

from __future__ import annotations

from grader.grading.cell_failures import (
    cell_label,
    cell_notes,
    defined_at_top_level,
    failure_text,
    lost_names,
)
from grader.records import CellOutcome


def test_cells_are_labelled_by_their_place_in_the_notebook() -> None:
    assert cell_label((2, 5, 9), 1) == "cell 5"
    assert cell_label((), 1) == "code cell 2"  # a submission built without a notebook (no positions)


def test_top_level_definitions_are_read_without_parsing() -> None:
    source = ("def corr2d(X, K):\n    def inner():\n        pass\n    x = 1\nclass Conv2D:\n    pass\n"
              "async def later(\nscale = lambda x: 2 * x\ntyped: int = 3\nif scale == 2:\n    pass\n")
    assert defined_at_top_level(source) == {"corr2d", "Conv2D", "later", "scale", "typed"}


def test_each_kind_of_failure_reads_as_a_clause() -> None:
    assert failure_text(CellOutcome(0, "error", "SyntaxError (line 3): invalid syntax"), "cell 7") == (
        "cell 7 has a SyntaxError (line 3): invalid syntax")
    assert failure_text(CellOutcome(0, "error", "IndentationError (line 2): unexpected indent"), "cell 7") == (
        "cell 7 has an IndentationError (line 2): unexpected indent")
    assert failure_text(CellOutcome(0, "error", "KeyError: 'a'"), "cell 7") == "cell 7 raised KeyError: 'a'"
    assert failure_text(CellOutcome(0, "timeout", "did not finish within 30 s"), "cell 7") == (
        "cell 7 did not finish within 30 s")
    assert failure_text(CellOutcome(0, "crashed", "ended its process (os._exit, a crash, or out of memory)"),
                        "cell 7").startswith("cell 7 crashed: it ended its process")
    assert failure_text(CellOutcome(0, "timeout", "not run: the time for this submission was used up"),
                        "cell 7") == "cell 7 was not run: the time for this submission was used up"


def test_the_last_failed_cell_that_defines_a_name_is_blamed() -> None:
    cells = ("def corr2d(X, K):\n    return X +", "import torch", "def corr2d(X, K):\n    return X\nraise ValueError",
             "def other(): pass")
    outcomes = (CellOutcome(0, "error", "SyntaxError (line 2): invalid syntax"), CellOutcome(1, "ok"),
                CellOutcome(2, "error", "ValueError"), CellOutcome(3, "error", "SyntaxError (line 1): x"))
    lost = lost_names(cells, (1, 3, 4, 6), outcomes, ["corr2d", "scale"])
    assert lost == {"corr2d": "cell 4 raised ValueError, so corr2d is not defined"}
    assert cell_notes((1, 3, 4, 6), outcomes, lost) == [
        "cell 1 has a SyntaxError (line 2): invalid syntax", "cell 4 raised ValueError, so corr2d is not defined",
        "cell 6 has a SyntaxError (line 1): x"]
