"""`grade calibrate`: budgets measured from the accepted answers, and what they save on a looping submission."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from grader.course.assignment import load_assignment
from grader.course.budgets import FLOOR, budget_for, calibration_problem, read_calibration, write_calibration
from grader.course.calibrate import calibrate
from grader.errors import AssignmentError
from grader.host.execute import Limits
from grader.report.formats import gradescope
from grader.session import Grader
from tests.helpers import SCALE, MakeNotebook

LOOPING_CORR2D = "import torch\ndef corr2d(X, K):\n    while True:\n        pass"


@pytest.mark.slow
def test_calibrating_measures_every_tested_name_on_the_accepted_answers(toy_course: Path, grader: Grader) -> None:
    calibration = calibrate("toy", grader)
    definition = load_assignment("toy")
    assert (calibration.digest, calibration.public_digest) == (definition.digest, definition.public_digest)
    assert set(calibration.functions) == {"corr2d", "scale"}
    for budget in calibration.functions.values():
        assert 0 <= budget.slowest_call < 1.0 and budget.seconds == budget_for(budget.slowest_call) >= FLOOR
        assert budget.answer in ("toy.ipynb", "accepted/same_as_taught.ipynb")
    write_calibration(toy_course / "toy", calibration)
    assert read_calibration(toy_course / "toy") == calibration
    assert calibration_problem(load_assignment("toy")) is None


@pytest.mark.slow
def test_an_accepted_answer_that_fails_cannot_calibrate(toy_course: Path, grader: Grader) -> None:
    accepted = toy_course / "toy" / "accepted" / "same_as_taught.ipynb"
    accepted.write_text(accepted.read_text().replace("2 * x", "3 * x"))
    with pytest.raises(AssignmentError, match=r"cannot calibrate toy: accepted/same_as_taught.ipynb scores 80"):
        calibrate("toy", grader)


@pytest.mark.slow
def test_a_looping_corr2d_costs_its_budget_not_the_call_timeout_and_scores_the_same(
        toy_course: Path, grader: Grader, make_notebook: MakeNotebook) -> None:
    write_calibration(toy_course / "toy", calibrate("toy", grader))
    looping = make_notebook(LOOPING_CORR2D, SCALE, assignment="toy")
    results, seconds = {}, {}
    for how, limits in (("calibrated", Limits(call_timeout=10.0)),
                        ("fixed", Limits(call_timeout=10.0, fixed_call_timeout=True))):
        started = time.monotonic()
        results[how] = grader.grade(looping, limits=limits)
        seconds[how] = time.monotonic() - started
    calibrated, fixed = results["calibrated"], results["fixed"]
    corr2d_budget = calibrated.call_budgets.of("corr2d") if calibrated.call_budgets else None
    assert corr2d_budget == FLOOR and fixed.call_budgets is not None and fixed.call_budgets.of("corr2d") == 10.0
    assert seconds["fixed"] >= 10.0 and seconds["calibrated"] < seconds["fixed"] - 5.0, seconds
    assert [(t.name, t.score, t.passed) for t in calibrated.tests] == [(t.name, t.score, t.passed)
                                                                       for t in fixed.tests]
    assert [t.detail for t in calibrated.tests if t.function != "corr2d"] == [
        t.detail for t in fixed.tests if t.function != "corr2d"]
    assert calibrated.score == fixed.score == 20.0  # scale's, and nothing of the loop's
    extra = gradescope(calibrated)["extra_data"]["call_budgets"]
    assert extra == {"source": "calibrated", "ceiling": 10.0, "seconds": {"corr2d": FLOOR, "scale": FLOOR}}
    assert gradescope(fixed)["extra_data"]["call_budgets"]["source"] == "fixed"
