"""random_int and shape_text: what the assignments' tests draw their inputs with and name them by."""

from __future__ import annotations

import torch

from grader.authoring.inputs import random_int, shape_text


def test_random_int_is_one_draw_of_torch_randint_with_both_ends_included() -> None:
    # The assignments' tests drew ints this way before the helper: their inputs, and so their scores, stay.
    ours, theirs = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    drawn = [random_int(ours, 2, 5) for _ in range(200)]
    assert drawn == [int(torch.randint(2, 6, (), generator=theirs)) for _ in range(200)]
    assert set(drawn) == {2, 3, 4, 5}
    assert torch.equal(ours.get_state(), theirs.get_state())


def test_random_int_of_one_value_still_draws() -> None:
    rng, untouched = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert random_int(rng, 4, 4) == 4
    # No shortcut when low == high: the draws after it stay where they were.
    assert not torch.equal(rng.get_state(), untouched.get_state())


def test_shape_text_names_a_shape_as_messages_do() -> None:
    assert shape_text(torch.ones(7, 9).shape) == "7x9"
    assert shape_text((2, 3, 1, 1)) == "2x3x1x1"
    assert shape_text(torch.Size([5])) == "5"
