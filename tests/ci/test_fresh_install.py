"""A new user's session, end to end, from the built wheel in a fresh venv (not this editable checkout).

An instructor makes a course, scaffolds an assignment, audits it, grades and
releases it; a student, in the kit's folder with no environment variable,
runs the public tests from the terminal and `check()` from a real Jupyter
kernel. Slow (a venv and the wheel's dependencies), so marked slow.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat
import pytest

from grader.host.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow

TORCH = "torch==2.13.0"  # first, and pinned: an open range would pull a CUDA build of several GB
KERNEL_PACKAGES = ("ipykernel", "nbclient")  # what a student's Jupyter brings, for the kernel check() runs in

RUN_NOTEBOOK = """
import sys
import nbformat
from nbclient import NotebookClient
notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(notebook, sys.argv[3])
"""


class Session:
    """Commands run as a new user would: the fresh venv's tools first on PATH, a home of their own, no CONVGRADE_*."""

    def __init__(self, venv: Path, home: Path) -> None:
        self.venv = venv
        home.mkdir(exist_ok=True)
        self.environment = {key: value for key, value in os.environ.items()
                            if not key.startswith(("CONVGRADE_", "PYTHON", "VIRTUAL_ENV"))}
        self.environment.update(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", HOME=str(home),
                                XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local" / "share"))

    def run(self, command: Sequence[str], cwd: Path, *, expect: int = 0, timeout: float = 600) -> str:
        finished = subprocess.run(list(command), cwd=cwd, env=self.environment, capture_output=True, text=True,
                                  timeout=timeout, check=False)
        output = finished.stdout + finished.stderr
        assert finished.returncode == expect, f"{' '.join(command)} exited {finished.returncode}:\n{output}"
        return output


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    """A fresh venv with the grader's wheel (and a Jupyter kernel), nothing of this checkout."""
    folder = tmp_path_factory.mktemp("fresh-install")
    source = folder / "source"  # the wheel is built from a copy: no build/ or egg-info left in the checkout
    shutil.copytree(PROJECT_ROOT / "grader", source / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "-w", str(folder / "dist"), str(source)], check=True, capture_output=True)
    (wheel,) = (folder / "dist").glob("convgrade-*.whl")
    venv = folder / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, TORCH], check=True, capture_output=True)
    subprocess.run([*pip, str(wheel), *KERNEL_PACKAGES], check=True, capture_output=True)
    return Session(venv, folder / "home")


def test_the_wheel_holds_the_grader_and_nothing_of_a_course(session: Session) -> None:
    listing = session.run([str(session.venv / "bin" / "python"), "-c",
                           "import importlib.metadata as m; print('\\n'.join(str(f) for f in m.files('convgrade')))"],
                          cwd=session.venv)
    files = listing.split()
    assert any(name.startswith("grader/") for name in files)
    assert not [name for name in files if name.startswith(("reference/", "assignments/", "tests/"))
                or ("hidden_tests" in name and not name.startswith("grader/course/templates/"))]
    assert "grader/course/templates/assignment/hidden_tests.py.tmpl" in files  # the scaffold's: an example, no course's


def test_an_instructor_makes_a_course_and_a_student_checks_their_work_in_the_kit(
        session: Session, tmp_path: Path) -> None:
    grade = str(session.venv / "bin" / "grade")
    assert "no course here" in session.run([grade, "list"], cwd=tmp_path, expect=2)
    session.run([grade, "init", "course"], cwd=tmp_path)
    course = tmp_path / "course"
    created = session.run([grade, "new", "pooling2"], cwd=course)
    assert "grade audit pooling2" in created
    audit = session.run([grade, "audit", "pooling2"], cwd=course, expect=7)  # honest: no tests written yet
    assert "pooling2" in audit
    assert "pooling2" in session.run([grade, "list"], cwd=course / "assignments")  # found upward
    taught = course / "assignments" / "pooling2" / "pooling2.ipynb"
    graded = session.run([grade, str(taught)], cwd=course)
    assert "Score: 100 / 100" in graded, graded

    session.run([grade, "release", "pooling2", "--out", str(tmp_path / "kit")], cwd=course)
    session.run([grade, "release", "pooling2", "--with-solutions", "--out", str(tmp_path / "solved")], cwd=course)
    student = tmp_path / "student"  # where the student unpacks the kit: far from the course
    shutil.copytree(tmp_path / "kit", student)
    stub = session.run([grade, "--public", "pooling2.ipynb"], cwd=student)
    assert "Score: 0 /" in stub, stub

    finished = nbformat.read(tmp_path / "solved" / "pooling2.ipynb", as_version=4)
    finished.cells.append(nbformat.v4.new_code_cell("from grader import check\ncheck()"))
    nbformat.write(finished, student / "finished.ipynb")
    runner = tmp_path / "run_notebook.py"
    runner.write_text(RUN_NOTEBOOK)
    session.run([str(session.venv / "bin" / "python"), str(runner), str(student / "finished.ipynb"), str(student),
                 str(tmp_path / "executed.ipynb")], cwd=student)
    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    html = "".join(output.get("data", {}).get("text/html", "") for output in executed.cells[-1].outputs)
    marks = re.findall(r"<tr><td[^>]*><code>([^<]*)</code></td><td>([^<]*)</td><td[^>]*>(\w+)</td>", html)
    assert marks and all(mark == "pass" for _, _, mark in marks), executed.cells[-1].outputs
    assert "confined" not in html.lower() or "not confined" not in html.lower()
