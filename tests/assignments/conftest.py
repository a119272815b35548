"""Fixtures of the assignments' self-checks.

A self-check module names its assignment in a module-level `ASSIGNMENT`;
the fixtures that depend on the assignment read it from there, so that each
module gets its own (module-scoped) definition; they share the course's zygote.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from grader.course.assignment import Assignment, load_assignment
from tests.helpers import TESTS_SECRET, use_course

# The shared checks assert on behalf of the modules that call them: pytest explains
# a failed assert only in modules it rewrites, and rewrites them only if told before
# their first import.
pytest.register_assert_rewrite("tests.assignments.solutions")

from tests.assignments.solutions import ASSIGNMENTS  # noqa: E402 - only once the rewrite is registered (above)


@pytest.fixture(scope="module")
def course() -> Iterator[Path]:
    """The project's assignments and a fixed course secret, whatever other test modules set."""
    with pytest.MonkeyPatch.context() as patch:
        use_course(patch, ASSIGNMENTS)
        patch.setenv("CONVGRADE_SECRET", TESTS_SECRET.decode())  # for the CLI and the kernels a test starts
        yield ASSIGNMENTS


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """The in-process runs are many tiny tensor ops: threads only contend on a busy machine.

    Not autouse: a module opts in with `pytestmark = pytest.mark.usefixtures("one_thread")`,
    so that the modules that never asked for one thread still run with all of them.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def definition(request: pytest.FixtureRequest, course: Path) -> Assignment:
    """The requesting module's assignment, public and hidden tests, loaded once per module."""
    return load_assignment(request.module.ASSIGNMENT)
