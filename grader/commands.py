"""What each `grade` command does, once grader.cli has parsed it: call the library, render, pick the exit code.

Each command finds its course first and checks the names it was given,
before any worker process starts, so that a usage error costs no torch
import. The grading commands open one `Grader` session.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from grader.course import Course, locate, require_assignment, using
from grader.environment import configured_course, configured_secret
from grader.errors import ExitCode, GraderError, UsageError
from grader.extras import require_extra
from grader.step_line import StepLine

if TYPE_CHECKING:
    from grader.host.execute import Limits
    from grader.records import GradeResult
    from grader.session import Grader


@dataclasses.dataclass(frozen=True)
class Output:
    option: str                                          # --results, --feedback, ...
    help: str
    render: Callable[[GradeResult, Path], str]           # (result, the submission's path) -> the file's text
    extra: str | None = None                             # the extra its renderer needs (grader.extras)


def _gradescope_json(result: GradeResult, submission: Path) -> str:
    from grader.report.formats import gradescope

    return json.dumps(gradescope(result), indent=2, allow_nan=False) + "\n"


def _feedback_page(result: GradeResult, submission: Path) -> str:
    from grader.report.feedback import feedback_page, read_notebook

    return feedback_page(result, read_notebook(submission) if result.status == "graded" else None)


def _junit_xml(result: GradeResult, submission: Path) -> str:
    from grader.report.formats import junit

    return junit(result)


def _classroom_json(result: GradeResult, submission: Path) -> str:
    from grader.report.formats import classroom, classroom_step_output

    document = classroom(result)
    if os.environ.get("GITHUB_OUTPUT"):  # a GitHub Actions step: the reporter reads the `result` output
        with Path(os.environ["GITHUB_OUTPUT"]).open("a", encoding="utf-8") as outputs:
            outputs.write(classroom_step_output(document) + "\n")
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


OUTPUTS = {output.option: output for output in (
    Output("results", "write Gradescope's results.json here", _gradescope_json),
    Output("feedback", "write the student's feedback page (HTML: the notebook with its results) here",
           _feedback_page, extra="feedback"),
    Output("junit", "write JUnit XML here (GitLab's test reports)", _junit_xml),
    Output("classroom", "write GitHub Classroom's autograding result here, and to $GITHUB_OUTPUT when it is set",
           _classroom_json),
)}


STDOUT = Path("-")


def write_outputs(result: GradeResult, submission: Path, requested: dict[str, Path]) -> None:
    """Every output format asked for: `requested` maps an option to its path (STDOUT: `-`)."""
    from grader.safe_write import write_file

    for option, path in requested.items():
        text = OUTPUTS[option].render(result, submission)
        if path == STDOUT:
            sys.stdout.write(text)
        else:
            write_file(path, text)  # never through a link planted at `path`


# ---------------------------------------------------------------- the course and the session


def course_of(args: argparse.Namespace, near: Sequence[Path] = ()) -> Course:
    explicit: Path | None = getattr(args, "course", None)
    return locate(explicit or configured_course(), near)


@contextlib.contextmanager
def session(course: Course, shared: Grader | None, *, hide: Sequence[Path] = (), unconfined: bool = False,
            workers: bool = True, many_submissions: bool = False) -> Iterator[Grader]:
    """`shared` when it fits (same course, same confinement choice, nothing more to hide), else a new session.
    Its limits are the course's: a command passes its own (--call-timeout) with each grade."""
    from grader.session import Grader

    if shared is not None and shared.course == course and shared.unconfined == unconfined and not hide:
        yield shared
        return
    with Grader(course, secret=configured_secret(), hide=hide, unconfined=unconfined, workers=workers,
                many_submissions=many_submissions) as grader:
        yield grader


def limits_of(course: Course, args: argparse.Namespace) -> Limits:
    from grader.host.execute import Limits

    return Limits.of(course, call_timeout=args.call_timeout)


# ---------------------------------------------------------------- the commands


