"""convgrade: grade convolution notebooks in a confined worker, with hidden tests.

`grade(path)` runs the whole pipeline: load -> execute -> test -> score.
"""

from __future__ import annotations

from typing import Any

__all__ = ["grade"]


def __getattr__(name: str) -> Any:
    # Lazy, so that the worker importing grader.recipes does not load the grading pipeline.
    if name == "grade":
        from grader.pipeline import grade

        return grade
    raise AttributeError(name)
