"""A batch's feedback pages, DIR/feedback/<file stem>.html: one per student, kept whole across runs.

A page is written before its row is committed, so that a batch killed between
the two leaves a page whose row the next run grades again, never a committed
row without its page. What a page shows beyond its gradebook row (its notes,
the name of the file graded, and each public test's comparisons: the values on
both sides) is stored beside the row as `page_data`, so that a later run
rewrites a page that has gone missing from the row, the stored values and the
same notebook bytes: the page grading wrote, without grading again.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from grader.authoring.comparison import Comparison
from grader.batch.collect import CollectedSubmission
from grader.batch.exports import file_stem
from grader.batch.gradebook import SubmissionRow
from grader.errors import GraderError
from grader.records import GradeResult
from grader.report.feedback import feedback_page, read_notebook
from grader.safe_write import write_file

FEEDBACK_FOLDER = "feedback"


def page_path(out: Path, student: str) -> Path:
    return out / FEEDBACK_FOLDER / f"{file_stem(student)}.html"


def has_page(out: Path, student: str) -> bool:
    path = page_path(out, student)
    return path.is_file() and not path.is_symlink()  # a planted link is no page: writing replaces it


def write_feedback(submission: CollectedSubmission, result: GradeResult, out: Path) -> Path:
    """The student's feedback page, written as soon as it is graded (or rewritten from `stored_result`)."""
    notebook = read_notebook(submission.content) if result.status == "graded" else None
    return write_file(page_path(out, submission.student), feedback_page(result, notebook), base=out)


def page_data(result: GradeResult) -> str:
    """What `result`'s page shows that its gradebook row does not hold, as JSON."""
    return json.dumps({
        "submission": result.submission.name,
        "notes": list(result.notes),
        "comparisons": {t.name: [_comparison(c) for c in t.comparisons] for t in result.tests if t.comparisons},
    })


def stored_result(row: SubmissionRow, data: str) -> GradeResult:
    """The result whose page is the one grading wrote: `row` (with its tests) and its `page_data`."""
    try:
        stored = json.loads(data)
        comparisons = {name: tuple(_read_comparison(c) for c in listed)
                       for name, listed in stored["comparisons"].items()}
        tests = tuple(dataclasses.replace(t, comparisons=comparisons.get(t.name, ())) for t in row.tests)
        return GradeResult(submission=Path(stored["submission"]), assignment=row.assignment, status=row.status,
                           reason=row.reason, tests=tests, notes=tuple(stored["notes"]),
                           max_score_if_unusable=row.max_score, assignment_digest=row.assignment_digest)
    except (ValueError, KeyError, TypeError, RuntimeError) as error:
        raise GraderError(f"the gradebook's page data for {row.student!r} is damaged: {error}") from None


def _comparison(comparison: Comparison) -> dict[str, Any]:
    return {"label": comparison.label, "verdict": comparison.verdict,
            "expected_shape": list(comparison.expected_shape),
            "actual_shape": None if comparison.actual_shape is None else list(comparison.actual_shape),
            "expected": _tensor(comparison.expected), "actual": _tensor(comparison.actual),
            "rtol": comparison.rtol, "atol": comparison.atol, "truncated": comparison.truncated}


def _read_comparison(stored: dict[str, Any]) -> Comparison:
    actual_shape = stored["actual_shape"]
    return Comparison(label=stored["label"], verdict=stored["verdict"], expected_shape=tuple(stored["expected_shape"]),
                      actual_shape=None if actual_shape is None else tuple(actual_shape),
                      expected=_read_tensor(stored["expected"]), actual=_read_tensor(stored["actual"]),
                      rtol=stored["rtol"], atol=stored["atol"], truncated=stored["truncated"])


def _tensor(values: torch.Tensor | None) -> dict[str, Any] | None:
    # Python's float repr reads back to the same double (NaN and infinities included), so the page is the same.
    if values is None:
        return None
    return {"dtype": str(values.dtype).removeprefix("torch."), "shape": list(values.shape),
            "values": values.flatten().tolist()}


def _read_tensor(stored: dict[str, Any] | None) -> torch.Tensor | None:
    if stored is None:
        return None
    dtype = getattr(torch, stored["dtype"], None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown dtype {stored['dtype']!r}")
    return torch.tensor(stored["values"], dtype=dtype).reshape(stored["shape"])