def grade_notebook(args: argparse.Namespace, shared: Grader | None) -> int:
    requested: dict[str, Path] = {option: getattr(args, option) for option in OUTPUTS
                                  if getattr(args, option) is not None}
    if sum(path == STDOUT for path in requested.values()) > 1:
        raise UsageError("only one output may go to stdout (-)")
    for option in requested:
        extra = OUTPUTS[option].extra
        if extra is not None:
            require_extra(extra, f"grade --{option}")
    course = course_of(args, near=[args.submission])
    if args.assignment:
        require_assignment(course, args.assignment)
    if course.beside:  # the submission's own folder named it: say so, since a student may have put it there
        print(f"grade: using the course at {course.root}, found beside the notebook: public tests only",
              file=sys.stderr)
    table_stream: TextIO = sys.stderr if STDOUT in requested.values() else sys.stdout
    with session(course, shared, unconfined=args.unconfined) as grader, \
            StepLine(sys.stderr, f"grading {args.submission.name}") as steps:
        result = grader.grade(args.submission, assignment=args.assignment, public_only=args.public,
                              device=args.device, limits=limits_of(course, args), on_step=steps.show)
    write_outputs(result, args.submission, requested)
    from grader.report.formats import table

    if result.status == "unusable":
        print(f"grade: {args.submission}: {result.reason}", file=sys.stderr)
        return int(ExitCode.UNUSABLE_SUBMISSION)
    print(table(result), file=table_stream)
    if result.grader_errors:
        for error in result.grader_errors:
            print(f"grade: grader error in {error}", file=sys.stderr)
        return int(ExitCode.INTERNAL_ERROR)
    if args.fail_under is not None and result.max_score and 100 * result.score / result.max_score < args.fail_under:
        return int(ExitCode.BELOW_FAIL_UNDER)
    return int(ExitCode.GRADED)


def grade_batch(args: argparse.Namespace, shared: Grader | None) -> int:
    require_extra("staff", "grade batch")
    if args.scheduler:
        require_extra("cluster", "grade batch --scheduler")
    course = course_of(args)
    if args.assignment:
        require_assignment(course, args.assignment)
    from grader.batch.progress import LiveProgress, PlainProgress, log_line
    from grader.batch.run import grade_batch
    from grader.batch.tasks import BatchOptions
    from grader.report.formats import points

    progress = PlainProgress() if args.quiet or not sys.stdout.isatty() else LiveProgress()
    options = BatchOptions(assignment=args.assignment, jobs=args.jobs, regrade=args.regrade,
                           scheduler=args.scheduler, call_timeout=args.call_timeout or course.call_timeout,
                           fixed_call_timeout=args.call_timeout is not None,
                           memory_mb=course.memory_mb, feedback=not args.no_feedback, unconfined=args.unconfined)
    # --out is made and hidden before the zygote starts, so that workers never see it.
    with session(course, None, hide=(args.out,), unconfined=args.unconfined,
                 workers=not args.scheduler, many_submissions=True) as grader:
        if not args.scheduler:  # before any submission: one line, rather than a grader error for each
            grader.check_confinement()
        result = grade_batch(args.paths, args.out, options, progress, grader)
    failed = sum(g.failed for g in result.graded)
    print(f"graded {len(result.graded)} ({failed} not graded or with grader errors), "
          f"{len(result.unchanged)} unchanged; {len(result.rows)} in the gradebook")
    if result.pages_rewritten:
        count = len(result.pages_rewritten)
        print(f"wrote {count} missing feedback page{'s' * (count != 1)} again, from the gradebook")
    for changed in result.changed_scores[:20]:
        assert changed.previous is not None
        before, after = points(changed.previous.score), points(changed.row.score)
        print(log_line(f"  score changed: {changed.row.student}: {before} -> {after}"))
    if len(result.changed_scores) > 20:
        print(f"  ... and {len(result.changed_scores) - 20} more changed scores (see the gradebook's history)")
    print(f"wrote {args.out / 'grades.csv'}, {args.out / 'summary.json'}, {args.out / 'results'}/"
          + (f", {args.out / 'feedback'}/" if options.feedback else ""))
    for failure in result.grader_failures:
        print(log_line(f"grade: grader error on {failure.row.student}: {failure.row.grader_errors[0]}"),
              file=sys.stderr)
    return int(ExitCode.INTERNAL_ERROR if result.grader_failures else ExitCode.GRADED)


def audit(args: argparse.Namespace, shared: Grader | None) -> int:
    course = course_of(args)
    for name in args.assignments:
        require_assignment(course, name)
    with using(course):
        from grader.course.assignment import available

        names = args.assignments or list(available())
    from grader.course.audit import AuditOptions, render
    from grader.course.audit import audit as audit_one

    failed = []
    # The course's own notebooks: no student code, so no confinement is needed.
    with session(course, shared, unconfined=True, many_submissions=True) as grader:
        options = AuditOptions(jobs=args.jobs, per_function=args.mutants, limits=limits_of(course, args))
        for name in names:
            report = audit_one(name, grader, options)
            print(render(report, verbose=args.verbose), flush=True)
            if not report.passed:
                failed.append(name)
    if failed:
        print(f"grade: audit failed for {', '.join(failed)}", file=sys.stderr)
        return int(ExitCode.AUDIT_FAILED)
    return int(ExitCode.GRADED)


