from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from grader.authoring.comparison import Comparison
from grader.batch.pages import page_data, stored_result
from grader.errors import GraderError
from grader.records import GradeResult
from grader.report.feedback import feedback_page
from tests.helpers import make_row


def graded_with_comparisons() -> GradeResult:
    row = make_row(score=0.0)
    expected = torch.tensor([[1.0, -0.0, 1 / 3], [math.inf, -math.inf, 2.5e-300]], dtype=torch.float64)
    actual = torch.tensor([[1.0, math.nan, 0.0]], dtype=torch.float64)
    comparisons = (Comparison("corr2d(X, K)", "wrong_shape", (2, 3), (1, 3), expected, actual, 1e-5, 1e-8),
                   Comparison("corr2d(X, K).shape", "match", (0, 4), (0, 4), torch.zeros(0, 4, dtype=torch.float64),
                              torch.zeros(0, 4, dtype=torch.float64), truncated=True),
                   Comparison("corr2d(X, 'k')", "not_a_tensor", (2, 3), None, None, None))
    tests = tuple(dataclasses.replace(t, comparisons=comparisons) for t in row.tests)
    return GradeResult(submission=Path("alice.ipynb"), assignment="toy", status="graded", reason="", tests=tests,
                       notes=("cell 2 raised NameError",), assignment_digest="d1")


def test_a_page_rewritten_from_its_stored_data_is_the_page_grading_wrote() -> None:
    result = graded_with_comparisons()
    row = make_row(score=0.0)  # the gradebook keeps a row's tests without their comparisons
    stored = stored_result(row, page_data(result))
    assert stored.tests[0].comparisons == result.tests[0].comparisons  # NaN, infinities and -0.0 included
    assert stored.notes == result.notes and stored.submission.name == "alice.ipynb"
    assert feedback_page(stored, None) == feedback_page(result, None)
    unusable = GradeResult(submission=Path("bob.ipynb"), assignment="toy", status="unusable", reason="is truncated",
                           max_score_if_unusable=100.0)
    unusable_row = make_row("bob", score=0.0, status="unusable", reason="is truncated", max_score=100.0, tests=())
    assert feedback_page(stored_result(unusable_row, page_data(unusable)), None) == feedback_page(unusable, None)


@pytest.mark.parametrize("damaged", ["", "{", '{"notes": []}', "not a dtype"])
def test_damaged_page_data_is_a_grader_error(damaged: str) -> None:
    if damaged == "not a dtype":
        damaged = page_data(graded_with_comparisons()).replace('"float64"', '"os"', 1)
    with pytest.raises(GraderError, match="page data for 'alice' is damaged"):
        stored_result(make_row(), damaged)
