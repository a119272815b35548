"""weight_and_losses: a training function's (weight, losses), or a TestFailure saying what is off."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from grader.authoring.answers import weight_and_losses
from grader.authoring.testkit import TestFailure

CALL = "learn_kernel(X, Y, (1, 2))"
WEIGHT = torch.tensor([[1.0, -1.0]])


def failure(result: Any, *, as_floats: bool = True) -> str:
    with pytest.raises(TestFailure) as raised:
        weight_and_losses(result, CALL, as_floats=as_floats)
    return raised.value.message


def test_losses_as_numbers_or_one_value_tensors_come_back_as_floats() -> None:
    weight, losses = weight_and_losses((WEIGHT, [3, 2.5, torch.tensor(1.0), torch.tensor([0.5])]), CALL)
    assert weight is WEIGHT
    assert losses == [3.0, 2.5, 1.0, 0.5] and all(type(v) is float for v in losses)
    assert weight_and_losses([WEIGHT, (1.0, 0.5)], CALL)[1] == [1.0, 0.5]  # a list pair, a tuple of losses


@pytest.mark.parametrize("as_floats", [True, False])
def test_an_answer_that_is_not_a_pair_with_a_tensor_weight_fails_saying_so(as_floats: bool) -> None:
    assert failure(WEIGHT, as_floats=as_floats) == (
        f"{CALL} should return a pair (weight, losses); yours returned Tensor")
    assert failure((WEIGHT, [1.0], 2), as_floats=as_floats) == (
        f"{CALL} should return a pair (weight, losses); yours returned tuple of length 3")
    assert failure(([[1.0, -1.0]], [1.0]), as_floats=as_floats) == (
        f"the weight that {CALL} returns should be a tensor; yours is list")


def test_losses_that_are_not_numbers_fail_when_the_test_computes_with_them() -> None:
    expected = f"the losses that {CALL} returns should be a list of numbers; yours are "
    assert failure((WEIGHT, 1.0)) == expected + "float"
    assert failure((WEIGHT, [1.0, "0.5"])) == expected + "list"
    assert failure((WEIGHT, [torch.ones(2)])) == expected + "list"


def test_without_floats_the_losses_must_be_a_list_and_come_back_as_they_are() -> None:
    losses = ["3.0", torch.ones(2)]
    weight, kept = weight_and_losses((WEIGHT, losses), CALL, as_floats=False)
    assert weight is WEIGHT and kept is losses
    assert failure((WEIGHT, (1.0, 0.5)), as_floats=False) == (
        f"the losses that {CALL} returns should be a list; yours are tuple")
