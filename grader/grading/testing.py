"""Test stage: run an assignment's tests against a Student, each with its own seed.

Runs in the grader's process. A wrong answer, an exception from student code,
a timeout: each is one test's outcome, and the next test runs. An exception
from the test's own code is a defect of the assignment, recorded as a grader
error so that it is never silently charged to the student.

A public test's comparisons (grader.authoring.comparison) ride on its outcome, for the
student's feedback page; a hidden test's are never collected at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch

from grader.authoring.comparison import collecting
from grader.authoring.testkit import GradedTest, Student, StudentFailure, TestFailure
from grader.records import StepListener, TestOutcome, TestStatus
from grader.worker.quote import MESSAGE_LIMIT, cut

# (tests, student, seed_for) -> their outcomes: how the pipeline runs an assignment's tests.
TestRunner = Callable[[Sequence[GradedTest], Student, Callable[[str], int]], tuple[TestOutcome, ...]]


def run_tests(tests: Sequence[GradedTest], student: Student, seed_for: Callable[[str], int], *,
              on_step: StepListener | None = None) -> tuple[TestOutcome, ...]:
    outcomes = []
    for test in tests:
        if on_step is not None:
            on_step(f"test {test.name}")
        outcomes.append(run_test(test, student, seed_for(test.name)))
    return tuple(outcomes)


def run_test(test: GradedTest, student: Student, seed: int) -> TestOutcome:
    rng = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    # A hidden test runs with collecting shut, not merely unread: its inputs and
    # expected values are never copied anywhere a report could pick them up.
    with collecting(enabled=not test.hidden) as comparisons:
        status, message = _run(test, student, rng)
    return TestOutcome(test, status, message, time.perf_counter() - started,
                       () if test.hidden else tuple(comparisons))


def _run(test: GradedTest, student: Student, rng: torch.Generator) -> tuple[TestStatus, str]:
    try:
        test(student, rng)
    except Exception as error:  # noqa: BLE001 - verdict() tells the student's failure from the test's defect
        return verdict(error)
    return verdict(None)


def verdict(error: Exception | None) -> tuple[TestStatus, str]:
    """How a test that raised `error` (None: it returned) counts: its status and message."""
    if error is None:
        return "passed", ""
    if isinstance(error, (TestFailure, StudentFailure)):
        return "failed", error.message
    # A defect in the test, not the student's fault. Its text may quote a
    # student's value (a KeyError on a returned dict's key).
    return "grader_error", cut(f"the test itself failed: {type(error).__name__}: {error}", MESSAGE_LIMIT)
