"""convgrade: grade convolution notebooks in a confined worker, with hidden tests.

    from grader import Grader
    with Grader(course_folder) as grader:
        result = grader.grade(Path("submission.ipynb"))
        print(result.score, "/", result.max_score)

`grade(path)` is the same in one call. `check()`, in a student's notebook,
grades what the kernel has run against the public tests.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.course import Course
    from grader.errors import AssignmentError, ExitCode, GraderError, UsageError
    from grader.host.execute import Limits
    from grader.records import CellOutcome, GradeResult, GraderFailure, TestScore
    from grader.self_check.check import check
    from grader.session import Grader, grade

# Imported on first use: the worker imports grader.worker.* and must not load the pipeline, and a
# student's kernel importing check() loads neither.
_EXPORTS = {
    "AssignmentError": "grader.errors", "CellOutcome": "grader.records", "Course": "grader.course",
    "ExitCode": "grader.errors", "GradeResult": "grader.records", "Grader": "grader.session",
    "GraderError": "grader.errors", "GraderFailure": "grader.records", "Limits": "grader.host.execute",
    "TestScore": "grader.records", "UsageError": "grader.errors", "check": "grader.self_check.check",
    "grade": "grader.session",
}
__all__ = [
    "AssignmentError", "CellOutcome", "Course", "ExitCode", "GradeResult", "Grader", "GraderError", "GraderFailure",
    "Limits", "TestScore", "UsageError", "check", "grade",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'grader' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
