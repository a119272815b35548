"""The test stage: each test's outcome, and the seeded generator it draws its inputs from."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import torch

from grader.authoring.comparison import collecting
from grader.authoring.testkit import (
    GradedTest,
    Student,
    StudentFailure,
    TestBody,
    TestFailure,
    expect_close,
)
from grader.grading.testing import run_test, run_tests
from grader.records import TestOutcome
from grader.worker.quote import MESSAGE_LIMIT


class NoStudent:
    """A Student that must not be used."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the test used student.{name}")


def graded(body: TestBody, name: str = "t", points: float = 10.0) -> GradedTest:
    return GradedTest(name=name, function="corr2d", points=points, hidden=False, hint="", body=body)


def run(body: TestBody, seed: int = 0) -> TestOutcome:
    return run_test(graded(body), NoStudent(), seed)  # type: ignore[arg-type]


def test_a_test_that_returns_passes() -> None:
    outcome = run(lambda student, rng: None)
    assert (outcome.status, outcome.message) == ("passed", "")
    assert outcome.seconds >= 0.0


def test_a_test_failure_fails_with_its_message() -> None:
    def body(student: Student, rng: torch.Generator) -> None:
        raise TestFailure("corr2d(X, K) should have shape (2, 2); yours has (3, 3)")

    outcome = run(body)
    assert (outcome.status, outcome.message) == ("failed", "corr2d(X, K) should have shape (2, 2); yours has (3, 3)")


def test_a_student_failure_fails_with_its_message() -> None:
    def body(student: Student, rng: torch.Generator) -> None:
        raise StudentFailure("raised", "corr2d raised ValueError: bad kernel")

    outcome = run(body)
    assert (outcome.status, outcome.message) == ("failed", "corr2d raised ValueError: bad kernel")


@pytest.mark.parametrize("error", [KeyError("x"), AssertionError("the test's own assert"), ZeroDivisionError(),
                                   RuntimeError("shape mismatch in the reference")], ids=repr)
def test_any_other_exception_is_a_grader_error_not_the_students_failure(error: Exception) -> None:
    def body(student: Student, rng: torch.Generator) -> None:
        raise error

    outcome = run(body)
    assert outcome.status == "grader_error"
    assert outcome.message.startswith("the test itself failed: ")
    assert type(error).__name__ in outcome.message


def test_the_outcome_refers_to_its_test() -> None:
    test = graded(lambda student, rng: None, name="corr2d_shape_law")
    assert run_test(test, NoStudent(), 1).test is test  # type: ignore[arg-type]


def draws(seed: int) -> torch.Tensor:
    drawn: list[torch.Tensor] = []

    def body(student: Student, rng: torch.Generator) -> None:
        drawn.append(torch.randn(8, generator=rng))
        drawn.append(torch.randint(0, 1000, (4,), generator=rng).double())

    assert run(body, seed).status == "passed"
    return torch.cat(drawn)


def test_the_generator_is_seeded_so_the_same_seed_gives_the_same_inputs() -> None:
    assert torch.equal(draws(1234), draws(1234))


def test_different_seeds_give_different_inputs() -> None:
    assert not torch.equal(draws(1234), draws(1235))


def test_the_generator_ignores_the_global_torch_seed() -> None:
    torch.manual_seed(1)
    first = draws(99)
    torch.manual_seed(2)
    assert torch.equal(first, draws(99))


def test_run_tests_seeds_each_test_by_its_name_and_keeps_going_after_failures() -> None:
    labels: list[str] = []
    seen: dict[str, torch.Tensor] = {}

    def seed_for(label: str) -> int:
        labels.append(label)
        return len(label)

    def record(name: str) -> TestBody:
        def body(student: Student, rng: torch.Generator) -> None:
            seen[name] = torch.rand(3, generator=rng)
            if name == "bb":
                raise TestFailure("wrong")
        return body

    tests = [graded(record("a"), "a"), graded(record("bb"), "bb"), graded(record("ccc"), "ccc")]
    outcomes = run_tests(tests, NoStudent(), seed_for)  # type: ignore[arg-type]
    assert [o.status for o in outcomes] == ["passed", "failed", "passed"]
    assert labels == ["a", "bb", "ccc"]
    for name in ("a", "bb", "ccc"):
        assert torch.equal(seen[name], torch.rand(3, generator=torch.Generator().manual_seed(len(name))))


