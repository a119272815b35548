"""The `grade` command: parse arguments, call the library, render, pick the exit code.

The one place that catches `GraderError` (and any defect), so that a user
always reads one line, never a traceback, unless CONVGRADE_DEBUG is set.
`grade NB.ipynb` is short for `grade notebook NB.ipynb`; the command bodies
are in grader.commands.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from grader import commands
from grader.course import COURSE_FILE, DEFAULT_CALL_TIMEOUT, grader_version
from grader.course.seeding import default_secret_file
from grader.environment import (
    COURSE_ENVIRONMENT,
    SECRET_ENVIRONMENT,
    SECRET_FILE_ENVIRONMENT,
    debugging,
    usable_cpus,
)
from grader.errors import ExitCode, GraderError

if TYPE_CHECKING:
    from grader.session import Grader

PROG = "grade"
DEFAULT_COMMAND = "notebook"
Command = Callable[[argparse.Namespace, "Grader | None"], int]


def main(argv: Sequence[str] | None = None, *, grader: Grader | None = None) -> int:
    """Run the command line `argv`. `grader`: an open session the grading commands may reuse when it is for
    the same course and confinement (the tests share one; a batch always starts its own, to hide its --out)."""
    try:
        namespace = parse_command_line(sys.argv[1:] if argv is None else argv)
        run: Command = namespace.run
        return run(namespace, grader)
    except GraderError as error:
        print(f"{PROG}: {error.message}", file=sys.stderr)
        return int(error.exit_code)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the boundary: a defect becomes one line and a status
        if debugging():
            traceback.print_exc()
        print(f"{PROG}: internal error: {type(error).__name__}: {error} "
              "(set CONVGRADE_DEBUG=1 for the traceback)", file=sys.stderr)
        return int(ExitCode.INTERNAL_ERROR)


def parse_command_line(argv: Sequence[str]) -> argparse.Namespace:
    """`argv` parsed, `grade NB.ipynb` read as `grade notebook NB.ipynb`; its `command` names the command.
    argparse exits (status 2) on a command line it refuses."""
    args = list(argv)
    if not args or args[0] not in (*_COMMANDS, "help", "-h", "--help", "--version"):
        args = [DEFAULT_COMMAND, *args]
    return build_parser().parse_args(args)


def main_entry() -> None:
    code = main()
    # Everything is written and flushed; skip the interpreter's teardown of
    # torch, which costs a fifth of a second after the work is done.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Grade convolution notebooks against their assignments' public and hidden tests.",
        usage=f"{PROG} NB.ipynb [options]  |  {PROG} COMMAND ...",
        epilog=f"Environment: ${COURSE_ENVIRONMENT} (the course, below --course), ${SECRET_ENVIRONMENT} (the course "
               f"secret itself), ${SECRET_FILE_ENVIRONMENT} (else its file; default: the course's `secret`, else "
               f"{default_secret_file()}), $CONVGRADE_DEBUG (tracebacks). 'grade help COMMAND' shows a command's "
               "options.")
    parser.add_argument("--version", action="version", version=f"%(prog)s (convgrade) {grader_version()}")
    subcommands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name, command in _COMMANDS.items():
        # `help` is %-formatted by argparse, the description is not.
        subparser = subcommands.add_parser(name, prog=f"{PROG} {name}", help=command.summary.replace("%", "%%"),
                                           description=command.summary,
                                           parents=[_shared_option(option) for option in command.shared])
        command.arguments(subparser)
        subparser.set_defaults(run=command.run, command=name)
    helper = subcommands.add_parser("help", help="show the help of a command (or of grade itself)")
    helper.add_argument("topic", nargs="?", metavar="COMMAND")
    helper.set_defaults(run=lambda args, _: _help(parser, args.topic), command="help")
    return parser


SharedOption = Literal["course", "call-timeout", "unconfined", "jobs"]


def _shared_option(option: SharedOption) -> argparse.ArgumentParser:
    """An option several commands take: declared once here, with its default."""
    parent = argparse.ArgumentParser(add_help=False)
    if option == "course":
        parent.add_argument("--course", type=Path, metavar="DIR",
                            help=f"the course folder, which holds {COURSE_FILE} (default: ${COURSE_ENVIRONMENT}, "
                                 "else the first one in the current folder or above it; for one notebook, then in "
                                 "the notebook's folder or above it, with its public tests only)")
    elif option == "call-timeout":
        parent.add_argument("--call-timeout", type=_number(float, lambda v: v > 0, "positive"), metavar="SECONDS",
                            help="one fixed limit for every call into student code (default: each graded "
                                 "function's calibrated budget, from its assignment's budgets.json, at most the "
                                 f"course's [limits] call_timeout, else {DEFAULT_CALL_TIMEOUT:g}; that call_timeout "
                                 "for every call where no calibration is current)")
    elif option == "unconfined":
        parent.add_argument("--unconfined", action="store_true",
                            help="run the hidden tests even where student code cannot be confined (no root, no "
                                 "user namespaces): student code can then read them and the course secret; the "
                                 "results record it")
    else:
        parent.add_argument("--jobs", type=_number(int, lambda v: v > 0, "positive"), default=usable_cpus(),
                            metavar="N",
                            help="notebooks graded at once (default: the number of cores)")
    return parent


def _number(kind: Callable[[str], float], valid: Callable[[float], bool], requirement: str
            ) -> Callable[[str], float]:
    """An argparse type: a `kind` of number that is `valid`, else "must be {requirement}"."""
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, not {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _help(parser: argparse.ArgumentParser, topic: str | None) -> int:
    if topic is None:
        parser.print_help()
        return int(ExitCode.GRADED)
    if topic not in _COMMANDS:
        parser.error(f"no command {topic!r} (commands: {', '.join(_COMMANDS)})")
    parser.parse_args([topic, "--help"])  # prints it and exits 0
    return int(ExitCode.GRADED)


# ---------------------------------------------------------------- each command's own arguments


def _notebook_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submission", type=Path, help="the student's .ipynb")
    parser.add_argument("--assignment", help="the assignment (default: from the notebook's metadata)")
    outputs = parser.add_argument_group("outputs (PATH, or - for stdout, which moves the table to stderr)")
    for output in commands.OUTPUTS.values():
        outputs.add_argument(f"--{output.option}", type=Path, metavar="PATH", help=output.help)
    parser.add_argument("--public", action="store_true", help="run only the public tests")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the tests run")
    parser.add_argument("--fail-under", type=float, metavar="PERCENT",
                        help=f"exit {int(ExitCode.BELOW_FAIL_UNDER)} when the score is under this percentage")


def _init_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, metavar="DIR", help="the course's folder (made if missing)")
    parser.add_argument("--name", help="the course's name (default: the folder's name)")


def _new_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", metavar="NAME", help="the assignment's name: a Python identifier")
    parser.add_argument("--function", metavar="NAME", help="the graded function's name (default: the assignment's)")
    parser.add_argument("--title", help="the assignment's title (default: from its name)")


def _release_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", metavar="NAME")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write NAME.ipynb into")
    parser.add_argument("--with-solutions", action="store_true", help="keep the solutions (the model answer)")


def _gradescope_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", metavar="NAME")
    parser.add_argument("--out", type=Path, required=True, help="the zip to write, e.g. autograder.zip")


def _batch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="notebooks, folders of them, or LMS downloads (Canvas/Moodle zips, Gradescope exports)")
    parser.add_argument("--out", type=Path, required=True, help="the folder for the gradebook and its outputs")
    parser.add_argument("--assignment", help="the assignment (default: each notebook's own)")
    parser.add_argument("--regrade", action="store_true", help="grade everything again, keeping the old scores")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="grade on a Dask cluster, e.g. tcp://host:8786")
    parser.add_argument("--quiet", action="store_true", help="plain lines, no live progress bar")
    parser.add_argument("--no-feedback", action="store_true",
                        help="skip the students' feedback pages (DIR/feedback/STUDENT.html)")


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, metavar="DIR", help="the folder of 'grade batch PATH... --out DIR'")
    parser.add_argument("--out", type=Path, metavar="PATH",
                        help="where to write the page (default: DIR/report.html)")


def _audit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignments", nargs="*", metavar="NAME", help="the assignments (default: all)")
    parser.add_argument("--mutants", type=_number(int, lambda v: v >= 0, "at least 0"), default=16, metavar="N",
                        help="mutants of each graded name at most (default 16)")
    parser.add_argument("--verbose", action="store_true", help="list every mutant, killed ones too")


def _calibrate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignments", nargs="*", metavar="NAME", help="the assignments (default: all)")


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


@dataclasses.dataclass(frozen=True)
class _Command:
    summary: str
    run: Command
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments   # its own
    shared: tuple[SharedOption, ...] = ()


_COMMANDS = {
    DEFAULT_COMMAND: _Command("grade one notebook against its assignment's tests (the default: grade NB.ipynb)",
                              commands.grade_notebook, _notebook_arguments, ("call-timeout", "unconfined", "course")),
    "batch": _Command("grade many notebooks into a gradebook: grades.csv, results/, feedback/, summary.json",
                      commands.grade_batch, _batch_arguments, ("jobs", "call-timeout", "unconfined", "course")),
    "report": _Command("write the class report from a batch's gradebook: one HTML page for instructors, and "
                       "summary.json", commands.class_report, _report_arguments),
    "audit": _Command("prove that assignments grade fairly: accepted answers score 100, answers that do nothing at "
                      "most 10%, every mutant of the solution loses points on its own function only, the same score "
                      "every time", commands.audit, _audit_arguments, ("jobs", "call-timeout", "course")),
    "calibrate": _Command("measure how long the accepted answers' calls take and write each assignment's call "
                          "budgets (assignments/NAME/budgets.json); run it whenever the tests change",
                          commands.calibrate, _calibrate_arguments, ("course",)),
    "init": _Command(f"make DIR an empty course: {COURSE_FILE} and an assignments/ folder", commands.init,
                     _init_arguments),
    "new": _Command("scaffold an assignment: its declaration, a teaching notebook, a public and a hidden example "
                    "test, accepted/", commands.new, _new_arguments, ("course",)),
    "list": _Command("list the course's assignments", commands.list_assignments, shared=("course",)),
    "release": _Command("write an assignment's notebook for students, and its public kit", commands.release,
                        _release_arguments, ("course",)),
    "gradescope": _Command("build a Gradescope autograder zip for one assignment: it holds the hidden tests and the "
                           "course secret, so never give it to students", commands.gradescope,
                           _gradescope_arguments, ("course",)),
}
