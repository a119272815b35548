"""The report stage: Gradescope's results.json and the terminal table, and what each lets a student see."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from grader.records import CallBudgets, CellOutcome, GradeResult
from grader.records import (
    TestScore as ScoredTest,  # aliased: pytest would try to collect Test*
)
from grader.report.formats import (
    classroom,
    classroom_step_output,
    gradescope,
    junit,
    table,
)

# Gradescope's documented results.json fields (https://gradescope-autograders.readthedocs.io/en/latest/specs/)
TOP_LEVEL_FIELDS = {"score", "max_score", "execution_time", "output", "output_format", "test_output_format",
                    "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_FIELDS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
               "visibility", "extra_data"}
HIDDEN_DETAIL = "corr2d on a random 7x9 X (hidden-marker-91b2) is wrong in 3 of 63 values"
STUDENT_PRINT = "student-printed-marker-77aa"


def graded_result(**overrides: Any) -> GradeResult:
    tests = (
        ScoredTest("corr2d_seed_example", "corr2d", 20.0, 20.0, True, False, "", ""),
        ScoredTest("corr2d_output_shape", "corr2d", 0.0, 10.0, False, False,
                   "corr2d(X, K) should have shape (2, 2); yours has (3, 3)",
                   "corr2d(X, K) should have shape (2, 2); yours has (3, 3)"),
        ScoredTest("corr2d_matches_reference", "corr2d", 0.0, 40.0, False, True,
                   "compare each window with the kernel", HIDDEN_DETAIL),
        ScoredTest("scale_doubles", "scale", 30.0, 30.0, True, True, "", ""),
    )
    fields: dict[str, Any] = {
        "submission": Path("/uploads/alice.ipynb"), "assignment": "toy", "status": "graded", "reason": "",
        "tests": tests,
        "library_convolutions": {}, "cells": (CellOutcome(0, "ok"), CellOutcome(1, "error", "NameError: name 'y'")),
        "notes": ("cell 2: error: NameError: name 'y'",), "isolation": {"separate_process": True, "restarts": 0},
        "student_output": f"--- cell 1 ---\n{STUDENT_PRINT}\n", "seconds": 1.23456}
    fields.update(overrides)
    return GradeResult(**fields)


def unusable_result() -> GradeResult:
    return GradeResult(submission=Path("/uploads/bob.ipynb"), assignment="toy", status="unusable",
                       reason="is truncated (line 40, column 3: Expecting value)", seconds=0.01,
                       max_score_if_unusable=100.0)


def visible(results: dict[str, Any]) -> str:
    """Everything a student can see: all of results.json except extra_data."""
    shown = {k: v for k, v in results.items() if k != "extra_data"}
    shown["tests"] = [{k: v for k, v in t.items() if k != "extra_data"} for t in results["tests"]]
    return json.dumps(shown)


def test_gradescope_results_use_only_gradescopes_fields() -> None:
    results = gradescope(graded_result())
    assert {"score", "max_score", "execution_time", "output", "tests"} <= set(results) <= TOP_LEVEL_FIELDS
    assert len(results["tests"]) == 4
    for test in results["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(test) <= TEST_FIELDS
        assert test["status"] in {"passed", "failed"}
        assert test["visibility"] in {"hidden", "after_due_date", "after_published", "visible"}
    assert results["stdout_visibility"] == "hidden"


def test_gradescope_scores_and_statuses_follow_the_tests() -> None:
    results = gradescope(graded_result())
    assert (results["score"], results["max_score"], results["execution_time"]) == (50.0, 100.0, 1.235)
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in results["tests"]] == [
        ("corr2d_seed_example", 20.0, 20.0, "passed"), ("corr2d_output_shape", 0.0, 10.0, "failed"),
        ("corr2d_matches_reference", 0.0, 40.0, "failed"), ("scale_doubles", 30.0, 30.0, "passed")]
    assert "50 / 100" in results["output"]


def test_a_hidden_failed_tests_output_is_its_hint_alone() -> None:
    results = gradescope(graded_result())
    hidden = next(t for t in results["tests"] if t["name"] == "corr2d_matches_reference")
    assert hidden["output"] == "compare each window with the kernel"


def test_a_public_failed_tests_output_is_its_message() -> None:
    results = gradescope(graded_result())
    public = next(t for t in results["tests"] if t["name"] == "corr2d_output_shape")
    assert public["output"] == "corr2d(X, K) should have shape (2, 2); yours has (3, 3)"


def test_hidden_details_and_student_output_stay_out_of_the_student_visible_fields() -> None:
    results = gradescope(graded_result())
    shown = visible(results)
    assert "hidden-marker-91b2" not in shown
    assert STUDENT_PRINT not in shown
    assert HIDDEN_DETAIL in json.dumps(results["extra_data"])


def test_student_output_and_details_are_kept_in_extra_data() -> None:
    extra = gradescope(graded_result())["extra_data"]
    assert STUDENT_PRINT in extra["student_output"]
    assert extra["details"]["corr2d_matches_reference"] == HIDDEN_DETAIL
    assert extra["status"] == "graded" and extra["assignment"] == "toy"
    assert extra["cells"] == [{"cell": 1, "status": "ok", "message": ""},
                              {"cell": 2, "status": "error", "message": "NameError: name 'y'"}]


def test_library_convolutions_and_grader_errors_reach_extra_data() -> None:
    tests = (ScoredTest("t", "corr2d", 0.0, 50.0, False, False, "must be written from scratch", "reason"),
             ScoredTest("u", "scale", 0.0, 50.0, False, False, "grader error", "the test itself failed: KeyError",
                        grader_error=True))
    extra = gradescope(graded_result(tests=tests, library_convolutions={"corr2d": ("aten.convolution.default",)})
                       )["extra_data"]
    assert extra["library_convolutions"] == {"corr2d": ["aten.convolution.default"]}
    assert extra["grader_errors"] == ["u: the test itself failed: KeyError"]


def test_an_unusable_submission_scores_zero_with_the_reason_in_the_output() -> None:
    results = gradescope(unusable_result())
    assert (results["score"], results["max_score"], results["tests"]) == (0.0, 100.0, [])
    assert "is truncated" in results["output"] and "bob.ipynb" in results["output"]
    assert set(results) <= TOP_LEVEL_FIELDS
    assert results["extra_data"]["status"] == "unusable"


def test_results_are_strict_json_without_nan_or_infinity() -> None:
    for result in (graded_result(), unusable_result(), graded_result(tests=())):
        text = json.dumps(gradescope(result), allow_nan=False)
        assert json.loads(text)["max_score"] == result.max_score


def test_the_table_lists_each_test_and_the_total() -> None:
    text = table(graded_result())
    lines = text.splitlines()
    assert "alice.ipynb" in lines[0] and "toy" in lines[0]
    for name, points, mark in (("corr2d_seed_example", "20/20", "PASS"), ("corr2d_output_shape", "0/10", "FAIL"),
                               ("corr2d_matches_reference", "0/40", "FAIL"), ("scale_doubles", "30/30", "PASS")):
        (row,) = [line for line in lines if line.startswith(name + " ")]
        assert points in row and mark in row
    assert lines[-1] == "Score: 50 / 100"


def test_the_table_shows_hints_not_hidden_details_nor_student_output() -> None:
    text = table(graded_result())
    assert "[hidden] compare each window with the kernel" in text
    assert "hidden-marker-91b2" not in text and STUDENT_PRINT not in text
    assert "note: cell 2: error" in text


def test_the_table_wraps_long_messages_under_the_message_column() -> None:
    long = "word " * 60
    tests = (ScoredTest("t", "corr2d", 0.0, 100.0, False, False, long.strip(), long),)
    lines = table(graded_result(tests=tests, notes=()), width=80).splitlines()
    body = lines[2:-1]
    assert len(body) > 1
    assert all(len(line) <= 80 for line in body)
    assert " ".join(line.split("FAIL", 1)[-1].strip() for line in body).split() == long.split()


def test_the_table_of_an_unusable_submission_gives_the_reason_and_zero() -> None:
    text = table(unusable_result())
    assert "not graded: is truncated" in text
    assert text.splitlines()[-1] == "Score: 0 / 100"


# JUnit XML as GitLab reads it: https://docs.gitlab.com/ci/testing/unit_test_reports/


def junit_cases(result: GradeResult) -> list[ElementTree.Element]:
    root = ElementTree.fromstring(junit(result))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    return suite.findall("testcase")


def test_junit_has_one_testcase_per_test_named_by_its_function() -> None:
    cases = junit_cases(graded_result())
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("corr2d", "corr2d_seed_example"), ("corr2d", "corr2d_output_shape"),
        ("corr2d", "corr2d_matches_reference"), ("scale", "scale_doubles")]


def test_junit_fails_exactly_the_failed_tests_with_their_points_and_message() -> None:
    cases = {c.get("name"): c for c in junit_cases(graded_result())}
    assert list(cases["corr2d_seed_example"]) == [] and list(cases["scale_doubles"]) == []
    (failure,) = cases["corr2d_output_shape"]
    assert failure.tag == "failure"
    assert failure.text == "0 / 10 points: corr2d(X, K) should have shape (2, 2); yours has (3, 3)"
    assert failure.get("message") == "corr2d(X, K) should have shape (2, 2); yours has (3, 3)"


def test_junit_counts_agree_with_the_testcases() -> None:
    root = ElementTree.fromstring(junit(graded_result()))
    suite = root.find("testsuite")
    assert suite is not None
    for element in (root, suite):
        assert (element.get("tests"), element.get("failures"), element.get("errors")) == ("4", "2", "0")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties == {"assignment": "toy", "score": "50", "max_score": "100"}


def test_junit_shows_a_hidden_tests_hint_never_its_detail_nor_student_output() -> None:
    text = junit(graded_result())
    cases = {c.get("name"): c for c in junit_cases(graded_result())}
    (failure,) = cases["corr2d_matches_reference"]
    assert failure.text == "0 / 40 points: [hidden] compare each window with the kernel"
    assert "hidden-marker-91b2" not in text and STUDENT_PRINT not in text


def test_junit_reports_a_grader_error_as_an_error_not_a_failure() -> None:
    tests = (ScoredTest("u", "scale", 0.0, 100.0, False, False, "could not be run because of a grader error",
                        "the test itself failed: KeyError", grader_error=True),)
    (case,) = junit_cases(graded_result(tests=tests))
    assert [child.tag for child in case] == ["error"]
    assert "KeyError" not in junit(graded_result(tests=tests))


def test_junit_of_an_unusable_submission_is_one_failing_testcase_with_the_reason() -> None:
    (case,) = junit_cases(unusable_result())
    (failure,) = case
    assert failure.tag == "failure" and case.get("name") == "bob.ipynb"
    assert "bob.ipynb was not graded: is truncated" in (failure.text or "")


def test_junit_stays_well_formed_when_a_message_holds_characters_xml_cannot() -> None:
    shouting = "ValueError: \x1b[31mbad\x1b[0m \x00 <tag> & \"quotes\""
    tests = (ScoredTest("t", "corr2d", 0.0, 100.0, False, False, shouting, shouting),)
    (case,) = junit_cases(graded_result(tests=tests))  # parses
    (failure,) = case
    assert "<tag> & \"quotes\"" in (failure.text or "") and "\x1b" not in (failure.text or "")


# GitHub Classroom's autograding result, as education/autograding-grading-reporter reads it.
CLASSROOM_TEST_FIELDS = {"name", "status", "score", "message", "test_code", "filename", "line_no"}


def classroom_points(document: dict[str, Any]) -> tuple[float, float]:
    """What the reporter records in Classroom: the sum of the tests' scores out of max_score."""
    return sum(test["score"] for test in document["tests"]), document["max_score"]


