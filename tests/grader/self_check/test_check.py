"""check(): the in-notebook self-check, from a kernel's history to the table in the cell."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import grader
from grader.course.release import release_notebook
from grader.grading.load import load
from grader.grading.static_check import tampering
from grader.host.paths import PROJECT_ROOT
from grader.records import Submission
from grader.self_check.check import run_check
from grader.self_check.report import (
    MAX_MESSAGE,
    CheckReport,
    TestRow,
    report_from_document,
)
from grader.self_check.source import HistoryCell, submission_cells, without_self_check
from tests.helpers import MakeNotebook, select_course

CHECK = "from grader import check; check()"
SOLVED_CORR2D = """import torch
def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y"""
ZEROS_CORR2D = """import torch
def corr2d(X, K):
    return torch.zeros(X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1)"""
SCALE = "def scale(x):\n    return 2 * x"
COURSE_ASSIGNMENTS = PROJECT_ROOT / "assignments"
CROSS_CORRELATION_PUBLIC = ["corr2d_lecture_example", "corr2d_output_shapes", "corr2d_edge_image_and_its_transpose",
                            "conv2d_parameters", "conv2d_learns_the_edge_kernel",
                            "horizontal_edge_kernel_on_transposed_edge_image", "learn_kernel_lecture_example"]


def numbered(*sources: str) -> list[tuple[int, str]]:
    return list(enumerate(sources, start=1))


def sources(cells: tuple[HistoryCell, ...]) -> list[tuple[int, str]]:
    return [(cell.number, cell.source) for cell in cells]


# The submission from a kernel's history.

def test_every_execution_is_a_cell_in_execution_order_reruns_and_cells_that_raised_included() -> None:
    history = numbered("x = 1", "x += 1", "x += 1", "1 / 0", "def f():\n    return x")
    assert sources(submission_cells(history)) == history


def test_the_check_cells_are_left_out() -> None:
    history = numbered(SCALE, CHECK, "check('scale')", "from grader import check", "check()\n",
                       "import grader\ngrader.check(assignment='toy')", "result = check()", "print(check('scale'))")
    assert sources(submission_cells(history)) == [(1, SCALE)]


def test_a_check_beside_other_code_leaves_the_other_code() -> None:
    history = numbered("from grader import check as c\ny = 2", "x = 1; c()  # how far am I?")
    assert sources(submission_cells(history)) == [(1, "pass\ny = 2"), (2, "x = 1; pass  # how far am I?")]


def test_a_check_inside_a_block_becomes_pass() -> None:
    history = numbered(f"{SCALE}\nfrom grader import check\nif __name__ == '__main__':\n    check(\n        'scale')\n"
                       "for name in ['scale']:\n    check(name); print(name)")
    [(_, kept)] = sources(submission_cells(history))
    assert kept == f"{SCALE}\npass\nif __name__ == '__main__':\n    pass\nfor name in ['scale']:\n    pass; print(name)"


def test_the_running_cell_counts_only_up_to_its_check() -> None:
    running = f"{SCALE}\nfrom grader import check\ncheck()\nnot_run_yet = undefined_name"
    [(number, kept)] = sources(submission_cells(numbered(running), running=1))
    assert number == 1 and kept.startswith(SCALE) and "undefined_name" not in kept
    assert "undefined_name" in submission_cells(numbered(running), running=2)[0].source  # an earlier cell ran whole


def test_a_function_of_the_students_own_called_check_is_kept() -> None:
    history = numbered("def check(x):\n    return x", "check(3)", "from grader import check", "def check(y):\n    pass",
                       "check(4)")
    assert [source for _, source in sources(submission_cells(history))] == [
        "def check(x):\n    return x", "check(3)", "def check(y):\n    pass", "check(4)"]


def test_magics_and_shell_lines_are_kept_as_typed_for_the_grader_to_translate() -> None:
    history = numbered("%matplotlib inline\nimport torch", "!ls\nfiles = !ls", "%time y = 1",
                       "%matplotlib inline\nfrom grader import check\ncheck()")
    cells = sources(submission_cells(history))
    assert cells[:3] == history[:3]
    assert cells[3] == (4, "%matplotlib inline\npass\npass")
    assert tampering(tuple(source for _, source in cells)) == set()


def test_reset_starts_the_submission_again_after_it() -> None:
    history = numbered("x = 1", "y = 2", "%reset -f\nz = 3", "w = z")
    assert sources(submission_cells(history)) == [(3, "z = 3"), (4, "w = z")]


def test_cells_without_a_check_are_returned_as_they_are() -> None:
    cells = ["# check the shapes\nx = 1\r\ny = 2", "def broken(:\n    check()", "%%time\nfrom grader import check",
             "!echo check grader"]
    assert without_self_check(cells) == tuple(cells)


def test_a_saved_notebook_loads_with_its_check_cell_empty_and_no_tampering(make_notebook: MakeNotebook) -> None:
    submission = load(make_notebook(SOLVED_CORR2D, CHECK, SCALE, assignment="toy"))
    assert isinstance(submission, Submission)
    assert submission.cells == (SOLVED_CORR2D, "", SCALE)
    assert tampering(submission.cells) == set()
    assert tampering((CHECK,)) == {"from grader import check"}  # why it must be taken out


def test_check_is_a_lazy_export_of_the_package() -> None:
    assert "check" in grader.__all__ and "grade" in grader.__all__
    assert grader.check.__module__ == "grader.self_check.check"


# The report shown in the cell.

def test_the_html_escapes_every_string_and_the_text_shows_the_same_rows() -> None:
    hostile = "<script>alert('x')</script> & \"yours\""
    report = CheckReport("graded", "", "toy<b>", (TestRow("a<i>", "corr2d", 0.0, 20.0, False, hostile),
                                                   TestRow("b", "scale", 5.0, 5.0, True, "")),
                         notes=("In [3]: error: <img src=x>",), confined=True)
    page = report._repr_html_()
    assert "<script>" not in page and "<img" not in page and "<b>" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;yours&quot;" in page
    assert "5 / 25 points on the public tests" in page and page.count("<tr>") == 3
    text = str(report)
    assert text.splitlines()[0] == "toy<b>: 5 / 25 points on the public tests (the hidden tests run when you submit)"
    assert "a<i>" in text and "fail" in text and "note: In [3]: error: <img src=x>" in text


def test_the_document_is_read_with_its_types_checked_and_its_sizes_bounded() -> None:
    document = {"status": "graded", "assignment": "toy", "reason": "",
                "tests": [{"name": "t", "function": "f", "score": 1, "max_score": 2, "passed": False,
                           "message": "m" * 1_000_000},
                          {"name": "nan", "score": float("nan"), "max_score": 1}, "not a test"],
                "cells": [{"index": 1, "status": "error", "message": "NameError"}, {"index": "x"}],
                "notes": ["skipped shell command ! ls", 7], "confined": False}
    report = report_from_document(json.loads(json.dumps(document)), [4, 9])
    assert [t.name for t in report.tests] == ["t"] and len(report.tests[0].message) < MAX_MESSAGE + 100
    assert report.notes == ("In [9]: error: NameError", "skipped shell command ! ls")
    assert "without confinement" in str(report)
    for malformed in (None, [], {"status": "won"}, {"status": 1}):
        assert report_from_document(malformed, []).status == "failed"


# Grading in the grader's own process (the toy assignment: one public test, hidden tests beside it).

@pytest.mark.slow
def test_the_public_tests_grade_the_history_in_a_separate_process(toy_assignments: Path) -> None:
    report = run_check([HistoryCell(1, SOLVED_CORR2D), HistoryCell(2, SCALE)])
    assert report.status == "graded" and report.assignment == "toy", report
    assert [(t.name, t.score, t.max_score, t.passed) for t in report.tests] == [("corr2d_seed_example", 20, 20, True)]
    assert report.confined is True


@pytest.mark.slow
def test_a_wrong_function_shows_its_failing_test_and_the_cell_that_raised(toy_assignments: Path) -> None:
    report = run_check([HistoryCell(3, ZEROS_CORR2D), HistoryCell(5, "corr2d(1, 2)")], function="corr2d")
    assert report.status == "graded", report
    [test] = report.tests
    assert test.name == "corr2d_seed_example" and test.score == 0 and not test.passed and "corr2d(X, K)" in test.message
    assert report.notes and report.notes[0].startswith("In [5]: error: ")
    assert not any(note.startswith("cell ") for note in report.notes)


@pytest.mark.slow
def test_check_of_a_name_without_public_tests_or_not_graded_says_so(toy_assignments: Path) -> None:
    hidden_only = run_check([HistoryCell(1, SCALE)], function="scale")
    assert (hidden_only.status, hidden_only.line) == ("refused", ("scale has no public tests: its hidden tests run "
                                                                  "when you submit"))
    unknown = run_check([HistoryCell(1, SCALE)], function="pool2d")
    assert (unknown.status, unknown.line) == ("refused", "'pool2d' is not graded in toy (graded: corr2d, scale)")


@pytest.mark.slow
def test_a_notebook_that_defines_no_graded_name_says_what_to_do(toy_assignments: Path) -> None:
    report = run_check([HistoryCell(1, "x = 1")])
    assert report.status == "refused"
    assert "cannot tell which assignment" in report.line and "check(assignment=NAME)" in report.line
    assert str(report).count("\n") == 0


@pytest.mark.slow
def test_without_any_assignment_one_line_says_where_to_open_the_notebook(root: Path) -> None:
    report = run_check([HistoryCell(1, SCALE)], assignment="toy")
    assert report.status == "refused" and "open the notebook from the folder of the assignment's kit" in report.line


@pytest.mark.slow
def test_a_grader_that_cannot_start_or_runs_too_long_is_one_line(toy_assignments: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    slow = run_check([HistoryCell(1, SCALE)], timeout=0.5)
    assert slow.status == "failed" and "took longer than 0.5 s" in str(slow) and "\n" not in str(slow)
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    missing = run_check([HistoryCell(1, SCALE)])
    assert missing.status == "failed" and str(missing).startswith("check: cannot start the grader")


# A real Jupyter kernel: the kit's notebook, never saved.

def output_html(cell: nbformat.NotebookNode) -> str:
    pages = [output["data"]["text/html"] for output in cell.outputs
             if output.get("output_type") == "execute_result" and "text/html" in output.get("data", {})]
    assert len(pages) == 1, cell.outputs
    return pages[0]


def marks(page: str) -> dict[str, str]:
    """Each test row of the table: its name -> pass, fail or tip."""
    return dict(re.findall(r"<tr><td[^>]*><code>([^<]*)</code></td><td>[^<]*</td><td[^>]*>(\w+)</td>", page))


@pytest.mark.slow
def test_check_in_a_jupyter_kernel_shows_the_public_tests_of_what_ran(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    select_course(monkeypatch, COURSE_ASSIGNMENTS.parent)
    kit = tmp_path / "kit"
    released = nbformat.read(release_notebook("cross_correlation", kit), as_version=4)
    assert released.cells[-1].source == CHECK and released.cells[-1].id == "convgrade-check"
    monkeypatch.delenv("CONVGRADE_COURSE")  # the kit is a course: found from the kernel's folder
    accepted = nbformat.read(COURSE_ASSIGNMENTS / "cross_correlation" / "accepted" / "vectorized.ipynb", as_version=4)
    code = [cell.source for cell in accepted.cells if cell.cell_type == "code"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in [
        *code, CHECK,
        "def corr2d(X, K):\n    return torch.zeros(X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1)",
        "check()", 'check("corr2d")']])
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(kit)}}).execute()
    assert sorted(p.name for p in kit.iterdir()) == ["assignments", "convgrade.toml", "cross_correlation.ipynb"]

    full, buggy, one = (output_html(cell) for cell in notebook.cells[len(code):] if "check(" in cell.source)
    assert "<table>" in full and "cross_correlation: 24 / 24 points on the public tests" in full
    assert marks(full) == dict.fromkeys(CROSS_CORRELATION_PUBLIC, "pass")
    # corr2d returns zeros of the right shape: its own tests fail, and Conv2D's learning, which calls it.
    failing = [*CROSS_CORRELATION_PUBLIC[:3], "conv2d_learns_the_edge_kernel"]
    assert "cross_correlation: 8 / 24 points" in buggy
    assert marks(buggy) == {name: "fail" if name in failing else "pass" for name in CROSS_CORRELATION_PUBLIC}
    assert "corr2d(X, K) for the lecture&#x27;s 3x3 X" in buggy
    assert "cross_correlation: 0 / 10 points" in one
    assert marks(one) == dict.fromkeys(CROSS_CORRELATION_PUBLIC[:3], "fail")
