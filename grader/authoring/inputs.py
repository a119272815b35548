"""Drawing a test's random inputs from its `rng`, and naming them in its messages.

Every draw goes through the test's `torch.Generator`, so one seed always gives
one set of inputs: a student's score never depends on luck.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def random_int(rng: torch.Generator, low: int, high: int) -> int:
    """A random int in [low, high], both included: one draw from `rng`."""
    return int(torch.randint(low, high + 1, (), generator=rng))


def shape_text(shape: Iterable[int]) -> str:
    """A shape as a message names it: "7x9" for a 7x9 X (`shape_text(X.shape)`)."""
    return "x".join(str(int(n)) for n in shape)
