"""The `grade` command: parse arguments, call the library, render, pick the exit code.

The one place that catches `GraderError` (and any defect), so that a user
always reads one line, never a traceback, unless CONVGRADE_DEBUG is set.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from grader.course import (
    COURSE_ENVIRONMENT,
    COURSE_FILE,
    DEFAULT_CALL_TIMEOUT,
    Course,
    locate,
    using,
)
from grader.errors import ExitCode, GraderError, UsageError
from grader.extras import require_extra

if TYPE_CHECKING:
    from grader.host.execute import Limits
    from grader.host.plain_workers import PlainLaunch


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] in _COMMANDS:
            return _COMMANDS[args[0]](args[1:])
        return _grade(args)
    except GraderError as error:
        print(f"grade: {error.message}", file=sys.stderr)
        return int(error.exit_code)
    except KeyboardInterrupt:
        print("grade: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the boundary: a defect becomes one line and a status
        if os.environ.get("CONVGRADE_DEBUG"):
            traceback.print_exc()
        print(f"grade: internal error: {type(error).__name__}: {error} "
              "(set CONVGRADE_DEBUG=1 for the traceback)", file=sys.stderr)
        return int(ExitCode.INTERNAL_ERROR)


def main_entry() -> None:
    code = main()
    # Everything is written and flushed; skip the interpreter's teardown of
    # torch, which costs a fifth of a second after the work is done.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _grade_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grade", description="Grade a convolution notebook against its assignment's tests.",
        epilog="Other commands: 'grade init DIR', 'grade new NAME', 'grade audit [NAME...]', "
               "'grade batch PATH... --out DIR', 'grade release NAME --out DIR', "
               "'grade gradescope NAME --out ZIP', 'grade report DIR', 'grade list'.")
    parser.add_argument("submission", type=Path, help="the student's .ipynb")
    parser.add_argument("--assignment", help="the assignment (default: from the notebook's metadata)")
    parser.add_argument("--results", type=Path, help="write Gradescope's results.json here")
    parser.add_argument("--feedback", type=Path, metavar="PATH",
                        help="write the student's feedback page (HTML: the notebook with its results) here")
    parser.add_argument("--junit", type=Path, metavar="PATH", help="write JUnit XML here (GitLab's test reports)")
    parser.add_argument("--classroom", type=Path, metavar="PATH",
                        help="write GitHub Classroom's autograding result here, and to $GITHUB_OUTPUT when it is set")
    parser.add_argument("--public", action="store_true", help="run only the public tests")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the tests run")
    parser.add_argument("--fail-under", type=float, metavar="PERCENT",
                        help=f"exit {int(ExitCode.BELOW_FAIL_UNDER)} when the score is under this percentage")
    _add_call_timeout_option(parser)
    parser.add_argument("--unconfined", action="store_true", help=UNCONFINED_HELP)
    _add_course_option(parser)
    return parser


def _add_course_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--course", type=Path, metavar="DIR",
                        help=f"the course folder, which holds {COURSE_FILE} (default: ${COURSE_ENVIRONMENT}, else the "
                             "first one in the current folder or above it, else in the notebook's folder or above it)")


def _add_call_timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--call-timeout", type=float, metavar="SECONDS",
                        help=f"the limit for one call into student code (default: the course's [limits] call_timeout, "
                             f"else {DEFAULT_CALL_TIMEOUT:g})")


def _limits(args: argparse.Namespace, course: Course) -> Limits:
    from grader.host.execute import Limits

    return Limits.of(course, call_timeout=args.call_timeout)


def _in_course(args: argparse.Namespace, near: Sequence[Path] = ()) -> contextlib.AbstractContextManager[Course]:
    return using(locate(args.course, near))


UNCONFINED_HELP = ("run the hidden tests even where student code cannot be confined (no root, no user namespaces): "
                   "student code can then read them and the course secret; the results record it")


def _launch_zygote(hidden: Sequence[Path] = (), *, allow_unconfined: bool = False
                   ) -> tuple[subprocess.Popen[bytes], socket.socket] | PlainLaunch:
    """Start the worker zygote before the grader imports torch, so that the two imports overlap
    (where this platform has no fork, see grader.host.platform_support: nothing to start yet)."""
    from grader.course import seeding
    from grader.host import platform_support

    seeding.course_secret()  # before the zygote starts, so that it is hidden from workers
    return platform_support.launch(hidden, allow_unconfined=allow_unconfined)


def _write(path: Path, text: str) -> None:
    from grader.safe_write import write_file

    write_file(path, text)  # never through a link planted at `path`


def _grade(argv: list[str]) -> int:
    args = _grade_parser().parse_args(argv)
    if args.feedback:
        require_extra("feedback", "grade --feedback")
    with _in_course(args, near=[args.submission]) as course:
        return _grade_in(args, course)


def _grade_in(args: argparse.Namespace, course: Course) -> int:
    if course.beside:  # the submission's own folder named it: say so, since a student may have put it there
        print(f"grade: using the course at {course.root}, found beside the notebook: public tests only",
              file=sys.stderr)
    launched = _launch_zygote(allow_unconfined=args.unconfined)
    from grader.grading.pipeline import grade
    from grader.host.execute import Zygote
    from grader.report.formats import (
        classroom,
        classroom_step_output,
        gradescope,
        junit,
        table,
    )

    with Zygote(launched) as workers:
        result = grade(args.submission, assignment=args.assignment, public_only=args.public, device=args.device,
                       limits=_limits(args, course), zygote=workers)
    if args.results:
        _write(args.results, json.dumps(gradescope(result), indent=2, allow_nan=False) + "\n")
    if args.feedback:
        from grader.report.feedback import feedback_page, read_notebook

        notebook = read_notebook(args.submission) if result.status == "graded" else None
        _write(args.feedback, feedback_page(result, notebook))
    if args.junit:
        _write(args.junit, junit(result))
    if args.classroom:
        document = classroom(result)
        _write(args.classroom, json.dumps(document, indent=2, allow_nan=False) + "\n")
        if os.environ.get("GITHUB_OUTPUT"):  # a GitHub Actions step: the reporter reads the `result` output
            with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as outputs:
                outputs.write(classroom_step_output(document) + "\n")
    if result.status == "unusable":
        print(f"grade: {args.submission}: {result.reason}", file=sys.stderr)
        return int(ExitCode.UNUSABLE_SUBMISSION)
    print(table(result))
    if result.grader_errors:
        for error in result.grader_errors:
            print(f"grade: grader error in {error}", file=sys.stderr)
        return int(ExitCode.INTERNAL_ERROR)
    if args.fail_under is not None and result.max_score and 100 * result.score / result.max_score < args.fail_under:
        return int(ExitCode.BELOW_FAIL_UNDER)
    return int(ExitCode.GRADED)


def _init(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="grade init", description=f"Make DIR an empty course: {COURSE_FILE} and an assignments/ folder.")
    parser.add_argument("folder", type=Path, metavar="DIR", help="the course's folder (made if missing)")
    parser.add_argument("--name", help="the course's name (default: the folder's name)")
    args = parser.parse_args(argv)
    from grader.course import init_course

    path = init_course(args.folder, name=args.name)
    print(f"wrote {path}")
    print(f"next: cd {args.folder} and run 'grade new NAME' to add an assignment")
    return int(ExitCode.GRADED)


def _release(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="grade release", description="Write an assignment's notebook for students.")
    parser.add_argument("assignment")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write NAME.ipynb into")
    parser.add_argument("--with-solutions", action="store_true", help="keep the solutions (the model answer)")
    _add_course_option(parser)
    args = parser.parse_args(argv)
    with _in_course(args, near=()) as course:
        return _release_in(args, course)


def _release_in(args: argparse.Namespace, course: Course) -> int:
    from grader.course.release import release_notebook

    path = release_notebook(args.assignment, args.out, with_solutions=args.with_solutions)
    print(f"wrote {path}")
    return int(ExitCode.GRADED)


def _new(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="grade new", description="Scaffold an assignment in the course's assignments folder: its declaration, "
                                      "a teaching notebook, one public and one hidden example test, accepted/.")
    parser.add_argument("assignment", metavar="NAME", help="the assignment's name: a Python identifier")
    parser.add_argument("--function", metavar="NAME", help="the graded function's name (default: the assignment's)")
    parser.add_argument("--title", help="the assignment's title (default: from its name)")
    _add_course_option(parser)
    args = parser.parse_args(argv)
    with _in_course(args):
        return _new_in(args)


def _new_in(args: argparse.Namespace) -> int:
    from grader.course.scaffold import new_assignment

    scaffold = new_assignment(args.assignment, function=args.function, title=args.title)
    print(f"wrote {scaffold.folder}/:")
    for path in scaffold.files:
        print(f"  {path}")
    print(f"next: write the notebook and the tests, add accepted answers to {scaffold.folder / 'accepted'}/, "
          f"then run: grade audit {args.assignment}")
    return int(ExitCode.GRADED)


def _list(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="grade list", description="List the course's assignments.")
    _add_course_option(parser)
    args = parser.parse_args(argv)
    with _in_course(args, near=()) as course:
        return _list_in(args, course)


def _list_in(args: argparse.Namespace, course: Course) -> int:
    from grader.course.assignment import available, load_every_test_here

    broken: list[tuple[str, str]] = []
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


def _batch(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="grade batch", description="Grade many notebooks into a gradebook: grades.csv, results/, summary.json.")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="notebooks, folders of them, or LMS downloads (Canvas/Moodle zips, Gradescope exports)")
    parser.add_argument("--out", type=Path, required=True, help="the folder for the gradebook and its outputs")
    parser.add_argument("--assignment", help="the assignment (default: each notebook's own)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="submissions graded at once (default: the number of cores)")
    parser.add_argument("--regrade", action="store_true", help="grade everything again, keeping the old scores")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="grade on a Dask cluster, e.g. tcp://host:8786")
    parser.add_argument("--quiet", action="store_true", help="plain lines, no live progress bar")
    parser.add_argument("--no-feedback", action="store_true",
                        help="skip the students' feedback pages (DIR/feedback/STUDENT.html)")
    _add_call_timeout_option(parser)
    parser.add_argument("--unconfined", action="store_true", help=UNCONFINED_HELP)
    _add_course_option(parser)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    require_extra("staff", "grade batch")
    if args.scheduler:
        require_extra("cluster", "grade batch --scheduler")
    with _in_course(args, near=()) as course:
        return _batch_in(args, course)


def _batch_in(args: argparse.Namespace, course: Course) -> int:
    args.out.mkdir(parents=True, exist_ok=True)  # it exists before the zygote starts, so that workers never see it
    launched = None if args.scheduler else _launch_zygote(hidden=(args.out,), allow_unconfined=args.unconfined)
    from grader.batch.progress import LiveProgress, PlainProgress, log_line
    from grader.batch.run import grade_batch
    from grader.batch.tasks import BatchOptions
    from grader.grading.pipeline import check_confinement
    from grader.host.execute import Zygote
    from grader.report.formats import points

    progress = PlainProgress() if args.quiet or not sys.stdout.isatty() else LiveProgress()
    options = BatchOptions(assignment=args.assignment, jobs=args.jobs, regrade=args.regrade,
                           scheduler=args.scheduler, call_timeout=args.call_timeout or course.call_timeout,
                           memory_mb=course.memory_mb, feedback=not args.no_feedback,
                           unconfined=args.unconfined)
    with Zygote(launched) if launched else contextlib.nullcontext() as workers:
        if workers is not None:  # before any submission: one line, rather than a grader error for each
            check_confinement(workers.isolation(), public_only=False)
        result = grade_batch(args.paths, args.out, options, progress, workers)
    failed = sum(g.failed for g in result.graded)
    print(f"graded {len(result.graded)} ({failed} not graded or with grader errors), "
          f"{len(result.unchanged)} unchanged; {len(result.rows)} in the gradebook")
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


def _gradescope(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="grade gradescope",
        description="Build a Gradescope autograder (a zip for the course staff's Gradescope account) for one "
                    "assignment. It holds the hidden tests and the course secret: never give it to students.")
    parser.add_argument("assignment")
    parser.add_argument("--out", type=Path, required=True, help="the zip to write, e.g. autograder.zip")
    _add_course_option(parser)
    args = parser.parse_args(argv)
    require_extra("staff", "grade gradescope")  # the bundle pins the feedback extra's versions from this install
    with _in_course(args, near=()) as course:
        return _gradescope_in(args, course)


def _gradescope_in(args: argparse.Namespace, course: Course) -> int:
    from grader.integrations.gradescope import build_gradescope_bundle

    path = build_gradescope_bundle(args.assignment, args.out)
    print(f"wrote {path}: upload it as the assignment's autograder on Gradescope (staff only)")
    return int(ExitCode.GRADED)


def _report(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="grade report",
        description="Write the class report from a batch's gradebook: one HTML page for instructors (scores, each "
                    "test's pass rate, time per submission, the submissions to look at) and summary.json.")
    parser.add_argument("folder", type=Path, metavar="DIR", help="the folder of 'grade batch PATH... --out DIR'")
    parser.add_argument("--out", type=Path, metavar="PATH", help="where to write the page (default: DIR/report.html)")
    args = parser.parse_args(argv)
    require_extra("staff", "grade report")
    from grader.batch.class_report import REPORT_FILE, class_report
    from grader.batch.exports import write_summary
    from grader.batch.gradebook import FILE_NAME, Gradebook

    if not (args.folder / FILE_NAME).is_file():
        raise UsageError(f"{args.folder} has no gradebook: run grade batch PATH... --out {args.folder} first")
    with Gradebook(args.folder / FILE_NAME) as book:
        rows = book.current_rows()
    page = args.out or args.folder / REPORT_FILE
    _write(page, class_report(rows))
    print(f"wrote {page}")
    print(f"wrote {write_summary(rows, args.folder)}")
    return int(ExitCode.GRADED)


def _audit(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="grade audit", description="Prove that assignments grade fairly: accepted answers score 100, "
                                        "answers that do nothing at most 10%%, every mutant of the solution "
                                        "loses points on its own function only, the same score every time.")
    parser.add_argument("assignments", nargs="*", metavar="NAME", help="the assignments (default: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="notebooks graded at once (default: the number of cores)")
    parser.add_argument("--mutants", type=int, default=16, metavar="N",
                        help="mutants of each graded name at most (default 16)")
    _add_call_timeout_option(parser)
    parser.add_argument("--verbose", action="store_true", help="list every mutant, killed ones too")
    _add_course_option(parser)
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.mutants < 0:
        parser.error("--jobs must be at least 1, --mutants at least 0")
    with _in_course(args, near=()) as course:
        return _audit_in(args, course)


def _audit_in(args: argparse.Namespace, course: Course) -> int:
    from grader.course.assignment import available

    known = available()
    names = args.assignments or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown assignment {', '.join(unknown)} in the course at {course.root} "
                         f"(known: {', '.join(known) or 'none'})")
    launched = _launch_zygote(allow_unconfined=True)  # the course's own notebooks: no student code
    from grader.course.audit import AuditOptions, audit, render
    from grader.course.seeding import course_secret
    from grader.host.execute import Zygote

    options = AuditOptions(jobs=args.jobs, per_function=args.mutants, limits=_limits(args, course))
    failed = []
    with Zygote(launched) as workers:
        for name in names:
            report = audit(name, workers, course_secret(), options)
            print(render(report, verbose=args.verbose), flush=True)
            if not report.passed:
                failed.append(name)
    if failed:
        print(f"grade: audit failed for {', '.join(failed)}", file=sys.stderr)
        return int(ExitCode.AUDIT_FAILED)
    return int(ExitCode.GRADED)


_COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "audit": _audit, "batch": _batch, "gradescope": _gradescope, "init": _init, "list": _list, "new": _new,
    "release": _release,
    "report": _report}
