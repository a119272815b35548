"""The worker's clock: a call's budget counts what the worker computes, not how long it waits for a core."""

from __future__ import annotations

import os
import time

import pytest
import torch

from grader.authoring.testkit import StudentFailure
from grader.grading.student import StudentProxy
from grader.host.execute import Execution, Zygote
from grader.host.worker_clock import WorkerClock
from grader.records import CallBudgets
from tests.helpers import FAST

WAITS_OR_COMPUTES = """
import time
def waits(X):
    time.sleep(1.5)  # as a call does that waits for a core on a loaded machine
    return X
def computes(X):
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        pass
    return X
"""


def test_a_call_that_waits_is_not_cut_at_its_budget_and_one_that_computes_is(zygote: Zygote) -> None:
    budgets = CallBudgets({"waits": 1.0, "computes": 0.5}, 10.0, "calibrated")  # waits: 1.5 s, within 2 x 1 s
    with Execution(zygote, (WAITS_OR_COMPUTES,), seed=1, limits=FAST, budgets=budgets) as execution:
        execution.run_notebook()
        student = StudentProxy(execution.call, from_scratch=frozenset())
        assert student.call("waits", torch.ones(2)).tolist() == [1.0, 1.0]
        started = time.monotonic()
        with pytest.raises(StudentFailure, match=r"within 0\.5 s of computing"):
            student.call("computes", torch.ones(2))
        assert time.monotonic() - started < 1.4  # cut once it had computed for its budget, not at its end
    sleeper = CallBudgets({"waits": 0.5}, 10.0, "calibrated")
    with Execution(zygote, (WAITS_OR_COMPUTES,), seed=1, limits=FAST, budgets=sleeper) as execution:
        execution.run_notebook()
        started = time.monotonic()
        with pytest.raises(StudentFailure, match=r"within 0\.5 s of computing"):
            StudentProxy(execution.call, from_scratch=frozenset()).call("waits", torch.ones(2))
        assert time.monotonic() - started < 1.4  # a call that only waits stops at twice its budget


def test_the_clock_reads_the_child_that_runs_student_code_and_nothing_once_it_is_gone() -> None:
    leader = os.fork()
    if leader == 0:  # a session leader that waits, and under it the worker, which computes
        worker = os.fork()
        if worker == 0:
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                pass
            os._exit(0)
        os.waitpid(worker, 0)
        os._exit(0)
    time.sleep(0.3)
    clock = WorkerClock(leader)
    first = clock.seconds()
    time.sleep(0.3)
    second = clock.seconds()
    os.waitpid(leader, 0)
    assert first is not None and second is not None and second - first > 0.1  # the worker's, not the leader's
    assert clock.seconds() is None
