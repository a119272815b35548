"""`grade audit`: the author's proof that an assignment grades fairly.

Every notebook below is graded exactly as a student's would be (`grade()`, a
confined worker, public and hidden tests), several at once:

- the teaching notebook's solutions score 100, and the released stub 0;
- every notebook in `accepted/` scores 100;
- each answer that does nothing (grader.course.do_nothing) stays at or under 10%;
- each mutant of the solution (grader.course.mutants) loses points on the function
  it mutates, or one built on it, and on no other. A mutant that loses nothing
  is *equivalent* when the grader cannot tell it from the solution (its
  answer to every request the tests make of the solution is the same, within
  the tolerance), and *survived*, a gap in the tests, otherwise;
- grading twice gives identical results, and another course secret the same score;
- its call budgets (grader.course.budgets) are calibrated for this version of its tests, and every
  call of every accepted answer stays well inside the budget of its function.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import io
import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import nbformat
import torch

from grader.authoring.testkit import mismatches
from grader.course.assignment import POINTS_PER_ASSIGNMENT, POINTS_TOLERANCE, Assignment, load_assignment
from grader.course.budgets import calibration_problem
from grader.course.do_nothing import KINDS, do_nothing_cells
from grader.course.mutants import Mutant, mutants
from grader.course.release import release_notebook
from grader.course.seeding import derive_seed
from grader.grading.pipeline import grade_notebook
from grader.grading.student import StudentProxy, local_transport
from grader.grading.testing import run_tests
from grader.host.execute import Limits
from grader.records import GradeResult

if TYPE_CHECKING:
    from grader.session import Grader

Verdict = Literal["pass", "fail"]
MutantOutcome = Literal["killed", "equivalent", "survived", "collateral", "grader error"]
ACCEPTED_FOLDER = "accepted"
NOTHING_CEILING = 0.10   # of the assignment's points
TIME_MARGIN = 3.0        # a function's call budget over the slowest call an accepted answer makes to it


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    verdict: Verdict
    detail: str


@dataclasses.dataclass(frozen=True)
class MutantVerdict:
    mutant: Mutant
    outcome: MutantOutcome
    lost: Mapping[str, float]   # graded name -> points lost against the solution

    @property
    def failed(self) -> bool:
        return self.outcome in ("survived", "collateral", "grader error")


@dataclasses.dataclass(frozen=True)
class AssignmentAudit:
    assignment: str
    checks: tuple[Check, ...]
    mutants: tuple[MutantVerdict, ...]

    @property
    def passed(self) -> bool:
        return all(c.verdict == "pass" for c in self.checks)


@dataclasses.dataclass(frozen=True)
class AuditOptions:
    jobs: int = 2
    per_function: int = 16
    limits: Limits = Limits()


def audit(name: str, grader: Grader, options: AuditOptions = AuditOptions()) -> AssignmentAudit:
    secret = grader.secret
    definition = load_assignment(name)
    teaching = nbformat.read(definition.notebook, as_version=4)
    cells = tuple(c.source for c in teaching.cells if c.cell_type == "code")
    accepted = sorted((definition.directory / ACCEPTED_FOLDER).glob("*.ipynb"))
    kills = mutants(cells, definition.functions, per_function=options.per_function)
    other_secret = hashlib.sha256(secret + b"\x00another course").digest()
    with tempfile.TemporaryDirectory() as scratch:
        stub = release_notebook(name, Path(scratch)).read_bytes()
    work: list[tuple[str, bytes, bytes]] = [
        ("teaching", definition.notebook.read_bytes(), secret),
        ("teaching again", definition.notebook.read_bytes(), secret),
        ("teaching, another secret", definition.notebook.read_bytes(), other_secret),
        ("stub", stub, secret),
        *((f"{ACCEPTED_FOLDER}/{p.name}", p.read_bytes(), secret) for p in accepted),
        *((f"nothing: {kind}", _notebook(do_nothing_cells(cells, definition.functions, kind), name), secret)
          for kind in KINDS),
        *((f"mutant {i}", _notebook(m.cells, name), secret) for i, m in enumerate(kills)),
    ]

    def graded(item: tuple[str, bytes, bytes]) -> GradeResult:
        label, content, key = item
        return grade_notebook(Path(f"{label}.ipynb"), assignment=name, zygote=grader.zygote(), content=content,
                              secret=key, definitions={name: definition}, limits=options.limits)

    with ThreadPoolExecutor(max_workers=options.jobs) as pool:
        results = dict(zip((label for label, _, _ in work), pool.map(graded, work), strict=True))
    checks = [_scores("teaching notebook scores 100", results["teaching"], POINTS_PER_ASSIGNMENT),
              _scores("released stub scores 0", results["stub"], 0.0)]
    if not accepted:
        folder = definition.directory / ACCEPTED_FOLDER
        checks.append(Check(f"{ACCEPTED_FOLDER}/ holds accepted answers", "fail",
                            f"none found: add notebooks that must score 100 to {folder}/ "
                            "(the lecture's own code, a vectorized answer; see docs/authoring.md)"))
    checks += [_scores(f"{label} scores 100", results[label], POINTS_PER_ASSIGNMENT)
               for label in (f"{ACCEPTED_FOLDER}/{p.name}" for p in accepted)]
    checks += [_at_most(f"does nothing: {kind}", results[f"nothing: {kind}"], definition) for kind in KINDS]
    checks.append(_at_most("does nothing: the released stub", results["stub"], definition))
    verdicts = _judge_mutants(kills, [results[f"mutant {i}"] for i in range(len(kills))],
                              results["teaching"], definition, cells)
    checks += _mutation_scores(verdicts, definition)
    checks += _determinism(results)
    checks.append(_calibrated(definition))
    checks.append(_timing([results[k] for k in results if k.startswith(ACCEPTED_FOLDER) or k == "teaching"]))
    return AssignmentAudit(name, tuple(checks), tuple(verdicts))


def _notebook(cells: Sequence[str], assignment: str) -> bytes:
    notebook = nbformat.v4.new_notebook()
    # Fixed cell ids: the audit writes the same notebooks, byte for byte, on every run.
    notebook.cells = [nbformat.v4.new_code_cell(source, id=f"cell-{index}") for index, source in enumerate(cells)]
    notebook.metadata["convgrade"] = {"assignment": assignment}
    text: str = nbformat.writes(notebook)
    return text.encode("utf-8")


def _total(result: GradeResult) -> str:
    if result.status != "graded":
        return f"not graded: {result.reason}"
    errors = f", grader errors: {'; '.join(result.grader_errors)}" if result.grader_errors else ""
    return f"{result.score:g} / {result.max_score:g}{errors}"


def _scores(name: str, result: GradeResult, wanted: float) -> Check:
    ok = result.status == "graded" and not result.grader_errors and math.isclose(result.score, wanted)
    failed = [t.name for t in result.tests if not t.passed and not t.tip]
    detail = _total(result) + (f" (failed: {', '.join(failed)})" if failed and wanted == POINTS_PER_ASSIGNMENT else "")
    return Check(name, "pass" if ok else "fail", detail)


def _at_most(name: str, result: GradeResult, definition: Assignment) -> Check:
    ceiling = NOTHING_CEILING * definition.max_score
    ok = result.status == "graded" and not result.grader_errors and result.score <= ceiling + POINTS_TOLERANCE
    passed = [f"{t.name} ({t.score:g})" for t in result.tests if t.passed and not t.tip]
    return Check(name, "pass" if ok else "fail",
                 f"{_total(result)}, at most {ceiling:g}" + (f"; passes {', '.join(passed)}" if passed else ""))


def per_function(result: GradeResult) -> dict[str, float]:
    scores: dict[str, float] = {}
    for test in result.tests:
        scores[test.function] = scores.get(test.function, 0.0) + test.score
    return scores


def _judge_mutants(kills: Sequence[Mutant], results: Sequence[GradeResult], solution: GradeResult,
                   definition: Assignment, cells: tuple[str, ...]) -> list[MutantVerdict]:
    full = per_function(solution)
    users = dependents(cells, definition.functions)
    replay: Callable[[Mutant], bool] | None = None
    verdicts = []
    for mutant, result in zip(kills, results, strict=True):
        scored = per_function(result)
        lost = {f: full.get(f, 0.0) - scored.get(f, 0.0) for f in definition.functions
                if full.get(f, 0.0) - scored.get(f, 0.0) > POINTS_TOLERANCE}
        allowed = {mutant.function} | users[mutant.function]
        outcome: MutantOutcome
        if result.status != "graded" or result.grader_errors:
            outcome = "grader error"
        elif set(lost) - allowed:
            outcome = "collateral"
        elif lost:
            outcome = "killed"
        else:
            replay = replay or _equivalence_replay(definition, cells)
            outcome = "equivalent" if replay(mutant) else "survived"
        verdicts.append(MutantVerdict(mutant, outcome, lost))
    return verdicts


def dependents(cells: Sequence[str], functions: Sequence[str]) -> dict[str, set[str]]:
    """Graded name -> the graded names whose solution uses it, directly or through helpers."""
    uses: dict[str, set[str]] = {}
    for source in cells:
        with contextlib.suppress(SyntaxError):
            for node in ast.parse(source).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    uses[node.name] = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - {node.name}
    users: dict[str, set[str]] = {}
    for function in functions:
        reached: set[str] = set()
        frontier = [function]
        while frontier:
            used = frontier.pop()
            for user, names in uses.items():
                if used in names and user not in reached:
                    reached.add(user)
                    frontier.append(user)
        users[function] = reached & set(functions) - {function}
    return users


def _equivalence_replay(definition: Assignment, cells: tuple[str, ...]) -> Callable[[Mutant], bool]:
    """Whether a mutant answers every request the tests make of the solution as the solution does.

    Runs in this process: both are the course's own code, the mutant one edit away."""
    solution = notebook_namespace(cells)
    requests: list[dict[str, Any]] = []
    answer = local_transport(solution)

    def recording(request: dict[str, Any]) -> Any:
        requests.append(request)
        return answer(request)

    student = StudentProxy(recording, from_scratch=definition.from_scratch, may_not_call=definition.may_not_call)
    # Only graded tests ask: a tip may see what a mutant changes, but a tip is worth nothing.
    graded = [t for t in definition.tests if not t.tip]
    run_tests(graded, student, lambda label: derive_seed(b"audit", "requests", label))
    asked = [r for r in requests if r.get("recipe") != "cost"]  # work counts differ; values are graded

    def equivalent(mutant: Mutant) -> bool:
        mutated = local_transport(notebook_namespace(mutant.cells))
        for index, request in enumerate(asked):
            torch.manual_seed(index)
            expected = answer(request)
            torch.manual_seed(index)
            if not _same(expected, mutated(request)):
                return False
        return True

    return equivalent


