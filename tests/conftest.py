"""Fixtures for every test folder, and the markers that say what a test needs of the machine.

A folder whose tests grade notebooks defines `course`: the course they grade in, made the current one
for as long as the fixture lives. `grader` is that course's Grader session, `zygote` its worker zygote.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest

from grader.course import active
from grader.host.execute import Zygote
from grader.session import Grader
from tests.browser import CHROMIUM
from tests.helpers import TESTS_SECRET, MakeNotebook


def _not_root() -> str | None:
    return None if os.geteuid() == 0 else "needs root: confinement by namespaces and user, running workers as nobody"


def _no_chromium() -> str | None:
    return None if CHROMIUM is not None else ("Debian's chromium is not on PATH (apt-get install chromium), "
                                              "so the page cannot be loaded in a headless browser")


def _no_cuda() -> str | None:
    import torch  # only where a test asks: most folders never load it in the test process

    return None if torch.cuda.is_available() else "no CUDA device on this machine"


# Each marker's check of the machine: the reason a test that has the marker is skipped, or None.
_MISSING: dict[str, Callable[[], str | None]] = {"root": _not_root, "browser": _no_chromium, "cuda": _no_cuda}


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers():
        missing = _MISSING.get(marker.name)
        reason = missing() if missing is not None else None
        if reason is not None:
            pytest.skip(reason)


@pytest.fixture
def make_notebook(tmp_path: Path) -> MakeNotebook:
    """Write a notebook of the given code cells (strings) and return its path.

    `assignment=` puts the assignment's name in the metadata, as a release does.
    """
    counter = iter(range(1_000_000))

    def make(*cells: str, assignment: str | None = None, name: str | None = None) -> Path:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        if assignment is not None:
            nb.metadata["convgrade"] = {"assignment": assignment}
        path = tmp_path / (name or f"submission_{next(counter)}.ipynb")
        nbformat.write(nb, path)
        return path

    return make


@pytest.fixture(scope="session")
def session_of_course() -> Iterator[Callable[[Path], Grader]]:
    """Opens a course's Grader session the first time it is asked for (the course the folder's `course`
    fixture selected), and closes them all when the test session ends."""
    with contextlib.ExitStack() as running:
        opened: dict[Path, Grader] = {}

        def of(course: Path) -> Grader:
            if course not in opened:
                opened[course] = running.enter_context(Grader(active(), secret=TESTS_SECRET))
            return opened[course]

        yield of


@pytest.fixture(scope="module")
def grader(course: Path, session_of_course: Callable[[Path], Grader]) -> Grader:
    """The Grader session of the folder's course (whose zygote hides it from workers), one a test session:
    starting one costs a torch import, far more than a test."""
    return session_of_course(course)


@pytest.fixture(scope="module")
def zygote(grader: Grader) -> Zygote:
    """The session's zygote, for the tests that drive an Execution themselves."""
    return grader.zygote()
