"""Report stage: a `GradeResult` as a terminal table and as Gradescope's results.json.

Pure functions. What a student may see (the table, Gradescope's visible
fields) carries a hidden test's name, points and hint only; the full reasons
and the student's printed output go to `extra_data`, which Gradescope keeps
for instructors.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

from grader.pipeline import GradeResult

STATUS_MARK = {True: "PASS", False: "FAIL"}


def points(value: float) -> str:
    return f"{value:g}" if math.isfinite(value) else str(value)


def table(result: GradeResult, *, width: int = 100) -> str:
    """The terminal report: one line per test, then the total."""
    name = result.submission.name
    if result.status == "unusable":
        return f"{name}: not graded: {result.reason}\nScore: 0 / {points(result.max_score)}"
    rows = [(t.name, f"{points(t.score)}/{points(t.max_score)}", STATUS_MARK[t.passed],
             ("[hidden] " if t.hidden else "") + (t.feedback or ("" if t.passed else "failed")))
            for t in result.tests]
    name_width = max([len(r[0]) for r in rows] + [4])
    point_width = max([len(r[1]) for r in rows] + [6])
    lines = [f"{result.submission.name} - assignment {result.assignment}",
             f"{'test':<{name_width}}  {'points':>{point_width}}  status  message"]
    for test, score, status, message in rows:
        room = max(20, width - name_width - point_width - 12)
        first, *rest = textwrap.wrap(message, room) or [""]
        lines.append(f"{test:<{name_width}}  {score:>{point_width}}  {status:<6}  {first}")
        lines += [" " * (name_width + point_width + 12) + line for line in rest]
    lines += [f"note: {note}" for note in result.notes]
    lines.append(f"Score: {points(result.score)} / {points(result.max_score)}")
    return "\n".join(lines)


def gradescope(result: GradeResult) -> dict[str, Any]:
    """Gradescope's results.json: https://gradescope-autograders.readthedocs.io/en/latest/specs/"""
    if result.status == "unusable":
        return {"score": 0.0, "max_score": result.max_score, "execution_time": round(result.seconds, 3),
                "output": f"{result.submission.name} was not graded: {result.reason}",
                "stdout_visibility": "hidden", "tests": [],
                "extra_data": {"status": "unusable", "reason": result.reason, "assignment": result.assignment}}
    summary = [f"Assignment {result.assignment}: {points(result.score)} / {points(result.max_score)}"]
    summary += [f"Note: {note}" for note in result.notes]
    return {
        "score": result.score,
        "max_score": result.max_score,
        "execution_time": round(result.seconds, 3),
        "output": "\n".join(summary),
        "stdout_visibility": "hidden",
        "tests": [{"name": t.name, "score": t.score, "max_score": t.max_score,
                   "status": "passed" if t.passed else "failed",
                   "output": t.feedback, "visibility": "visible",
                   "tags": [t.function, "hidden" if t.hidden else "public"]} for t in result.tests],
        "extra_data": {
            "status": "graded", "assignment": result.assignment,
            "details": {t.name: t.detail for t in result.tests if t.detail},
            "library_convolutions": {k: list(v) for k, v in result.library_convolutions.items()},
            "grader_errors": list(result.grader_errors),
            "cells": [{"cell": c.index + 1, "status": c.status, "message": c.message} for c in result.cells],
            "isolation": dict(result.isolation),
            "student_output": result.student_output,
        },
    }
