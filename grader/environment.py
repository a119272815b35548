"""What the entry points read from the environment; the library itself never does.

The entry points are the `grade` command, the pytest plugin, the in-notebook
self-check's grading process, a Dask worker (grader.batch.cluster) and
Gradescope's run_autograder: each reads these once and hands the values to a
`Grader` session, so that a program using the library decides everything it
passes. Besides them, only the debugging switch is read where it applies, the
default secret file follows $XDG_CONFIG_HOME (grader.course.seeding), and a
process that runs student code inherits the few variables of
`worker_environment`, never the rest (the secret, a CI's credentials).
Imports nothing of the grader: the `grade` command uses it before it
replaces itself with its warm start (grader.host.warm_start).
"""

from __future__ import annotations

import os
from pathlib import Path

COURSE_ENVIRONMENT = "CONVGRADE_COURSE"          # the course folder, below --course
SECRET_ENVIRONMENT = "CONVGRADE_SECRET"  # noqa: S105 - the variable's name; its value is the secret
SECRET_FILE_ENVIRONMENT = "CONVGRADE_SECRET_FILE"  # noqa: S105 - the name of the variable naming its file
DEBUG_ENVIRONMENT = "CONVGRADE_DEBUG"            # tracebacks, and the workers' stderr
_WORKER_ENVIRONMENT = (DEBUG_ENVIRONMENT, "PATH", "LANG", "LC_ALL", "CUDA_VISIBLE_DEVICES", "VIRTUAL_ENV")
GRADER_PARENT = Path(__file__).resolve().parents[1]   # the folder that holds the grader package


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


def worker_environment(*also: str) -> dict[str, str]:
    """What a process that runs student code starts with: a few of the grader's variables (and `also`),
    and on its path the grader package's parent alone, never the caller's PYTHONPATH, which may name
    the course's checkout."""
    environment = {key: os.environ[key] for key in (*_WORKER_ENVIRONMENT, *also) if key in os.environ}
    environment["PYTHONPATH"] = str(GRADER_PARENT)
    return environment


def zygote_environment() -> dict[str, str]:
    """The worker zygote's: the workers' variables, fewer malloc arenas reserved under their
    address-space cap, and OpenMP threads that sleep while they wait: spinning, they would count as
    computing against a call's budget (grader.host.worker_clock) whenever the machine is busy."""
    return {**worker_environment(), "MALLOC_ARENA_MAX": "2", "OMP_WAIT_POLICY": "PASSIVE"}


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity (`taskset`, a container's cpuset), which
    os.cpu_count() ignores, so that one CPU gets one thread, not one per core of the machine."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
