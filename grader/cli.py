"""The `grade` command: parse arguments, call the library, render, pick the exit code.

The one place that catches `GraderError` (and any defect), so that a user
always reads one line, never a traceback, unless CONVGRADE_DEBUG is set.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from grader.errors import ExitCode, GraderError

def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] == "release":
            return _release(args[1:])
        if args and args[0] == "list":
            return _list()
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
        epilog="Other commands: 'grade release NAME --out DIR', 'grade list'.")
    parser.add_argument("submission", type=Path, help="the student's .ipynb")
    parser.add_argument("--assignment", help="the assignment (default: from the notebook's metadata)")
    parser.add_argument("--results", type=Path, help="write Gradescope's results.json here")
    parser.add_argument("--public", action="store_true", help="run only the public tests")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the tests run")
    parser.add_argument("--fail-under", type=float, metavar="PERCENT",
                        help=f"exit {int(ExitCode.BELOW_FAIL_UNDER)} when the score is under this percentage")
    parser.add_argument("--call-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="the limit for one call into student code (default 10)")
    return parser


def _grade(argv: list[str]) -> int:
    args = _grade_parser().parse_args(argv)
    from grader import seeding, zygote

    seeding.course_secret()  # before the zygote starts, so that it is hidden from workers
    launched = zygote.launch()  # its torch import overlaps the grader's own, below
    from grader.execute import Limits, Zygote
    from grader.pipeline import grade
    from grader.report import gradescope, table

    with Zygote(launched) as workers:
        result = grade(args.submission, assignment=args.assignment, public_only=args.public, device=args.device,
                       limits=Limits(call_timeout=args.call_timeout), zygote=workers)
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(gradescope(result), indent=2, allow_nan=False) + "\n")
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


def _release(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="grade release", description="Write an assignment's notebook for students.")
    parser.add_argument("assignment")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write NAME.ipynb into")
    parser.add_argument("--with-solutions", action="store_true", help="keep the solutions (the model answer)")
    args = parser.parse_args(argv)
    from grader.release import release_notebook

    path = release_notebook(args.assignment, args.out, with_solutions=args.with_solutions)
    print(f"wrote {path}")
    return int(ExitCode.GRADED)


def _list() -> int:
    from grader.assignment import available, load_assignment

    for name in available():
        definition = load_assignment(name, public_only=True)
        print(f"{name:<20} {definition.title}")
    return int(ExitCode.GRADED)
