"""The score stage: outcomes and from-scratch evidence -> points and what the student may read."""

from __future__ import annotations

import dataclasses

import torch

from grader.authoring.comparison import Comparison
from grader.authoring.testkit import GradedTest, Student
from grader.grading.score import Score, score
from grader.records import TestOutcome
from grader.records import (
    TestScore as ScoredTest,  # aliased: pytest would try to collect Test*
)


def body(student: Student, rng: torch.Generator) -> None:
    return None


def graded(name: str, function: str = "corr2d", points: float = 10.0, *, hidden: bool = False,
           hint: str = "") -> GradedTest:
    return GradedTest(name=name, function=function, points=points, hidden=hidden, hint=hint, body=body)


def outcome(test: GradedTest, status: str = "passed", message: str = "") -> TestOutcome:
    return TestOutcome(test, status, message)


def scored(*outcomes: TestOutcome, from_scratch: frozenset[str] = frozenset(),
           dispatched: dict[str, set[str]] | None = None, in_source: dict[str, set[str]] | None = None,
           tampering: frozenset[str] = frozenset()) -> Score:
    return score(outcomes, from_scratch=from_scratch, dispatched=dispatched or {}, in_source=in_source or {},
                 tampering=tampering)


def by_name(result: Score) -> dict[str, ScoredTest]:
    return {t.name: t for t in result.tests}


def test_passed_tests_earn_their_points_and_failed_ones_earn_none() -> None:
    result = scored(outcome(graded("a", points=30)), outcome(graded("b", points=20), "failed", "wrong"),
                    outcome(graded("c", "scale", points=50)))
    assert [t.score for t in result.tests] == [30.0, 0.0, 50.0]
    assert [t.passed for t in result.tests] == [True, False, True]
    assert (result.score, result.max_score) == (80.0, 100.0)
    assert result.library_convolutions == {}


def test_each_test_score_keeps_the_tests_name_function_and_points() -> None:
    (only,) = scored(outcome(graded("shape_law", "pool2d", 12.5, hidden=True, hint="h"))).tests
    assert (only.name, only.function, only.max_score, only.score, only.hidden) == ("shape_law", "pool2d", 12.5,
                                                                                   12.5, True)
    assert (only.feedback, only.detail, only.grader_error) == ("", "", False)


def test_no_outcomes_score_zero_of_zero() -> None:
    result = scored()
    assert (result.tests, result.score, result.max_score) == ((), 0, 0)


def test_a_failing_hidden_test_shows_only_its_hint_and_keeps_the_message_for_instructors() -> None:
    message = "corr2d on a random 7x9 X (secret inputs) is wrong in 3 of 35 values"
    (only,) = scored(outcome(graded("h", hidden=True, hint="compare each window with the kernel"),
                             "failed", message)).tests
    assert only.feedback == "compare each window with the kernel"
    assert "secret inputs" not in only.feedback
    assert only.detail == message
    assert (only.score, only.passed) == (0.0, False)


def test_a_failing_public_test_shows_its_message() -> None:
    message = "corr2d(X, K) should have shape (2, 2); yours has (3, 3)"
    (only,) = scored(outcome(graded("p", hint="ignored for public tests"), "failed", message)).tests
    assert only.feedback == message
    assert only.detail == message


def test_a_public_tests_comparisons_reach_its_score_and_a_hidden_tests_never_do() -> None:
    compared = (Comparison("corr2d(X, K)", "wrong_values", (2, 2), (2, 2), torch.ones(2, 2, dtype=torch.float64),
                           torch.zeros(2, 2, dtype=torch.float64), 1e-4, 1e-4),)
    public, hidden = scored(
        dataclasses.replace(outcome(graded("p"), "failed", "wrong"), comparisons=compared),
        # run_test never lets a hidden test collect; scoring drops what one might carry all the same.
        dataclasses.replace(outcome(graded("h", hidden=True, hint="a hint"), "failed", "wrong"), comparisons=compared),
    ).tests
    assert public.comparisons == compared
    assert hidden.comparisons == ()


def test_a_passing_test_has_no_feedback_even_when_hidden() -> None:
    (only,) = scored(outcome(graded("h", hidden=True, hint="a hint"))).tests
    assert only.feedback == ""


def test_dispatched_library_convolution_zeroes_every_test_of_that_function_only() -> None:
    outcomes = (outcome(graded("corr_public", points=20)), outcome(graded("corr_hidden", points=40, hidden=True,
                                                                          hint="hint")),
                outcome(graded("corr_fails", points=10), "failed", "wrong values"),
                outcome(graded("scale_ok", "scale", points=30)))
    result = scored(*outcomes, from_scratch=frozenset({"corr2d", "scale"}),
                    dispatched={"corr2d": {"aten.convolution.default"}})
    tests = by_name(result)
    for name in ("corr_public", "corr_hidden", "corr_fails"):
        assert (tests[name].score, tests[name].passed) == (0.0, False)
        assert "library convolution" in tests[name].feedback
        assert "aten.convolution.default" in tests[name].feedback
    assert (tests["scale_ok"].score, tests["scale_ok"].passed, tests["scale_ok"].feedback) == (30.0, True, "")
    assert result.score == 30.0 and result.max_score == 100.0
    assert result.library_convolutions == {"corr2d": ("aten.convolution.default",)}
    assert "wrong values" in tests["corr_fails"].detail