def calibrate(args: argparse.Namespace, shared: Grader | None) -> int:
    course = course_of(args)
    for name in args.assignments:
        require_assignment(course, name)
    with using(course):
        from grader.course.assignment import available

        names = args.assignments or list(available())
    from grader.course.budgets import write_calibration
    from grader.course.calibrate import calibrate as calibrate_one

    # The course's own notebooks: no student code, so no confinement is needed.
    with session(course, shared, unconfined=True, many_submissions=True) as grader:
        for name in names:
            calibration = calibrate_one(name, grader)
            path = write_calibration(course.assignments / name, calibration)
            print(f"wrote {path}: call budgets for version {calibration.digest} of {name}")
            width = max((len(function) for function in calibration.functions), default=0)
            for function, budget in sorted(calibration.functions.items()):
                in_force = min(budget.seconds, course.call_timeout)
                print(f"  {function:<{width}}  {in_force:g} s  (slowest accepted call {budget.slowest_call:.3f} s, "
                      f"{budget.answer})", flush=True)
    return int(ExitCode.GRADED)


def class_report(args: argparse.Namespace, shared: Grader | None) -> int:
    require_extra("staff", "grade report")
    from grader.batch.class_report import REPORT_FILE
    from grader.batch.class_report import class_report as render_report
    from grader.batch.exports import write_summary
    from grader.batch.gradebook import FILE_NAME, Gradebook
    from grader.safe_write import write_file

    if not (args.folder / FILE_NAME).is_file():
        raise UsageError(f"{args.folder} has no gradebook: run grade batch PATH... --out {args.folder} first")
    with Gradebook(args.folder / FILE_NAME) as book:
        rows = book.current_rows()
    page = args.out or args.folder / REPORT_FILE
    write_file(page, render_report(rows))
    print(f"wrote {page}")
    print(f"wrote {write_summary(rows, args.folder)}")
    return int(ExitCode.GRADED)


def init(args: argparse.Namespace, shared: Grader | None) -> int:
    from grader.course import init_course

    path = init_course(args.folder, name=args.name)
    print(f"wrote {path}")
    print(f"next: cd {args.folder} and run 'grade new NAME' to add an assignment")
    return int(ExitCode.GRADED)


def new(args: argparse.Namespace, shared: Grader | None) -> int:
    from grader.course.scaffold import new_assignment

    with using(course_of(args)):
        scaffold = new_assignment(args.assignment, function=args.function, title=args.title)
    print(f"wrote {scaffold.folder}/:")
    for path in scaffold.files:
        print(f"  {path}")
    print(f"next: write the notebook and the tests, add accepted answers to {scaffold.folder / 'accepted'}/, "
          f"then run: grade calibrate {args.assignment} && grade audit {args.assignment}")
    return int(ExitCode.GRADED)


def list_assignments(args: argparse.Namespace, shared: Grader | None) -> int:
    broken: list[tuple[str, str]] = []
    with using(course_of(args)):
        from grader.course.assignment import available, load_every_test_here

        for name in available():
            try:
                definition = load_every_test_here(name)
            except GraderError as error:  # one broken assignment must not hide the others
                broken.append((name, error.message))
                continue
            print(f"{name:<20} {definition.title}")
    for name, reason in broken:
        print(f"grade: broken assignment {name}: {reason}", file=sys.stderr)
    return int(ExitCode.BROKEN_ASSIGNMENT if broken else ExitCode.GRADED)


def release(args: argparse.Namespace, shared: Grader | None) -> int:
    course = course_of(args)
    require_assignment(course, args.assignment)
    from grader.course.release import release_notebook

    with using(course):
        path = release_notebook(args.assignment, args.out, with_solutions=args.with_solutions)
    print(f"wrote {path}")
    return int(ExitCode.GRADED)


def gradescope(args: argparse.Namespace, shared: Grader | None) -> int:
    require_extra("staff", "grade gradescope")  # the bundle pins the feedback extra's versions from this install
    course = course_of(args)
    require_assignment(course, args.assignment)
    from grader.course.seeding import course_secret
    from grader.integrations.gradescope import build_gradescope_bundle

    with using(course):
        path = build_gradescope_bundle(args.assignment, args.out, course_secret(course, configured_secret()).value)
    print(f"wrote {path}: upload it as the assignment's autograder on Gradescope (staff only)")
    return int(ExitCode.GRADED)
