"""The shape of a JSON text, measured before json.loads sees it."""

from __future__ import annotations

import json

from grader.worker.json_shape import Shape, shape


def test_the_shape_of_a_document() -> None:
    assert shape(b'{"a": [1, 2, {"b": []}], "c": "x"}') == Shape(deepest=4, left_open=0, containers=4, objects=2,
                                                                   values=7)


def test_brackets_and_escaped_quotes_inside_strings_do_not_count() -> None:
    text = json.dumps({"k": "[{" * 100 + '\\"]' + '"' * 3}).encode()
    assert shape(text) == Shape(deepest=1, left_open=0, containers=1, objects=1, values=1)


def test_a_text_cut_short_or_over_closed_says_so() -> None:
    assert shape(b"[[1, [2").left_open == 3
    assert shape(b"[]]]").left_open == -2


def test_depth_is_measured_without_recursion_across_chunks() -> None:
    depth = 3 << 20  # more than one of the scan's chunks
    assert shape(b"[" * depth + b"]" * depth).deepest == depth
