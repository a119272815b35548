"""`grade_notebook()`: load -> execute -> test -> score, for one notebook.

Returns a `GradeResult` for anything a student can upload; raises
`GraderError` only for misuse (an unknown assignment, no GPU for `--device
cuda`) and broken assignment definitions.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grader.course import grader_version
from grader.course.assignment import (
    POINTS_PER_ASSIGNMENT,
    Assignment,
    identify,
    load_assignment,
)
from grader.course.budgets import in_force
from grader.course.seeding import derive_seed
from grader.errors import GraderError, UsageError
from grader.grading.cell_failures import cell_notes, lost_names
from grader.grading.load import load
from grader.grading.score import Score, score
from grader.grading.static_check import library_convolutions, tampering
from grader.grading.student import StudentProxy
from grader.grading.testing import TestRunner, run_tests
from grader.host.execute import Execution, Limits, Zygote
from grader.records import GradeResult, StepListener, Unusable
from grader.worker.confinement import missing_confinement
from grader.worker.warm import warm_up


def check_confinement(isolation: Mapping[str, Any], public_only: bool) -> None:
    """The policy: hidden tests run only in a confined worker (every step of
    grader.worker.confinement.CONFINED_BY in force), unless the caller chose --unconfined.
    Public tests run anyway: they hold nothing a student may not see."""
    if public_only or isolation.get("confined") is True or isolation.get("unconfined_allowed") is True:
        return
    missing = missing_confinement(dict(isolation))
    if isolation.get("portable"):
        raise UsageError(f"refusing to run hidden tests: student code cannot be confined here "
                         f"({isolation['portable']}): grade them on Linux, or pass --public, or --unconfined to "
                         "grade anyway, which lets student code read the hidden tests and the course secret")
    raise UsageError(f"refusing to run hidden tests: student code would not be confined on this machine (not in "
                     f"force: {', '.join(missing)}). Run as root, or enable unprivileged user namespaces "
                     "(sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0; on Ubuntu 24.04 "
                     "also kernel.apparmor_restrict_unprivileged_userns=0), or pass --public, or --unconfined to "
                     "grade anyway, which lets student code read the hidden tests and the course secret")


def unconfined_note(isolation: Mapping[str, Any], public_only: bool) -> str | None:
    """The note a result carries when its hidden tests ran without confinement."""
    if public_only or isolation.get("confined") is True:
        return None
    return ("graded unconfined (--unconfined): student code could read the hidden tests and the course secret "
            f"(not in force: {', '.join(missing_confinement(dict(isolation)))})")


def grade_notebook(path: Path, *, zygote: Zygote, secret: bytes, assignment: str | None = None,
                   public_only: bool = False, device: str = "cpu", limits: Limits = Limits(),
                   content: bytes | None = None, definitions: Mapping[str, Assignment] | None = None,
                   run: TestRunner | None = None, on_step: StepListener | None = None) -> GradeResult:
    """Grade one notebook with a session's zygote and secret (grader.session.Grader.grade). A batch passes
    the file's `content` and the assignments it has `definitions` for already, so that another machine
    grades exactly what this one would. `run` runs the tests while the notebook's worker is up (the pytest
    plugin runs them as pytest items). `on_step` hears each cell and test as it starts."""
    started = time.perf_counter()
    if device not in ("cpu", "cuda"):
        raise UsageError(f"unknown device {device!r}: use cpu or cuda")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available on this machine")
    if definitions is None:  # a batch passes its definitions, and warms up once for all its submissions
        threading.Thread(target=warm_up, daemon=True).start()
    check_confinement(zygote.isolation(), public_only)
    return _grade(Path(path), content, assignment, public_only, device, limits, zygote, secret,
                  definitions or {}, started, run or functools.partial(run_tests, on_step=on_step), on_step)


def _grade(path: Path, content: bytes | None, requested: str | None, public_only: bool, device: str,
           limits: Limits, zygote: Zygote, secret: bytes, definitions: Mapping[str, Assignment],
           started: float, run: TestRunner, on_step: StepListener | None) -> GradeResult:
    submission = load(path, content)
    if isinstance(submission, Unusable):
        return _unusable(path, requested, submission.reason, public_only, started)
    name, why = identify(requested, submission.assignment, submission.cells, definitions)
    if name is None:
        return _unusable(path, requested, why, public_only, started)
    definition = definitions.get(name) or load_assignment(name, public_only=public_only)

    def seed_for(label: str) -> int:
        return derive_seed(secret, submission.digest, label)

    budgets = in_force(definition, limits)
    with Execution(zygote, submission.cells, seed=seed_for("worker"), limits=limits, budgets=budgets,
                   device=device) as execution:
        execution.run_notebook(on_step=on_step)
        lost = lost_names(submission.cells, submission.positions, execution.cell_outcomes(), definition.functions)
        student = StudentProxy(execution.call, device=device, from_scratch=definition.from_scratch,
                               may_not_call=definition.may_not_call, missing_because=lost)
        outcomes = run(definition.tests, student, seed_for)
        ran = execution.summary()
    # The worker's replies and its evidence channel, the source: the stricter signal wins.
    dispatched = {name: student.library_convolutions.get(name, set()) | set(ran.evidence.convolutions.get(name, ()))
                  for name in set(student.library_convolutions) | set(ran.evidence.convolutions)}
    scored: Score = score(outcomes, from_scratch=definition.from_scratch, dispatched=dispatched,
                          in_source=library_convolutions(submission.cells, definition.from_scratch,
                                                         definition.may_not_call),
                          tampering=tampering(submission.cells) | set(ran.evidence.tampering))
    notes = list(submission.notes) + list(ran.notes)
    unconfined = unconfined_note(ran.isolation, public_only) if ran.isolation else None
    if unconfined is not None and ran.isolation.get("unconfined_allowed") is not True:
        # The zygote's probe promised confinement, but this worker's steps failed: no score rests on it.
        raise GraderError(f"{path}: not graded: its worker was not confined, although the zygote's probe was "
                          f"({unconfined.split('(not in force: ')[1]}")
    notes += [unconfined] if unconfined else []
    notes += cell_notes(submission.positions, ran.cells, lost)
    broken = [t.name for t in scored.tests if t.grader_error]
    reason = (f"not graded: a grader error in {', '.join(broken)} (the test failed on its own code, not on "
              "yours); the course staff must fix it and grade again") if broken else ""
    return GradeResult(
        submission=path, assignment=name, status="error" if broken else "graded", reason=reason, tests=scored.tests,
        library_convolutions=scored.library_convolutions, cells=ran.cells, notes=tuple(notes),
        isolation={**ran.isolation, "restarts": ran.restarts, "grader_version": grader_version()},
        student_output=ran.student_output, seconds=time.perf_counter() - started,
        assignment_digest=definition.digest, timeouts=ran.timeouts, crashes=ran.crashes, call_budgets=budgets,
        slowest_calls=ran.slowest_calls)


def _unusable(path: Path, requested: str | None, reason: str, public_only: bool, started: float) -> GradeResult:
    max_score = POINTS_PER_ASSIGNMENT
    if requested is not None:
        max_score = load_assignment(requested, public_only=public_only).max_score
    return GradeResult(submission=path, assignment=requested, status="unusable", reason=reason,
                       seconds=time.perf_counter() - started, max_score_if_unusable=max_score)
