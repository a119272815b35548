"""Reading a student's answer that is more than one tensor, before the test checks its parts.

Each reader raises `TestFailure` saying what is off with the answer's form, so
that a test goes on only with parts of the types it needs.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.authoring.testkit import TestFailure


def weight_and_losses(result: Any, call: str, *, as_floats: bool = True) -> tuple[torch.Tensor, list[Any]]:
    """(weight, losses) from a training function's answer, such as `learn_kernel`'s.

    `call` names the call in the student's terms. By default the losses may be a
    list or a tuple of numbers or one-value tensors, and come back as floats, for
    a test that computes with them; their exact type is one test's business.
    With `as_floats=False` they must be a list, of anything, and come back as
    they are, for a test that only counts them."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TestFailure(f"{call} should return a pair (weight, losses); yours returned {type(result).__name__}"
                          + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
    weight, losses = result
    if not isinstance(weight, torch.Tensor):
        raise TestFailure(f"the weight that {call} returns should be a tensor; yours is {type(weight).__name__}")
    if not as_floats:
        if not isinstance(losses, list):
            raise TestFailure(f"the losses that {call} returns should be a list; yours are {type(losses).__name__}")
        return weight, losses
    if not isinstance(losses, (list, tuple)) or not all(
            isinstance(v, (int, float)) or (isinstance(v, torch.Tensor) and v.numel() == 1) for v in losses):
        raise TestFailure(f"the losses that {call} returns should be a list of numbers; "
                          f"yours are {type(losses).__name__}")
    return weight, [float(v) for v in losses]