def notebook_namespace(cells: Sequence[str]) -> dict[str, Any]:
    """The names code cells define, run in this process in order, quietly."""
    names: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for source in cells:
            try:
                exec(compile(source, "<cell>", "exec"), names)  # noqa: S102 - the course's own solution, or one edit of it
            except Exception:  # noqa: BLE001, S112 - as in a notebook, a failing cell does not stop the next
                continue
    return names


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.shape != b.shape:
            return False
        return a.is_floating_point() == b.is_floating_point() and not bool(mismatches(b, a, equal_nan=True).any())
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6) or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def _mutation_scores(verdicts: Sequence[MutantVerdict], definition: Assignment) -> list[Check]:
    checks = []
    for function in definition.functions:
        mine = [v for v in verdicts if v.mutant.function == function]
        equivalent = sum(v.outcome == "equivalent" for v in mine)
        killed = sum(v.outcome == "killed" for v in mine)
        counted = len(mine) - equivalent
        failures = [f"{v.outcome}: {v.mutant.description}" + (f" (costs {_costs(v.lost)})" if v.lost else "")
                    for v in mine if v.failed]
        score = f"{100 * killed / counted:.0f}%" if counted else "n/a"
        detail = f"{killed} / {counted} killed ({equivalent} equivalent): mutation score {score}"
        if not mine:
            detail = "no mutants: the solution has nothing to mutate"
        checks.append(Check(f"mutants of {function}", "fail" if failures else "pass",
                            detail + "".join(f"; {f}" for f in failures)))
    return checks


