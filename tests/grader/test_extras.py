"""The package's extras: a student's install holds none of them, and a command that needs a missing one says
which to install, in one line."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from grader.cli import main
from grader.extras import EXTRAS
from grader.host.paths import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]


def block(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """As if those libraries were not installed."""
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    (line,) = capsys.readouterr().err.splitlines()
    return line


def test_grade_batch_without_the_staff_extra_names_it(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    block(monkeypatch, "rich", "yaml")
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "gradebook")]) == 2
    assert one_line(capsys) == ("grade: grade batch needs convgrade[staff]: pip install 'convgrade[staff]' "
                                "(missing: yaml, rich)")


def test_grade_batch_on_a_cluster_without_the_cluster_extra_names_it(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    block(monkeypatch, "distributed")
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "gradebook"), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert one_line(capsys) == ("grade: grade batch --scheduler needs convgrade[cluster]: "
                                "pip install 'convgrade[cluster]' (missing: distributed)")


def test_a_feedback_page_without_the_feedback_extra_names_it_before_grading(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], toy_assignments: Path,
        tmp_path: Path) -> None:
    block(monkeypatch, "nh3")
    page = tmp_path / "feedback.html"
    assert main([str(toy_assignments / "toy" / "toy.ipynb"), "--feedback", str(page)]) == 2
    assert one_line(capsys) == ("grade: grade --feedback needs convgrade[feedback]: "
                                "pip install 'convgrade[feedback]' (missing: nh3)")
    assert not page.exists()


def test_the_class_report_without_the_staff_extra_names_it(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    block(monkeypatch, "matplotlib")
    assert main(["report", str(tmp_path)]) == 2
    assert one_line(capsys).startswith("grade: grade report needs convgrade[staff]: pip install 'convgrade[staff]'")


def requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s;\[<>=!~]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def extra_distributions(extra: str) -> set[str]:
    """Every distribution an extra brings, through the extras it includes (convgrade[feedback])."""
    found: set[str] = set()
    for requirement in PYPROJECT["optional-dependencies"][extra]:
        if requirement.startswith("convgrade["):
            for included in requirement[len("convgrade["):-1].split(","):
                found |= extra_distributions(included)
        else:
            found |= requirement_names([requirement])
    return found


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_each_extras_modules_come_from_that_extra_and_not_from_the_students_install(extra: str) -> None:
    distributions = importlib.metadata.packages_distributions()
    students = requirement_names(PYPROJECT["dependencies"])
    for module in EXTRAS[extra]:
        (distribution,) = {name.lower() for name in distributions[module]}
        assert distribution in extra_distributions(extra), (module, distribution)
        assert distribution not in students, (module, distribution)


def test_dev_installs_every_extra() -> None:
    assert set().union(*(extra_distributions(extra) for extra in EXTRAS)) <= extra_distributions("dev")


@pytest.mark.slow
def test_a_students_install_grades_a_notebook_without_any_extra(toy_assignments: Path) -> None:
    """`grade NB --public` and its table, with every extra's libraries unimportable."""
    modules = sorted({module for extra in EXTRAS.values() for module in extra})
    code = ("import sys\n"
            f"for name in {modules!r}:\n"
            "    sys.modules[name] = None\n"
            "from grader.cli import main\n"
            "sys.exit(main(sys.argv[1:]))")
    finished = subprocess.run([sys.executable, "-c", code, str(toy_assignments / "toy" / "toy.ipynb"), "--public"],
                              env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True,
                              timeout=600)
    assert finished.returncode == 0, finished.stderr
    assert "Score: 20 / 20" in finished.stdout