def test_classroom_result_has_the_reporters_fields_and_points_per_test() -> None:
    document = classroom(graded_result())
    assert (document["version"], document["status"]) == (1, "fail")
    assert all(set(test) == CLASSROOM_TEST_FIELDS for test in document["tests"])
    assert [(t["name"], t["status"], t["score"]) for t in document["tests"]] == [
        ("corr2d_seed_example", "pass", 20.0), ("corr2d_output_shape", "fail", 0.0),
        ("corr2d_matches_reference", "fail", 0.0), ("scale_doubles", "pass", 30.0)]
    assert classroom_points(document) == (50.0, 100.0)
    # The reporter prints "line N" for any line_no but 0, and any test_code as the test's code.
    assert all(test["line_no"] == 0 and not test["test_code"] for test in document["tests"])


def test_classroom_shows_a_hidden_tests_hint_never_its_detail_nor_student_output() -> None:
    document = classroom(graded_result())
    hidden = next(t for t in document["tests"] if t["name"] == "corr2d_matches_reference")
    assert hidden["message"] == "[hidden] compare each window with the kernel"
    text = json.dumps(document)
    assert "hidden-marker-91b2" not in text and STUDENT_PRINT not in text


def test_classroom_status_is_pass_only_when_every_test_passes_and_error_on_a_grader_error() -> None:
    passing = tuple(t for t in graded_result().tests if t.passed)
    assert classroom(graded_result(tests=passing))["status"] == "pass"
    broken = (ScoredTest("u", "scale", 0.0, 100.0, False, False, "grader error", "KeyError", grader_error=True),)
    document = classroom(graded_result(tests=broken))
    assert document["status"] == "error" and document["tests"][0]["status"] == "error"


