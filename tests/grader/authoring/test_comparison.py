"""Comparisons recorded by expect_close: only inside an open collector, small, detached copies."""

from __future__ import annotations

import pytest
import torch

from grader.authoring.comparison import (
    MAX_LEADING,
    MAX_PER_TEST,
    MAX_PLANES,
    MAX_SIDE,
    MAX_VALUES_PER_TEST,
    Comparison,
    collecting,
)
from grader.authoring.testkit import TestFailure, expect_close


def test_nothing_is_recorded_without_an_open_collector() -> None:
    with collecting(enabled=True) as before:
        pass
    expect_close(torch.ones(2), torch.ones(2), what="outside")
    with collecting(enabled=True) as after:
        pass
    assert before == [] and after == []


def test_a_shut_collector_keeps_nothing_even_inside_an_open_one() -> None:
    with collecting(enabled=True) as outer:
        expect_close(torch.ones(2), torch.ones(2), what="outer")
        with collecting(enabled=False) as inner:
            expect_close(torch.ones(3), torch.ones(3), what="hidden")
        expect_close(torch.zeros(1), torch.zeros(1), what="outer again")
    assert inner == []
    assert [c.label for c in outer] == ["outer", "outer again"]


def test_a_value_comparison_keeps_both_values_and_its_tolerance() -> None:
    expected = torch.tensor([[19.0, 25.0], [37.0, 43.0]])
    with collecting(enabled=True) as comparisons, pytest.raises(TestFailure, match="wrong in 4 of 4 values"):
        expect_close(torch.zeros(2, 2), expected, what="corr2d(X, K)")
    (comparison,) = comparisons
    assert (comparison.label, comparison.verdict, comparison.expected_shape, comparison.actual_shape) == (
        "corr2d(X, K)", "wrong_values", (2, 2), (2, 2))
    assert comparison.expected is not None and comparison.actual is not None
    assert torch.equal(comparison.expected, expected.double())
    assert torch.equal(comparison.actual, torch.zeros(2, 2, dtype=torch.float64))
    assert comparison.rtol > 0 and comparison.atol > 0 and not comparison.truncated and not comparison.matched


@pytest.mark.parametrize(("actual", "expected", "verdict"), [
    ([[1.0]], torch.ones(1, 1), "not_a_tensor"),
    (torch.ones(3, 3), torch.ones(2, 2), "wrong_shape"),
    (torch.ones(2, 2, dtype=torch.int64), torch.ones(2, 2), "not_floating"),
    (torch.ones(2, 2), (2, 2), "match"),
    (torch.ones(2, 2), torch.ones(2, 2), "match"),
], ids=["not_a_tensor", "wrong_shape", "not_floating", "shape_only", "match"])
def test_every_verdict_is_recorded(actual: object, expected: torch.Tensor | tuple[int, ...], verdict: str) -> None:
    with collecting(enabled=True) as comparisons:
        try:
            expect_close(actual, expected, what="f(x)")
        except TestFailure:
            assert verdict != "match"
    (comparison,) = comparisons
    assert comparison.verdict == verdict
    assert (comparison.actual is None) == (verdict == "not_a_tensor")
    assert (comparison.expected is None) == isinstance(expected, tuple)


def test_values_are_detached_float64_copies_cut_to_their_start() -> None:
    big = torch.randn(6, 5, 100, 70, requires_grad=True)
    with collecting(enabled=True) as comparisons:
        expect_close(big * 1, big.detach().clone(), what="big")
    (comparison,) = comparisons
    assert comparison.actual is not None and comparison.expected is not None
    assert comparison.actual.shape == (MAX_LEADING, MAX_LEADING, MAX_SIDE, MAX_SIDE)
    assert comparison.expected_shape == (6, 5, 100, 70) and comparison.truncated
    assert comparison.actual.dtype == torch.float64 and not comparison.actual.requires_grad
    assert torch.equal(comparison.actual, big.detach()[:MAX_LEADING, :MAX_LEADING, :MAX_SIDE, :MAX_SIDE].double())
    with torch.no_grad():
        big.zero_()
    assert bool(comparison.actual.abs().sum() > 0)  # a copy, not a view of the test's tensor


def test_a_tensor_of_many_dimensions_keeps_at_most_max_planes_planes() -> None:
    many = torch.ones([2] * 16 + [3, 3])  # 65,536 planes, each at most MAX_LEADING long
    with collecting(enabled=True) as comparisons, pytest.raises(TestFailure):
        expect_close(many, torch.zeros(3, 3), what="f(x)")
    (comparison,) = comparisons
    assert comparison.actual is not None and comparison.truncated
    assert comparison.actual.numel() <= MAX_PLANES * 9 and comparison.actual.shape[-2:] == (3, 3)
    assert comparison.actual_shape == tuple(many.shape)


@pytest.mark.slow
def test_the_values_one_test_keeps_are_bounded_in_all() -> None:
    with collecting(enabled=True) as comparisons:
        for i in range(MAX_PER_TEST):
            expect_close(torch.ones(MAX_PLANES, MAX_SIDE, MAX_SIDE), torch.ones(MAX_PLANES, MAX_SIDE, MAX_SIDE),
                         what=f"call {i}")
        with pytest.raises(TestFailure):
            expect_close(torch.ones(2), torch.zeros(2), what="the failure")
    kept = sum(t.numel() for c in comparisons for t in (c.expected, c.actual) if t is not None)
    assert kept <= MAX_VALUES_PER_TEST < MAX_PER_TEST * 2 * MAX_PLANES * MAX_SIDE * MAX_SIDE
    assert comparisons[-1].label == "the failure"  # the newest, with the failure, are the ones kept


def test_a_test_that_compares_in_a_loop_keeps_its_last_comparisons() -> None:
    last = MAX_PER_TEST + 4
    with collecting(enabled=True) as comparisons:
        for i in range(last):
            expect_close(torch.full((1,), float(i)), torch.full((1,), float(i)), what=f"call {i}")
        with pytest.raises(TestFailure):
            expect_close(torch.full((1,), float(last)), torch.zeros(1), what=f"call {last}")
    assert len(comparisons) == MAX_PER_TEST
    assert comparisons[-1].label == f"call {MAX_PER_TEST + 4}" and comparisons[-1].verdict == "wrong_values"


def test_comparisons_are_equal_by_value() -> None:
    def made() -> Comparison:
        with collecting(enabled=True) as comparisons, pytest.raises(TestFailure):
            expect_close(torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]), what="x")
        return comparisons[0]

    first, second = made(), made()
    assert first == second and hash(first) == hash(second)
    assert first != Comparison("x", "wrong_values", (2,), (2,), first.expected, torch.zeros(2, dtype=torch.float64))
