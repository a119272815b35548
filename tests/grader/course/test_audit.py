"""grade audit's parts: mutants of a solution, answers that do nothing, and the audit of the toy assignment.

The toy assignment is unfair on purpose in one way: its `corr2d_shape_law`
(20 points) is satisfied by zeros of the right shape, so its audit must fail
on the answers that do nothing, and on nothing else.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from grader.authoring.testkit import expect_close
from grader.course.audit import AuditOptions, audit, dependents, render
from grader.course.budgets import Calibration, FunctionBudget, write_calibration
from grader.course.do_nothing import KINDS, do_nothing_cells
from grader.course.mutants import mutants
from grader.grading.student import local_student
from grader.host.execute import Limits
from grader.session import Grader

SOLUTION = '''
def corr2d(X, K):
    """Cross-correlation."""
    ### BEGIN SOLUTION
    if X.dim() != 2:
        raise ValueError("2D only")
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
    ### END SOLUTION
'''
LAYER = '''
class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1, 2))
        self.bias = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        ### BEGIN SOLUTION
        return corr2d(x, self.weight) + self.bias
        ### END SOLUTION
'''
GIVEN = "import torch"


def test_mutants_cover_the_bugs_students_write_and_only_the_solution_lines() -> None:
    found = mutants((GIVEN, SOLUTION, LAYER), ("corr2d", "Layer"), per_function=100)
    operators = {m.operator for m in found if m.function == "corr2d"}
    assert {"off-by-one", "swapped axes", "wrong axis", "dropped check", "detached result",
            "flipped kernel", "flipped comparison", "transposed index"} <= operators
    assert {m.operator for m in found if m.function == "Layer"} >= {"dropped bias", "swapped arguments"}
    descriptions = {m.description for m in found}
    assert "range(Y.shape[0]) -> range(Y.shape[0] - 1)" in descriptions
    assert "h, w = K.shape -> w, h = K.shape" in descriptions
    assert all(m.cells[0] == GIVEN for m in found)  # the given code is never mutated
    assert not any("torch.ones(1, 2)" not in m.cells[2] for m in found if m.function == "Layer")  # nor __init__


def test_mutants_are_spread_over_operators_up_to_the_limit() -> None:
    few = mutants((GIVEN, SOLUTION), ("corr2d",), per_function=5)
    assert len(few) == 5 and len({m.operator for m in few}) == 5


def test_a_mutant_really_changes_what_the_function_computes() -> None:
    off_by_one = next(m for m in mutants((GIVEN, SOLUTION), ("corr2d",), per_function=100)
                      if m.description == "range(Y.shape[0]) -> range(Y.shape[0] - 1)")
    names: dict[str, object] = {}
    for source in off_by_one.cells:
        exec(source, names)
    import torch

    Y = names["corr2d"](torch.ones(3, 3), torch.ones(2, 2))  # type: ignore[operator]
    assert Y.tolist() == [[4.0, 4.0], [0.0, 0.0]]


def test_dependents_follow_calls_between_graded_names() -> None:
    assert dependents((GIVEN, SOLUTION, LAYER), ("corr2d", "Layer")) == {"corr2d": {"Layer"}, "Layer": set()}
    through_a_helper = ("def _window_sum(X, K):\n    return corr2d(X, K).sum()",
                        "def total(X):\n    return _window_sum(X, X)")
    assert dependents((SOLUTION, *through_a_helper), ("corr2d", "total"))["corr2d"] == {"total"}


@pytest.mark.parametrize("kind", KINDS)
def test_an_answer_that_does_nothing_keeps_the_shape_and_loses_the_values(kind: str) -> None:
    import torch

    names: dict[str, object] = {}
    for source in do_nothing_cells((GIVEN, SOLUTION, LAYER), ("corr2d", "Layer"), kind):  # type: ignore[arg-type]
        exec(source, names)
    student = local_student(names)
    X = torch.arange(12.0).reshape(3, 4) + 1
    Y = student.corr2d(X, torch.ones(2, 2))
    expect_close(Y, (2, 3), what="the shape")
    assert not torch.allclose(Y, torch.full((2, 3), 4.0) + X[:2, :3] + X[1:, 1:] + X[:2, 1:] + X[1:, :3] - 4)
    run = student.module("Layer", inputs=[X])
    expect_close(run.outputs[0], (3, 3), what="the layer's output shape")
    assert set(run.parameters) == {"weight", "bias"}


@pytest.mark.slow
def test_the_toy_audit_fails_on_the_shape_test_that_zeros_pass_and_on_nothing_else(
        toy_course: Path, grader: Grader) -> None:
    # Calibrated for another version of its tests: the audit says so, and grading falls back to the ceiling.
    stale = Calibration("0123456789abcdef", "fedcba9876543210", {"corr2d": FunctionBudget(1.0, 0.01, "toy.ipynb")})
    write_calibration(toy_course / "toy", stale)
    report = audit("toy", grader,
                   AuditOptions(jobs=2, per_function=6, limits=Limits(call_timeout=5.0)))
    verdicts = {c.name: c.verdict for c in report.checks}
    failed = {name for name, verdict in verdicts.items() if verdict == "fail"}
    assert failed == {"does nothing: zeros", "does nothing: constant", "does nothing: top-left copy of the input",
                      "does nothing: random values", "call budgets are calibrated"}, render(report)
    calibration = next(c for c in report.checks if c.name == "call budgets are calibrated")
    assert calibration.detail.startswith("toy/budgets.json is stale: it was measured for version 0123456789abcdef")
    assert calibration.detail.endswith("run 'grade calibrate toy'") and "\n" not in calibration.detail
    timing = next(c for c in report.checks if c.name == "time: calls within their budgets")
    assert (timing.verdict, "of its 5 s" in timing.detail) == ("pass", True), timing.detail  # the ceiling's
    zeros = next(c for c in report.checks if c.name == "does nothing: zeros")
    assert zeros.detail.startswith("20 / 100, at most 10") and "corr2d_shape_law (20)" in zeros.detail
    assert {"teaching notebook scores 100", "released stub scores 0", "accepted/same_as_taught.ipynb scores 100",
            "mutants of corr2d", "mutants of scale", "determinism: graded twice",
            "determinism: another course secret"} <= set(verdicts)
    assert not report.passed
    table = render(report)
    assert table.startswith("audit of toy: FAIL") and "mutation score" in table


@pytest.mark.slow
def test_a_mutant_may_cost_a_function_built_on_it(toy_course: Path, grader: Grader) -> None:
    # scale's solution made to call corr2d through a helper: a corr2d mutant may now cost scale too.
    notebook_path = toy_course / "toy" / "toy.ipynb"
    notebook = nbformat.read(notebook_path, as_version=4)
    notebook.cells[-1].source = ("def _twice(x):\n    return corr2d(x[None], torch.full((1, 1), 2.0))[0]\n\n"
                                 + notebook.cells[-1].source.replace("return 2 * x", "return _twice(x)"))
    nbformat.write(notebook, notebook_path)
    report = audit("toy", grader, AuditOptions(jobs=2, per_function=8))
    corr2d_mutants = [v for v in report.mutants if v.mutant.function == "corr2d"]
    assert any("scale" in v.lost for v in corr2d_mutants)
    assert all(v.outcome != "collateral" for v in corr2d_mutants), render(report, verbose=True)


@pytest.mark.slow
def test_a_test_that_charges_one_function_for_anothers_bug_fails_the_audit(
        toy_course: Path, grader: Grader) -> None:
    hidden = toy_course / "toy" / "hidden_tests.py"
    hidden.write_text(hidden.read_text().replace(
        '    expect_close(student.scale(x), 2 * x, what="scale(x)")',
        '    expect_close(student.scale(x), 2 * x, what="scale(x)")\n'
        '    expect_close(student.corr2d(x[None], torch.ones(1, 1)), x[None], what="corr2d, in a test of scale")'))
    report = audit("toy", grader, AuditOptions(jobs=2, per_function=8))
    collateral = [v for v in report.mutants if v.outcome == "collateral"]
    assert collateral and all(v.mutant.function == "corr2d" and "scale" in v.lost for v in collateral)
    check = next(c for c in report.checks if c.name == "mutants of corr2d")
    assert check.verdict == "fail" and "collateral" in check.detail
