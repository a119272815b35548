"""convgrade: grade convolution notebooks in a confined worker, with hidden tests.

`grade(path)` runs the whole pipeline: load -> execute -> test -> score.
`check()`, in a student's notebook, grades what the kernel has run against the public tests.
"""

from __future__ import annotations

from typing import Any

__all__ = ["check", "grade"]


def __getattr__(name: str) -> Any:
    # Lazy, so that the worker importing grader.worker.requests does not load the grading pipeline,
    # and a student's kernel importing check() loads neither.
    if name == "grade":
        from grader.grading.pipeline import grade

        return grade
    if name == "check":
        from grader.self_check.check import check

        return check
    raise AttributeError(name)
