"""Quoting what a worker sent: short text as it is, long text cut to its limit with a marker."""

from __future__ import annotations

import re

import pytest

from grader.worker.quote import QUOTE_LIMIT, cut


@pytest.mark.parametrize("text", ["", "short", "x" * QUOTE_LIMIT])
def test_text_within_the_limit_is_quoted_whole(text: str) -> None:
    assert cut(text) == text


@pytest.mark.parametrize("length", [QUOTE_LIMIT + 1, 10 * QUOTE_LIMIT, 10**7])
def test_long_text_keeps_its_start_and_end_and_says_how_much_was_cut(length: int) -> None:
    text = "<" + "m" * (length - 2) + ">"
    quoted = cut(text)
    assert len(quoted) <= QUOTE_LIMIT
    assert quoted.startswith("<mmm") and quoted.endswith("mmm>")
    removed = int(re.search(r"\[\.\.\.(\d+) characters cut\.\.\.\]", quoted).group(1))  # type: ignore[union-attr]
    assert removed == length - (len(quoted) - len(f" [...{removed} characters cut...] "))


def test_a_limit_of_its_own_is_kept() -> None:
    assert len(cut("y" * 5000, 120)) <= 120