def _costs(lost: Mapping[str, float]) -> str:
    return ", ".join(f"{f} -{points:g}" for f, points in sorted(lost.items()))


def _determinism(results: Mapping[str, GradeResult]) -> list[Check]:
    def fingerprint(result: GradeResult) -> list[tuple[str, float, str]]:
        return [(t.name, t.score, t.detail) for t in result.tests]

    same = fingerprint(results["teaching"]) == fingerprint(results["teaching again"])
    other = results["teaching, another secret"]
    return [Check("determinism: graded twice", "pass" if same else "fail",
                  "identical results" if same else "the two gradings differ"),
            Check("determinism: another course secret", "pass" if other.score == results["teaching"].score
                  else "fail", _total(other))]


def _calibrated(definition: Assignment) -> Check:
    problem = calibration_problem(definition)
    return Check("call budgets are calibrated", "fail" if problem else "pass",
                 problem or f"budgets.json was measured for this version ({definition.digest})")


def _timing(results: Sequence[GradeResult]) -> Check:
    """The least margin of any accepted answer's call against the budget it ran under."""
    margins = [(budgets.of(function) / max(seconds, 1e-6), seconds, budgets.of(function), r.submission.stem, function)
               for r in results if (budgets := r.call_budgets) is not None
               for function, seconds in r.slowest_calls.items()]
    name = "time: calls within their budgets"
    if not margins:
        return Check(name, "fail", "no call of an accepted answer was answered")
    margin, seconds, budget, notebook, function = min(margins)
    return Check(name, "pass" if margin >= TIME_MARGIN else "fail",
                 f"slowest against its budget: {seconds:.3f} s ({notebook}: {function}) of its {budget:g} s: "
                 f"{margin:.0f}x margin (at least {TIME_MARGIN:g}x)")


def render(report: AssignmentAudit, *, verbose: bool = False) -> str:
    """One table per assignment: a line per check and its verdict; with `verbose`, every mutant."""
    width = max(len(c.name) for c in report.checks)
    lines = [f"audit of {report.assignment}: {'PASS' if report.passed else 'FAIL'}",
             f"  {'check':<{width}}  verdict  detail"]
    lines += [f"  {c.name:<{width}}  {c.verdict.upper():<7}  {c.detail}" for c in report.checks]
    shown = [v for v in report.mutants if verbose or v.outcome != "killed"]
    if shown:
        lines.append("  mutants" + ("" if verbose else " not killed"))
        lines += [f"    {v.outcome:<10}  {v.mutant.function}: {v.mutant.operator}: {v.mutant.description}"
                  + (f" (costs {_costs(v.lost)})" if v.lost else "") for v in shown]
    return "\n".join(lines)
