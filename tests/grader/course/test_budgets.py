"""Call budgets: budgets.json's round trip, what makes it stale, and the budgets a grade runs under."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.course.assignment import load_assignment
from grader.course.budgets import (
    BUDGETS_FILE,
    FLOOR,
    MULTIPLE,
    Calibration,
    FunctionBudget,
    budget_for,
    calibration_problem,
    in_force,
    read_calibration,
    write_calibration,
)
from grader.errors import AssignmentError
from grader.host.execute import Limits
from grader.host.paths import PROJECT_ROOT
from grader.records import CallBudgets
from tests.helpers import select_course

BUNDLED = ("channels", "convolution", "cross_correlation", "padding_stride", "pooling")


def calibrated(toy: Path, corr2d: float = 2.5, scale: float = 1.0) -> Calibration:
    definition = load_assignment(toy.name)
    return Calibration(definition.digest, definition.public_digest,
                       {"corr2d": FunctionBudget(corr2d, corr2d / MULTIPLE, "accepted/same_as_taught.ipynb"),
                        "scale": FunctionBudget(scale, 0.001, "toy.ipynb")})


def test_a_budget_is_a_multiple_of_the_slowest_call_rounded_up_and_never_under_the_floor() -> None:
    assert budget_for(0.0) == budget_for(0.05) == FLOOR == 3.0
    assert budget_for(0.16) == 3.2
    assert budget_for(0.1601) == 3.3  # rounded up, never down
    assert budget_for(1.0) == MULTIPLE


def test_budgets_json_reads_back_what_was_written(toy_course: Path) -> None:
    calibration = calibrated(toy_course / "toy")
    path = write_calibration(toy_course / "toy", calibration)
    assert path == toy_course / "toy" / BUDGETS_FILE
    assert read_calibration(toy_course / "toy") == calibration
    document = json.loads(path.read_text())
    assert (document["floor"], document["multiple"], list(document["functions"])) == (FLOOR, MULTIPLE,
                                                                                       ["corr2d", "scale"])


def test_no_budgets_json_is_none_and_grading_falls_back_to_the_call_timeout(toy_course: Path) -> None:
    definition = load_assignment("toy")
    assert definition.calibration is None
    problem = calibration_problem(definition)
    assert problem == ("toy/budgets.json is missing: every call gets the course's call_timeout; "
                       "run 'grade calibrate toy'")
    assert in_force(definition, Limits(call_timeout=7.0)) == CallBudgets({"corr2d": 7.0, "scale": 7.0}, 7.0,
                                                                         "uncalibrated")


def test_a_current_calibration_is_in_force_capped_by_the_call_timeout(toy_course: Path) -> None:
    write_calibration(toy_course / "toy", calibrated(toy_course / "toy", corr2d=12.0))
    definition = load_assignment("toy")
    assert calibration_problem(definition) is None
    budgets = in_force(definition, Limits(call_timeout=10.0))
    assert budgets == CallBudgets({"corr2d": 10.0, "scale": 1.0}, 10.0, "calibrated")
    assert budgets.of("a_helper_the_tests_call") == 10.0  # a name it never measured: the ceiling


def test_call_timeout_given_on_the_command_line_is_every_call_s_budget(toy_course: Path) -> None:
    write_calibration(toy_course / "toy", calibrated(toy_course / "toy"))
    fixed = Limits(call_timeout=4.0, fixed_call_timeout=True)
    assert in_force(load_assignment("toy"), fixed) == CallBudgets({"corr2d": 4.0, "scale": 4.0}, 4.0, "fixed")


def test_changing_a_test_makes_the_calibration_stale_and_puts_the_ceiling_in_force(toy_course: Path) -> None:
    folder = toy_course / "toy"
    write_calibration(folder, calibrated(folder))
    hidden = folder / "hidden_tests.py"
    hidden.write_text(hidden.read_text() + "\n# a changed hidden test\n")
    definition = load_assignment("toy")
    problem = calibration_problem(definition)
    assert problem is not None and problem.startswith("toy/budgets.json is stale: it was measured for version ")
    assert in_force(definition, Limits(call_timeout=6.0)).source == "uncalibrated"
    # The public tests are unchanged: a --public grade still runs under the calibration.
    public = load_assignment("toy", public_only=True)
    assert calibration_problem(public) is None
    assert in_force(public, Limits(call_timeout=6.0)).seconds == {"corr2d": 2.5, "scale": 1.0}


@pytest.mark.parametrize("text", ["not json", '{"format": 2}', '{"format": 1, "digest": "x"}',
                                  ('{"format": 1, "digest": "x", "public_digest": "y", "functions": '
                                   '{"corr2d": {"seconds": -1, "slowest_call": 0.1, "answer": "a"}}}')],
                         ids=["not_json", "another_format", "no_functions", "negative_budget"])
def test_a_malformed_budgets_json_is_a_broken_assignment_that_says_how_to_mend_it(toy_course: Path,
                                                                                  text: str) -> None:
    (toy_course / "toy" / BUDGETS_FILE).write_text(text)
    with pytest.raises(AssignmentError, match=r"budgets.json cannot be read .*run 'grade calibrate toy'"):
        load_assignment("toy")


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_assignment_carries_a_current_calibration(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    select_course(monkeypatch, PROJECT_ROOT)
    definition = load_assignment(name)
    assert calibration_problem(definition) is None
    assert definition.calibration is not None
    assert set(definition.calibration.functions) >= set(definition.functions)
    for function, budget in definition.calibration.functions.items():
        assert budget.seconds == budget_for(budget.slowest_call), function
        assert (PROJECT_ROOT / "assignments" / name / budget.answer).is_file()
