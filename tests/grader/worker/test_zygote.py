"""The zygote: what its workers find paid for already."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.grading.student import StudentProxy
from grader.host.execute import Execution
from grader.session import Grader
from tests.helpers import FAST, TESTS_SECRET

LOADED = "import sys\ndef loaded(name):\n    return name in sys.modules"


def loaded_in_a_fresh_worker(grader: Grader, module: str, *cells: str) -> bool:
    with Execution(grader.zygote(), (LOADED, *cells), seed=1, limits=FAST) as execution:
        execution.run_notebook()
        return bool(StudentProxy(execution.call, from_scratch=frozenset()).call("loaded", module))


@pytest.mark.slow
def test_a_zygote_for_many_submissions_has_paid_for_the_optimizers(course: Path) -> None:
    with Grader(secret=TESTS_SECRET, many_submissions=True) as many, Grader(secret=TESTS_SECRET) as one:
        assert loaded_in_a_fresh_worker(many, "torch._dynamo")  # the first torch.optim.SGD, a second each
        assert not loaded_in_a_fresh_worker(one, "torch._dynamo")  # one submission pays only what it uses
        assert loaded_in_a_fresh_worker(one, "sympy")  # autograd's first backward, paid by every zygote


@pytest.mark.slow
def test_a_worker_whose_notebook_trains_pays_for_the_optimizers_before_its_first_call(grader: Grader) -> None:
    # So that the first torch.optim.SGD, a second, never counts against a call's budget of a second or so.
    trains = "def learn(weight, lr):\n    return torch.optim.SGD([weight], lr=lr)"
    assert loaded_in_a_fresh_worker(grader, "torch._dynamo", trains)