def test_classroom_result_of_an_unusable_submission_is_an_error_with_the_reason_and_zero() -> None:
    document = classroom(unusable_result())
    assert document["status"] == "error" and classroom_points(document) == (0.0, 100.0)
    (test,) = document["tests"]
    assert test["status"] == "error" and "bob.ipynb was not graded: is truncated" in test["message"]


def test_classroom_step_output_is_one_result_line_of_base64_json() -> None:
    document = classroom(graded_result())
    line = classroom_step_output(document)
    name, encoded = line.split("=", 1)
    assert name == "result" and "\n" not in line
    assert json.loads(base64.b64decode(encoded)) == document



def test_results_json_records_the_call_budgets_for_the_staff_only() -> None:
    budgets = CallBudgets({"corr2d": 3.2, "scale": 3.0}, 10.0, "calibrated")
    for result in (graded_result(call_budgets=budgets), graded_result(call_budgets=budgets, status="error")):
        results = gradescope(result)
        assert results["extra_data"]["call_budgets"] == {"source": "calibrated", "ceiling": 10.0,
                                                         "seconds": {"corr2d": 3.2, "scale": 3.0}}
        assert "3.2" not in visible(results)
        json.dumps(results, allow_nan=False)
    # A result that ran nothing, or was recorded before budgets were, has none: readers see no new key.
    assert "call_budgets" not in gradescope(graded_result())["extra_data"]
    assert "call_budgets" not in gradescope(unusable_result())["extra_data"]