def test_library_convolution_in_the_source_zeroes_that_function_too() -> None:
    result = scored(outcome(graded("a", points=60)), outcome(graded("b", "scale", points=40)),
                    from_scratch=frozenset({"corr2d"}), in_source={"corr2d": {"torch.nn.functional.conv2d"}})
    tests = by_name(result)
    assert tests["a"].score == 0.0 and "library convolution" in tests["a"].feedback
    assert "torch.nn.functional.conv2d (in the source)" in tests["a"].feedback
    assert tests["b"].score == 40.0
    assert result.library_convolutions == {"corr2d": ("torch.nn.functional.conv2d (in the source)",)}


def test_both_kinds_of_evidence_are_listed_together_sorted() -> None:
    result = scored(outcome(graded("a")), from_scratch=frozenset({"corr2d"}),
                    dispatched={"corr2d": {"numpy.convolve", "aten.convolution.default"}},
                    in_source={"corr2d": {"numpy.convolve"}})
    assert result.library_convolutions == {"corr2d": ("aten.convolution.default", "numpy.convolve",
                                                      "numpy.convolve (in the source)")}


def test_evidence_for_a_function_not_marked_from_scratch_is_ignored() -> None:
    result = scored(outcome(graded("a", "conv_layer", points=100)), from_scratch=frozenset({"corr2d"}),
                    dispatched={"conv_layer": {"aten.convolution.default"}},
                    in_source={"conv_layer": {"torch.nn.Conv2d"}})
    assert result.score == 100.0 and result.library_convolutions == {}


def test_empty_evidence_sets_do_not_zero_anything() -> None:
    result = scored(outcome(graded("a", points=100)), from_scratch=frozenset({"corr2d"}),
                    dispatched={"corr2d": set()}, in_source={"corr2d": set()})
    assert result.score == 100.0 and result.library_convolutions == {}


def test_a_grader_error_scores_zero_and_is_flagged_without_blaming_the_student() -> None:
    result = scored(outcome(graded("broken", points=25), "grader_error", "the test itself failed: KeyError: 'x'"),
                    outcome(graded("fine", points=75)))
    tests = by_name(result)
    assert (tests["broken"].score, tests["broken"].passed, tests["broken"].grader_error) == (0.0, False, True)
    assert "grader error" in tests["broken"].feedback
    assert "KeyError" not in tests["broken"].feedback
    assert "KeyError" in tests["broken"].detail
    assert tests["fine"].grader_error is False
    assert result.score == 75.0


def test_a_hidden_grader_error_does_not_show_its_hint_or_message() -> None:
    (only,) = scored(outcome(graded("h", hidden=True, hint="the hint"), "grader_error", "secret details")).tests
    assert "secret details" not in only.feedback and only.grader_error


def test_tampering_zeroes_every_test_and_says_why() -> None:
    result = scored(outcome(graded("a", points=50)), outcome(graded("b", "scale", points=50)),
                    tampering=frozenset({"import grader"}))
    assert result.score == 0.0 and result.max_score == 100.0
    assert all("import grader" in t.feedback and not t.passed for t in result.tests)


def test_library_pooling_says_which_call_was_banned_and_why() -> None:
    result = scored(outcome(graded("max_example", "pool2d", points=60)), outcome(graded("b", "scale", points=40)),
                    from_scratch=frozenset({"pool2d"}),
                    in_source={"pool2d": {"torch.nn.functional.max_pool2d"}})
    tests = by_name(result)
    assert tests["max_example"].score == 0.0 and tests["b"].score == 40.0
    assert tests["max_example"].feedback == (
        "pool2d calls torch.nn.functional.max_pool2d (in the source): this assignment asks for pooling from "
        "scratch, without library pooling, so its tests score 0")


def test_a_dispatched_pooling_op_names_pooling_and_a_convolution_keeps_its_own_words() -> None:
    result = scored(outcome(graded("p", "pool2d", points=50)), outcome(graded("c", "corr2d", points=50)),
                    from_scratch=frozenset({"pool2d", "corr2d"}),
                    dispatched={"pool2d": {"aten.max_pool2d_with_indices.default"},
                                "corr2d": {"aten.convolution.default"}})
    tests = by_name(result)
    assert tests["p"].feedback.startswith("pool2d calls aten.max_pool2d_with_indices.default: this assignment "
                                          "asks for pooling from scratch")
    assert "library convolution" in tests["c"].feedback and "pooling" not in tests["c"].feedback


def test_a_way_around_the_watch_zeroes_the_function_without_naming_a_family() -> None:
    (only,) = scored(outcome(graded("p", "pool2d", points=100)), from_scratch=frozenset({"pool2d"}),
                     dispatched={"pool2d": {"a new thread (a way around the watch)"}}).tests
    assert only.score == 0.0 and "went around the grader's watch" in only.feedback