def comparing(label: str, *, wrong: bool = False) -> TestBody:
    def body(student: Student, rng: torch.Generator) -> None:
        expect_close(torch.ones(2, 2), torch.ones(2, 2), what=f"{label} first")
        expect_close(torch.ones(2, 2), torch.zeros(2, 2) if wrong else torch.ones(2, 2), what=f"{label} second")
    return body


def test_a_public_test_carries_what_it_compared_for_the_feedback_page() -> None:
    outcome = run(comparing("corr2d(X, K)", wrong=True))
    assert outcome.status == "failed"
    assert [(c.label, c.verdict) for c in outcome.comparisons] == [("corr2d(X, K) first", "match"),
                                                                    ("corr2d(X, K) second", "wrong_values")]
    assert outcome.comparisons[1].expected is not None and torch.equal(outcome.comparisons[1].expected,
                                                                      torch.zeros(2, 2, dtype=torch.float64))


def test_a_hidden_test_records_nothing_even_inside_an_open_collector() -> None:
    hidden = GradedTest(name="h", function="corr2d", points=10.0, hidden=True, hint="a hint",
                        body=comparing("secret", wrong=True))
    with collecting(enabled=True) as outer:
        outcome = run_test(hidden, NoStudent(), 0)  # type: ignore[arg-type]
    assert outcome.status == "failed" and "secret second" in outcome.message  # it did compare
    assert outcome.comparisons == () and outer == []


def test_tests_in_threads_each_carry_only_their_own_comparisons() -> None:
    names = [f"t{i}" for i in range(16)]
    def run_named(name: str) -> TestOutcome:
        return run_test(graded(comparing(name), name), NoStudent(), 0)  # type: ignore[arg-type]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(run_named, names))
    for name, outcome in zip(names, outcomes, strict=False):
        assert [c.label for c in outcome.comparisons] == [f"{name} first", f"{name} second"]


class HugeStudent:
    """A Student whose answer is a huge value, as a worker may send (within the wire's limits)."""

    def call(self, name: str, *args: Any) -> Any:
        return ["0123456789" * 10_000] * 50


def test_a_message_quoting_a_huge_value_is_cut_keeping_its_start_and_end() -> None:
    def body(student: Student, rng: torch.Generator) -> None:
        result = student.call("conv_output_shape")
        raise TestFailure(f"conv_output_shape(...) should be (2, 3); yours returned {result!r}: mind the stride")

    outcome = run_test(graded(body), HugeStudent(), 0)  # type: ignore[arg-type]
    assert outcome.status == "failed" and len(outcome.message) <= MESSAGE_LIMIT
    assert outcome.message.startswith("conv_output_shape(...) should be (2, 3); yours returned ['0123")
    assert outcome.message.endswith("mind the stride") and "characters cut" in outcome.message


def test_a_student_failure_quoting_what_the_worker_sent_is_cut() -> None:
    def body(student: Student, rng: torch.Generator) -> None:
        raise StudentFailure("raised", "corr2d raised ValueError: " + "v" * 10**6)

    outcome = run(body)
    assert outcome.status == "failed" and len(outcome.message) <= MESSAGE_LIMIT
    assert outcome.message.startswith("corr2d raised ValueError: vvv")


def test_a_grader_error_quoting_a_huge_value_is_cut() -> None:
    def body(student: Student, rng: torch.Generator) -> None:
        {"weight": 1}["k" * 10**6]  # a test that indexes by what the student returned

    outcome = run(body)
    assert outcome.status == "grader_error" and len(outcome.message) <= MESSAGE_LIMIT
    assert outcome.message.startswith("the test itself failed: KeyError: 'kkk")
