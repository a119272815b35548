from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import TESTS_SECRET, TOY_ASSIGNMENTS, use_course


@pytest.fixture(scope="session")
def toy_assignments() -> Iterator[Path]:
    """The grader's own fixture assignment ('toy'), and a fixed course secret."""
    with pytest.MonkeyPatch.context() as patch:
        use_course(patch, TOY_ASSIGNMENTS)
        patch.setenv("CONVGRADE_SECRET", TESTS_SECRET.decode())  # for the CLI
        yield TOY_ASSIGNMENTS


@pytest.fixture(scope="session")
def course(toy_assignments: Path) -> Path:
    """The course this folder's tests grade in (the zygote's): the toy's."""
    return toy_assignments


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty assignments folder that the grader reads instead of the course's."""
    folder = tmp_path / "assignments"
    folder.mkdir()
    use_course(monkeypatch, folder)
    return folder


@pytest.fixture
def broken_toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toy_assignments: Path) -> Path:
    """The toy assignment with one hidden test (scale_doubles, 20 points) that fails on its own code."""
    root = tmp_path / "broken_assignments"
    shutil.copytree(toy_assignments, root)
    hidden = root / "toy" / "hidden_tests.py"
    source = hidden.read_text()
    assert "2 * x, what" in source
    hidden.write_text(source.replace("2 * x, what", "2 * undefined_in_the_test, what"))
    use_course(monkeypatch, root)
    return root


@pytest.fixture
def toy_course(toy_assignments: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the toy assignment in a course of its own, with its solution as the one accepted answer."""
    root = tmp_path / "assignments"
    shutil.copytree(toy_assignments, root)
    (root / "toy" / "accepted").mkdir()
    shutil.copy(root / "toy" / "toy.ipynb", root / "toy" / "accepted" / "same_as_taught.ipynb")
    use_course(monkeypatch, root)
    return root
