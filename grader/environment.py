"""What the entry points read from the environment; the library itself never does.

The entry points are the `grade` command, the pytest plugin, the in-notebook
self-check's grading process, a Dask worker (grader.batch.cluster) and
Gradescope's run_autograder: each reads these once and hands the values to a
`Grader` session, so that a program using the library decides everything it
passes. Besides them, only the debugging switch is read where it applies, and
the default secret file follows $XDG_CONFIG_HOME (grader.course.seeding).
"""

from __future__ import annotations

import os
from pathlib import Path

COURSE_ENVIRONMENT = "CONVGRADE_COURSE"          # the course folder, below --course
SECRET_ENVIRONMENT = "CONVGRADE_SECRET"  # noqa: S105 - the variable's name; its value is the secret
SECRET_FILE_ENVIRONMENT = "CONVGRADE_SECRET_FILE"  # noqa: S105 - the name of the variable naming its file
DEBUG_ENVIRONMENT = "CONVGRADE_DEBUG"            # tracebacks, and the workers' stderr


def configured_course() -> Path | None:
    value = os.environ.get(COURSE_ENVIRONMENT)
    return Path(value) if value else None


def configured_secret() -> bytes | Path | None:
    """The secret's value, else the file that holds it; None: the course's own choice."""
    value = os.environ.get(SECRET_ENVIRONMENT)
    if value:
        return value.encode()
    path = os.environ.get(SECRET_FILE_ENVIRONMENT)
    return Path(path) if path else None


def debugging() -> bool:
    return bool(os.environ.get(DEBUG_ENVIRONMENT))
