"""The self-check's grading process: `python -m grader.self_check.run --notebook NB --out RESULT.json`.

`check()` starts it from a student's kernel, with the kernel's folder as its
own (the course is found from there). It grades the notebook against the
public tests only, never the hidden ones, exactly as `grade NB --public`
does: its own confined zygote, a fresh worker, the grader's limits. It
writes one JSON document of plain data (grader.self_check.report reads it) and
exits 0 whatever happened; a failure is that document's one-line reason.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.environment import debugging
from grader.errors import GraderError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.self_check.run",
                                     description="Grade a notebook against its public tests, for check().")
    parser.add_argument("--notebook", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="where to write the result (JSON)")
    parser.add_argument("--assignment", help="the assignment (default: the one whose names the notebook defines)")
    parser.add_argument("--function", help="only the tests of this graded name")
    args = parser.parse_args(argv)
    try:
        document = _check(args.notebook, args.assignment, args.function)
    except GraderError as error:
        document = {"status": "refused", "reason": error.message}
    except Exception as error:  # noqa: BLE001 - the boundary: a defect becomes one line in the student's cell
        if debugging():
            traceback.print_exc()
        document = {"status": "failed", "reason": f"internal error in the grader: {type(error).__name__}: {error}"}
    from grader.safe_write import write_file

    write_file(args.out, json.dumps(document, allow_nan=False))
    return 0


def _check(notebook: Path, requested: str | None, function: str | None) -> dict[str, Any]:
    # The zygote first, so that its torch import overlaps the grader's (as the grade command does).
    from grader.course import locate
    from grader.environment import configured_course, configured_secret
    from grader.errors import UsageError
    from grader.session import Grader

    try:
        course = locate(configured_course())  # else from the kernel's folder: the kit's, where it was opened
    except UsageError as error:
        return {"status": "refused", "reason": f"{error.message} (open the notebook from the folder of the "
                                               "assignment's kit, or start Jupyter there)"}
    open_session = contextlib.ExitStack()
    grader = open_session.enter_context(Grader(course, secret=configured_secret()))  # its zygote starts here
    from grader.course.assignment import available, identify, load_assignment
    from grader.grading.cell_failures import cell_label, failure_text
    from grader.grading.load import load
    from grader.records import Unusable
    from grader.worker.warm import warm_up

    with open_session:
        submission = load(notebook)
        if isinstance(submission, Unusable):
            return {"status": "unusable", "reason": f"what you have run {submission.reason}"}
        if not available():
            return {"status": "refused", "reason": f"no assignments found (looked in {course.assignments}): open the "
                                                   "notebook from the folder of the assignment's kit, or start "
                                                   "Jupyter there"}
        name, _ = identify(requested, None, submission.cells)
        if name is None:
            return {"status": "refused",
                    "reason": "cannot tell which assignment this is: nothing you have run defines any of their "
                              f"graded names yet; run those cells first, or pass check(assignment=NAME) (known: "
                              f"{', '.join(available())})"}
        definition = load_assignment(name, public_only=True)
        if function is not None:
            if function not in definition.functions:
                return {"status": "refused", "assignment": name,
                        "reason": f"{function!r} is not graded in {name} (graded: {', '.join(definition.functions)})"}
            definition = dataclasses.replace(definition, tests=tuple(t for t in definition.tests
                                                                     if t.function == function))
            if not definition.tests:
                return {"status": "refused", "assignment": name,
                        "reason": f"{function} has no public tests: its hidden tests run when you submit"}
        threading.Thread(target=warm_up, daemon=True).start()
        result = grader.grade(notebook, assignment=name, public_only=True, definitions={name: definition})
    if result.status == "unusable":
        return {"status": "unusable", "assignment": name, "reason": result.reason}
    # The grader's notes on failed cells name them by position, which means little in a history: the
    # report names them by execution number instead, from "cells".
    failed = tuple(failure_text(c, cell_label(submission.positions, c.index)) for c in result.cells if c.status != "ok")
    return {
        "status": result.status, "assignment": name, "reason": result.reason,
        "tests": [{"name": t.name, "function": t.function, "score": t.score, "max_score": t.max_score,
                   "passed": t.passed, "message": t.feedback} for t in result.tests if not t.hidden],
        "cells": [{"index": c.index, "status": c.status, "message": c.message}
                  for c in result.cells if c.status != "ok"],
        "notes": [note for note in result.notes if not note.startswith(failed)],
        "confined": result.isolation.get("confined") is True,
    }


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip torch's teardown, as the grade command does
