"""Describing what a student's function returned: by type and size, bounded, whatever the value."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from grader.worker.returns import NAME_LIMIT, described, not_plain, tensor_expected


@pytest.mark.parametrize(("value", "expected"), [
    (None, "None"), (True, "a bool (True)"), (3, "an int (3)"), (0.5, "a float (0.5)"),
    ("abc", "a str of 3 characters"),
    ([], "a list of 0 items"), ([1], "a list of 1 item (an int (1))"),
    ((1, 2, 3, 4), "a tuple of 4 items (an int (1), an int (2), an int (3), ...)"), ({"a": 1}, "a dict of 1 key"),
    ([[1, 2]], "a list of 1 item (a list of 2 items)"), (torch.ones(2, 3), "a torch.Tensor of shape (2, 3)"),
    (np.zeros((4,), dtype=np.int32), "a numpy.ndarray of shape (4,) and dtype int32"),
    (np.float64(1.5), "a numpy.float64 (1.5)"), (object(), "an object"), (10 ** 100, None),
])
def test_a_value_is_described_by_its_type_and_size(value: Any, expected: str | None) -> None:
    if expected is None:
        assert described(value).startswith("an int (1000") and "characters cut" in described(value)
    else:
        assert described(value) == expected


def test_a_long_string_is_described_by_its_length_only() -> None:
    assert described("secret" * 100_000) == "a str of 600000 characters"


def test_an_object_whose_attributes_raise_is_still_described() -> None:
    class Sneaky:
        def __getattribute__(self, name: str) -> Any:
            raise RuntimeError("no")

    Sneaky.__module__ = "numpy"
    sneaky = Sneaky()
    text, message = described(sneaky), tensor_expected(sneaky)
    assert text == "an object that cannot be described"
    assert message.startswith(f"returned {text}; expected a torch.Tensor")


def test_a_type_name_is_escaped_and_cut() -> None:
    hostile = type("A\n\r\x07\u202e" + "b" * 500, (), {})
    hostile.__module__ = "m"
    text = described(hostile())
    assert text.isprintable() and text.isascii() and "\\n" in text and len(text) <= NAME_LIMIT + 6


def test_not_plain_suggests_torch_from_numpy_for_an_array_only() -> None:
    assert "torch.from_numpy" in not_plain(np.ones(2))
    assert "torch.from_numpy" not in not_plain(object())
    assert not_plain(np.ones(2), " inside the list it returned").startswith(
        "returned a numpy.ndarray of shape (2,) and dtype float64 inside the list it returned")
