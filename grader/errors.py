"""Exit statuses, and the exceptions that carry one to the CLI.

A student's failure is data (a test outcome, an unusable submission); these
exceptions are for the grader's own misuse and defects. Each carries the
one-line message a user should read, and the CLI is the one place that
catches them.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    GRADED = 0                 # graded, whatever the score
    USAGE = 2                  # wrong command line (argparse's own code)
    UNUSABLE_SUBMISSION = 3    # the file is not a gradable notebook; results still written
    BROKEN_ASSIGNMENT = 4      # the assignment's definition or tests are broken
    INTERNAL_ERROR = 5         # a defect in the grader
    BELOW_FAIL_UNDER = 6       # graded, but the score is under --fail-under
    AUDIT_FAILED = 7           # `grade audit`: an assignment does not grade fairly


class GraderError(Exception):
    exit_code = ExitCode.INTERNAL_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(GraderError):
    exit_code = ExitCode.USAGE


class AssignmentError(GraderError):
    exit_code = ExitCode.BROKEN_ASSIGNMENT
