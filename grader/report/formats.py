"""Report stage: a `GradeResult` as a terminal table, Gradescope's results.json,
JUnit XML (GitLab's unit test reports) and GitHub Classroom's autograding result.

Pure functions. What a student may see (the table, Gradescope's visible
fields, every JUnit and Classroom field) carries a hidden test's name, points
and hint only; the full reasons and the student's printed output go to
Gradescope's `extra_data`, which Gradescope keeps for instructors.
"""

from __future__ import annotations

import base64
import json
import math
import re
import textwrap
from typing import Any, Literal
from xml.etree import ElementTree

from grader.records import GradeResult

STATUS_MARK = {True: "PASS", False: "FAIL"}
ClassroomStatus = Literal["pass", "fail", "error"]   # GitHub Classroom's, for one test and for the run


def points(value: float) -> str:
    return f"{value:g}" if math.isfinite(value) else str(value)


def table(result: GradeResult, *, width: int = 100) -> str:
    """The terminal report: one line per test, then the total."""
    name = result.submission.name
    if result.status == "unusable":
        return f"{name}: not graded: {result.reason}\nScore: 0 / {points(result.max_score)}"
    rows = [(t.name, f"{points(t.score)}/{points(t.max_score)}",
             "TIP" if t.tip and not t.passed else STATUS_MARK[t.passed],
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
    if result.status == "error":
        lines.append(f"No score: {result.reason}")
    else:
        lines.append(f"Score: {points(result.score)} / {points(result.max_score)}")
    return "\n".join(lines)


def gradescope(result: GradeResult) -> dict[str, Any]:
    """Gradescope's results.json: https://gradescope-autograders.readthedocs.io/en/latest/specs/"""
    if result.status == "unusable":
        return {"score": 0.0, "max_score": result.max_score, "execution_time": round(result.seconds, 3),
                "output": f"{result.submission.name} was not graded: {result.reason}",
                "stdout_visibility": "hidden", "tests": [],
                "extra_data": {"status": "unusable", "reason": result.reason, "assignment": result.assignment}}
    if result.status == "error":
        # No score at all, so Gradescope cannot record one: it shows the run as an autograder
        # failure (run_autograder also exits non-zero), and the staff regrade once it is fixed.
        return {"execution_time": round(result.seconds, 3), "stdout_visibility": "hidden", "tests": [],
                "output": f"{result.submission.name} was {result.reason}. This is not your score.",
                "extra_data": {"status": "error", "reason": result.reason, "assignment": result.assignment,
                               "grader_errors": list(result.grader_errors),
                               "details": {t.name: t.detail for t in result.tests if t.detail},
                               **call_budgets(result)}}
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
            **call_budgets(result),
        },
    }


def call_budgets(result: GradeResult) -> dict[str, Any]:
    """The call budgets a result was graded under (grader.course.budgets), for extra_data; none if nothing ran."""
    budgets = result.call_budgets
    if budgets is None:
        return {}
    return {"call_budgets": {"source": budgets.source, "ceiling": budgets.ceiling, "seconds": dict(budgets.seconds)}}


# Characters XML 1.0 cannot hold, even escaped; a student's exception text may carry them.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def junit(result: GradeResult) -> str:
    """JUnit XML as GitLab's unit test reports read it
    (https://docs.gitlab.com/ci/testing/unit_test_reports/): one `testcase` per
    test, `classname` (GitLab's "suite") the graded function, a `failure`
    holding what the student may see. An unusable submission is one failing
    testcase that gives the reason."""
    cases: list[tuple[str, str, str | None, str, str]] = []  # classname, name, failure|error|None, message, text
    if result.status == "unusable":
        message = f"{result.submission.name} was not graded: {result.reason}"
        cases.append(("submission", result.submission.name, "failure", message,
                      f"{message}\nScore: 0 / {points(result.max_score)}"))
    for test in result.tests:
        message = "" if test.passed else ("[hidden] " if test.hidden else "") + (test.feedback or "failed")
        kind = None if test.passed else "error" if test.grader_error else "failure"
        cases.append((test.function, test.name, kind, message,
                      f"{points(test.score)} / {points(test.max_score)} points: {message}"))
    counts = {"tests": str(len(cases)), "failures": str(sum(c[2] == "failure" for c in cases)),
              "errors": str(sum(c[2] == "error" for c in cases))}
    root = ElementTree.Element("testsuites", {"name": "convgrade", **counts})
    suite = ElementTree.SubElement(root, "testsuite", {"name": f"convgrade {result.assignment or 'submission'}",
                                                       **counts, "skipped": "0", "time": f"{result.seconds:.3f}"})
    properties = ElementTree.SubElement(suite, "properties")
    for name, value in (("assignment", result.assignment or ""), ("score", points(result.score)),
                        ("max_score", points(result.max_score))):
        ElementTree.SubElement(properties, "property", name=name, value=value)
    for classname, name, kind, message, text in cases:
        case = ElementTree.SubElement(suite, "testcase", classname=classname, name=name)
        if kind is not None:
            # GitLab shows the element's text and ignores `message`; other readers show `message`.
            outcome = ElementTree.SubElement(case, kind, message=_NOT_XML.sub("\ufffd", message), type=kind)
            outcome.text = _NOT_XML.sub("\ufffd", text)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def classroom(result: GradeResult) -> dict[str, Any]:
    """GitHub Classroom's autograding result, as its graders write it for
    `education/autograding-grading-reporter` (version 1: `status` pass/fail/error,
    `max_score`, `tests[]` with `name`, `status`, `score`, `message`, `test_code`,
    `filename`, `line_no`). Classroom records the sum of the tests' `score` out
    of `max_score`, so each test carries its points."""
    if result.status != "graded":
        message = f"{result.submission.name} was not graded: {result.reason}"
        return {"version": 1, "status": "error", "max_score": result.max_score,
                "tests": [_classroom_test(result.submission.name, "error", 0.0, message)]}
    tests = [_classroom_test(t.name, "pass" if t.passed else "error" if t.grader_error else "fail", t.score,
                             ("" if t.passed else ("[hidden] " if t.hidden else "") + (t.feedback or "failed")))
             for t in result.tests]
    statuses = {test["status"] for test in tests}
    status = "error" if "error" in statuses else "fail" if "fail" in statuses else "pass"
    return {"version": 1, "status": status, "max_score": result.max_score, "tests": tests}


def _classroom_test(name: str, status: ClassroomStatus, score: float, message: str) -> dict[str, Any]:
    # The reporter prints "- line N" unless line_no is 0, and "Test code:" for any test_code.
    return {"name": name, "status": status, "score": score, "message": message, "test_code": "",
            "filename": "", "line_no": 0}


def classroom_step_output(document: dict[str, Any]) -> str:
    """The `result` step output line for $GITHUB_OUTPUT: base64 of the JSON,
    which the reporter reads back from `<STEP_ID>_RESULTS`."""
    encoded = base64.b64encode(json.dumps(document, allow_nan=False).encode()).decode("ascii")
    return f"result={encoded}"
