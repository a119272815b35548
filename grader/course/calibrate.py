"""`grade calibrate NAME`: measure an assignment's call budgets and write its budgets.json.

Grades the teaching notebook and every accepted answer exactly as a student's
notebook is graded, one at a time so that they do not slow each other, each
call under the course's full call timeout, and keeps each graded name's
slowest call (grader.records.GradeResult.slowest_calls). Every one of them must
score 100 with no call that timed out or crashed: a failing answer may skip
the work whose time is measured. The budgets (grader.course.budgets) follow
from those calls; run it again whenever the tests change, and `grade audit`
says when it is due.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from grader.course.assignment import load_assignment
from grader.course.audit import ACCEPTED_FOLDER
from grader.course.budgets import Calibration, FunctionBudget, budget_for
from grader.errors import AssignmentError
from grader.grading.pipeline import grade_notebook
from grader.records import GradeResult

if TYPE_CHECKING:
    from grader.session import Grader


def calibrate(name: str, grader: Grader) -> Calibration:
    """The calibration of assignment `name`, measured in `grader`'s session (written by the caller)."""
    definition = load_assignment(name)
    answers = [definition.notebook, *sorted((definition.directory / ACCEPTED_FOLDER).glob("*.ipynb"))]
    limits = dataclasses.replace(grader.limits, fixed_call_timeout=True)
    slowest: dict[str, tuple[float, str]] = {}
    for path in answers:
        label = path.relative_to(definition.directory).as_posix()
        result = grade_notebook(path, assignment=name, zygote=grader.zygote(), secret=grader.secret,
                                definitions={name: definition}, limits=limits)
        unfit = _unfit(result)
        if unfit:
            raise AssignmentError(f"cannot calibrate {name}: {label} {unfit}; fix it first (grade audit {name})")
        for function, seconds in result.slowest_calls.items():
            if seconds > slowest.get(function, (-1.0, ""))[0]:
                slowest[function] = (seconds, label)
    functions = {function: FunctionBudget(seconds=budget_for(_rounded_up(seconds)),
                                          slowest_call=_rounded_up(seconds), answer=label)
                 for function, (seconds, label) in slowest.items()}
    return Calibration(digest=definition.digest, public_digest=definition.public_digest, functions=functions)


def _unfit(result: GradeResult) -> str:
    """Why `result` cannot calibrate: "" when it scored full marks with every call answered."""
    if result.status != "graded":
        return f"was not graded: {result.reason}"
    if result.timeouts or result.crashes:
        return f"had {result.timeouts} timeouts and {result.crashes} crashes"
    if not math.isclose(result.score, result.max_score):
        failed = ", ".join(t.name for t in result.tests if not t.passed and not t.tip)
        return f"scores {result.score:g} / {result.max_score:g} (failed: {failed})"
    return ""


def _rounded_up(seconds: float) -> float:
    return math.ceil(seconds * 10_000) / 10_000
