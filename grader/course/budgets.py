"""Call budgets: how long one call into student code may take, per graded name, from a calibration.

A looping submission used to cost the full call timeout in every graded
function that reached its loop, while a correct call takes a fraction of a
second. `grade calibrate NAME` (grader.course.calibrate) grades the teaching
notebook and every accepted answer, the seeds' loops included, and writes
`assignments/NAME/budgets.json`: for each graded name the slowest call any of
them made and its budget, the larger of FLOOR and MULTIPLE times that call.
The file records the assignment's digest, so a calibration belongs to one
version of the tests.

Grading only reads the file, never measures: the same submission gets the
same budgets on any machine. A budget is capped by the course's call_timeout
(the ceiling); a missing or stale calibration puts the ceiling in force for
every call (safe: nothing correct times out sooner than before), and `grade
audit` fails until it is calibrated again. `--call-timeout SECONDS` is one
fixed budget for every call, calibration or not.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.errors import AssignmentError
from grader.records import CallBudgets

if TYPE_CHECKING:
    from grader.course.assignment import Assignment
    from grader.host.execute import Limits

BUDGETS_FILE = "budgets.json"
# Seconds of computing: a call's budget is never less, however fast the accepted answers are (a few
# hundredths of a second): room for a far slower processor and for first uses no calibration shows.
# torch.optim's first use, a second, is paid before any call (grader.worker.warm).
FLOOR = 3.0
MULTIPLE = 20.0      # a budget over the slowest accepted call: room for a slower machine, a loaded one
FORMAT = 1


@dataclasses.dataclass(frozen=True)
class FunctionBudget:
    seconds: float          # the budget of one call
    slowest_call: float     # the slowest call an accepted answer made, in seconds
    answer: str             # the notebook that made it, relative to the assignment's folder


@dataclasses.dataclass(frozen=True)
class Calibration:
    """What budgets.json says."""

    digest: str             # the assignment's digest (grader.course.assignment) when it was measured
    public_digest: str      # its public tests' digest: a --public grade checks this one
    functions: Mapping[str, FunctionBudget]


def budget_for(slowest_call: float) -> float:
    """The budget for a call whose slowest accepted run took `slowest_call` seconds: rounded up to 0.1 s."""
    return max(FLOOR, math.ceil(MULTIPLE * slowest_call * 10) / 10)


def calibration_file(directory: Path) -> Path:
    return directory / BUDGETS_FILE


def read_calibration(directory: Path) -> Calibration | None:
    """The assignment folder's budgets.json; None where there is none. A malformed one is an AssignmentError."""
    path = calibration_file(directory)
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != FORMAT:
            raise ValueError(f"format {document.get('format')!r} is not {FORMAT}")
        functions = {str(name): _function_budget(entry) for name, entry in document["functions"].items()}
        return Calibration(digest=_text(document["digest"]), public_digest=_text(document["public_digest"]),
                           functions=functions)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise AssignmentError(f"{path} cannot be read ({type(error).__name__}: {error}): "
                              f"run 'grade calibrate {directory.name}' to write it again") from None


def write_calibration(directory: Path, calibration: Calibration) -> Path:
    """Write budgets.json, sorted and indented: a recalibration's diff shows what changed."""
    document = {"format": FORMAT, "digest": calibration.digest, "public_digest": calibration.public_digest,
                "floor": FLOOR, "multiple": MULTIPLE,
                "functions": {name: dataclasses.asdict(budget)
                              for name, budget in sorted(calibration.functions.items())}}
    path = calibration_file(directory)
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


def calibration_problem(definition: Assignment) -> str | None:
    """Why the assignment's calibration is not in force (one line), or None when it is."""
    where = f"{definition.directory.name}/{BUDGETS_FILE}"
    how = f"run 'grade calibrate {definition.name}'"
    calibration = definition.calibration
    if calibration is None:
        return f"{where} is missing: every call gets the course's call_timeout; {how}"
    if definition.digest not in (calibration.digest, calibration.public_digest):
        return (f"{where} is stale: it was measured for version {calibration.digest} of the tests, which are "
                f"{definition.digest} now: every call gets the course's call_timeout; {how}")
    return None


def in_force(definition: Assignment, limits: Limits) -> CallBudgets:
    """The budgets one grade of `definition` runs under: calibrated and capped by the call timeout,
    else the call timeout for every call."""
    ceiling = limits.call_timeout
    if limits.fixed_call_timeout:
        return CallBudgets(dict.fromkeys(definition.functions, ceiling), ceiling, "fixed")
    if definition.calibration is None or calibration_problem(definition) is not None:
        return CallBudgets(dict.fromkeys(definition.functions, ceiling), ceiling, "uncalibrated")
    seconds = {name: min(budget.seconds, ceiling) for name, budget in definition.calibration.functions.items()}
    return CallBudgets({**dict.fromkeys(definition.functions, ceiling), **seconds}, ceiling, "calibrated")


def _function_budget(entry: Mapping[str, Any]) -> FunctionBudget:
    seconds, slowest = entry["seconds"], entry["slowest_call"]
    for value in (seconds, slowest):
        if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a number of seconds")
    if seconds <= 0:
        raise ValueError("a budget must be positive")
    return FunctionBudget(seconds=float(seconds), slowest_call=float(slowest), answer=_text(entry["answer"]))


def _text(value: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"{value!r} is not a string")
    return value
