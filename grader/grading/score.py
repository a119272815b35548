"""Score stage: outcomes and from-scratch evidence -> points. A pure function.

Points come only from outcomes computed in the grader's process. A function
marked from scratch that made a library call its assignment bans (seen at the
dispatcher or in its source; grader.worker.banned_calls) scores 0 on every one of its
tests, with the reason.
Students see a public test's message and comparisons, and only the hint of a
hidden one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence, Set

from grader.records import TestOutcome, TestScore
from grader.worker import banned_calls


@dataclasses.dataclass(frozen=True)
class Score:
    tests: tuple[TestScore, ...]
    library_convolutions: Mapping[str, tuple[str, ...]]  # from-scratch name -> evidence

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)


def score(outcomes: Sequence[TestOutcome], *, from_scratch: frozenset[str],
          dispatched: Mapping[str, set[str]], in_source: Mapping[str, set[str]],
          tampering: Set[str] = frozenset()) -> Score:
    evidence = {name: tuple(sorted(set(dispatched.get(name, ()))
                                   | {c + banned_calls.SOURCE_SUFFIX for c in in_source.get(name, ())}))
                for name in from_scratch if dispatched.get(name) or in_source.get(name)}
    scores = tuple(_score_one(outcome, evidence) for outcome in outcomes)
    if tampering:
        # Reaching into the grader could forge what the worker reports, so it earns nothing.
        reason = (f"the notebook reaches into the grader or its watchers ({', '.join(sorted(tampering))}), "
                  "so every test scores 0")
        scores = tuple(dataclasses.replace(s, score=0.0, passed=False, feedback=reason,
                                           detail=f"{reason}. {s.detail}".strip()) for s in scores)
    return Score(scores, evidence)


def _score_one(outcome: TestOutcome, evidence: Mapping[str, tuple[str, ...]]) -> TestScore:
    test = outcome.test
    passed = outcome.status == "passed"
    detail = outcome.message
    feedback = "" if passed else (test.hint if test.hidden else outcome.message)
    if test.tip and feedback:
        feedback = f"tip (worth no points): {feedback}"
    # A second guard: run_test already collects nothing for a hidden test.
    comparisons = () if test.hidden else outcome.comparisons
    if outcome.status == "grader_error":
        feedback = ("this test could not run because of a grader error, not your code: "
                    "the submission has no score until the course staff fix it and grade again")
    if test.function in evidence:
        reason = banned_calls.reason(test.function, evidence[test.function])
        return TestScore(test.name, test.function, 0.0, test.points, False, test.hidden, reason,
                         f"{reason}. {detail}".strip(), outcome.status == "grader_error", comparisons,
                         outcome.seconds)
    return TestScore(test.name, test.function, test.points if passed else 0.0, test.points, passed,
                     test.hidden, feedback, detail, outcome.status == "grader_error", comparisons, outcome.seconds)
