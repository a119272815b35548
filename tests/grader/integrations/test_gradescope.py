"""The Gradescope bundle: what goes into the zip, and its run_autograder grading as Gradescope would run it."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.cli import main
from grader.errors import AssignmentError, UsageError
from grader.host.paths import PROJECT_ROOT
from grader.integrations.gradescope import (
    CONSTRAINTS,
    PROJECT,
    SECRET,
    build_gradescope_bundle,
)
from tests.helpers import TESTS_SECRET, MakeNotebook, select_course, use_course

BUNDLE_SECRET = b"bundle-test-secret"

COURSE_ASSIGNMENTS = PROJECT_ROOT / "assignments"
ZEROS_CORR2D = ("import torch\n"
                "def corr2d(X, K):\n"
                "    return torch.zeros(X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1)\n"
                "def scale(x):\n"
                "    return 2 * x")


def modes(bundle: Path) -> dict[str, int]:
    with zipfile.ZipFile(bundle) as archive:
        return {info.filename: stat.S_IMODE(info.external_attr >> 16) for info in archive.infolist()}


@pytest.fixture
def course_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bundle of a real assignment, out of the course's four."""
    select_course(monkeypatch, PROJECT_ROOT)  # this checkout: a course, with its reference/
    return build_gradescope_bundle("cross_correlation", tmp_path / "autograder.zip", BUNDLE_SECRET)


def test_the_scripts_gradescope_runs_are_at_the_root_and_executable(course_bundle: Path) -> None:
    found = modes(course_bundle)
    assert found["setup.sh"] == 0o755 and found["run_autograder"] == 0o755
    with zipfile.ZipFile(course_bundle) as archive:
        for script in ("setup.sh", "run_autograder"):
            assert archive.read(script).startswith(b"#!/usr/bin/env bash\n")


def test_the_bundle_holds_only_its_assignment_with_the_hidden_tests(course_bundle: Path) -> None:
    names = set(modes(course_bundle))
    packed = {name.split("/")[2] for name in names if name.startswith(f"{PROJECT}/assignments/")}
    assert packed == {"cross_correlation"}
    assert len([p for p in COURSE_ASSIGNMENTS.iterdir() if (p / "assignment.toml").is_file()]) > 1
    folder = COURSE_ASSIGNMENTS / "cross_correlation"
    assert {f"{PROJECT}/assignments/cross_correlation/{p.name}" for p in folder.iterdir() if p.is_file()} <= names
    assert f"{PROJECT}/assignments/cross_correlation/hidden_tests.py" in names


def test_the_bundle_holds_the_grader_project_and_nothing_of_tests_git_or_caches(course_bundle: Path) -> None:
    names = set(modes(course_bundle))
    for package in ("grader", "reference"):
        sources = {f"{PROJECT}/{package}/{p.relative_to(PROJECT_ROOT / package).as_posix()}"
                   for p in (PROJECT_ROOT / package).rglob("*.py") if "__pycache__" not in p.parts}
        assert sources and sources <= names
    assert {f"{PROJECT}/pyproject.toml", f"{PROJECT}/README.md", f"{PROJECT}/convgrade.toml"} <= names
    for name in names:
        parts = name.split("/")
        assert parts[0] in {"setup.sh", "run_autograder", CONSTRAINTS, PROJECT, "secret"}, name
        assert not {"tests", ".git", "__pycache__", "examples", "benchmarks", ".ci"} & set(parts), name
        assert not name.endswith(".pyc"), name


def test_the_bundle_carries_the_course_secret_readable_by_its_owner_alone(course_bundle: Path) -> None:
    assert modes(course_bundle)[SECRET] == 0o600
    with zipfile.ZipFile(course_bundle) as archive:
        assert archive.read(SECRET).strip() == b"bundle-test-secret"


def test_the_same_checkout_builds_the_same_bytes(course_bundle: Path, tmp_path: Path) -> None:
    again = build_gradescope_bundle("cross_correlation", tmp_path / "again.zip", BUNDLE_SECRET)
    assert again.read_bytes() == course_bundle.read_bytes()


def test_an_assignment_without_hidden_tests_or_unknown_gets_no_bundle(
        toy_assignments: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    main(["release", "toy", "--out", str(tmp_path / "kit")])
    use_course(monkeypatch, tmp_path / "kit" / "assignments")  # a course's folder without hidden tests
    with pytest.raises(AssignmentError, match=re.escape("no hidden_tests.py")):
        build_gradescope_bundle("toy", tmp_path / "autograder.zip", BUNDLE_SECRET)
    with pytest.raises(UsageError, match="unknown assignment 'nope'"):
        build_gradescope_bundle("nope", tmp_path / "autograder.zip", BUNDLE_SECRET)
    assert not (tmp_path / "autograder.zip").exists()


@pytest.mark.parametrize("script", ["setup.sh", "run_autograder"])
def test_the_scripts_are_valid_bash(script: str) -> None:
    checked = subprocess.run(["bash", "-n", str(PROJECT_ROOT / "ci" / "gradescope" / script)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_setup_installs_cpu_torch_first_then_the_packed_grader_both_through_the_constraints() -> None:
    """The behaviour changed with the constraints file: torch's version is the one it pins, no longer a literal."""
    script = (PROJECT_ROOT / "ci" / "gradescope" / "setup.sh").read_text()
    assert f'CONSTRAINTS="$SOURCE/{CONSTRAINTS}"' in script
    installs = [command for command in script.replace("\\\n", " ").splitlines() if " -m pip install " in command
                and "--upgrade pip" not in command]
    torch, grader = installs
    assert " torch " in torch and "--index-url https://download.pytorch.org/whl/cpu" in torch
    assert f'"$SOURCE/{PROJECT}[feedback]"' in grader and "cluster" not in grader
    assert all('--constraint "$CONSTRAINTS"' in command for command in installs)


def pins(bundle: Path) -> dict[str, str]:
    with zipfile.ZipFile(bundle) as archive:
        text = archive.read(CONSTRAINTS).decode()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert all(re.fullmatch(r"[a-z0-9-]+==\S+", line) for line in lines), lines
    return dict(line.split("==") for line in lines)


def test_the_bundle_pins_every_library_setup_installs_at_this_environments_versions(course_bundle: Path) -> None:
    pinned = pins(course_bundle)
    assert pinned == {name: importlib.metadata.version(name) for name in pinned}
    # The grader's own requirements and its feedback extra's, torch and what they bring in turn.
    assert {"torch", "numpy", "nbformat", "ipython", "nbconvert", "nh3", "matplotlib", "pillow", "traitlets",
            "jinja2", "sympy"} <= set(pinned)
    assert not {"convgrade", "distributed", "pytest", "rich"} & set(pinned)  # itself, the cluster, dev, staff only
    for name in pinned:  # closed: every unconditional requirement of a pinned library is pinned too
        for requirement in importlib.metadata.requires(name) or []:
            if ";" not in requirement:
                required = re.split(r"[\s\[<>=!~(]", requirement, maxsplit=1)[0].lower().replace("_", "-")
                assert required in pinned, (name, requirement)


# Gradescope, simulated: the bundle unpacked into AUTOGRADER_ROOT/source, the
# upload in AUTOGRADER_ROOT/submission, run_autograder run with the grader
# already installed (this venv) in place of what setup.sh installs.


@pytest.fixture(scope="module")
def autograder(toy_assignments: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A Gradescope-like root with the toy assignment's bundle unpacked, modes kept, as unzip does."""
    root = tmp_path_factory.mktemp("autograder")
    bundle = build_gradescope_bundle("toy", root / "autograder.zip", TESTS_SECRET)
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            target = Path(archive.extract(info, root / "source"))
            target.chmod(stat.S_IMODE(info.external_attr >> 16))
    return root


def run_autograder(root: Path, *uploads: Path) -> dict[str, Any]:
    submission = root / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    submission.mkdir()
    for upload in uploads:
        shutil.copy(upload, submission / upload.name)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CONVGRADE_")}
    environment.update(AUTOGRADER_ROOT=str(root), HOME=str(root),
                       PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    finished = subprocess.run([str(root / "source" / "run_autograder")], env=environment, cwd=root,
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return json.loads((root / "results" / "results.json").read_text())


@pytest.mark.slow
def test_run_autograder_gives_the_solved_notebook_full_marks_with_the_hidden_tests(
        autograder: Path, toy_assignments: Path) -> None:
    results = run_autograder(autograder, toy_assignments / "toy" / "toy.ipynb")
    assert (results["score"], results["max_score"]) == (100.0, 100.0)
    assert {(t["name"], t["status"]) for t in results["tests"]} == {
        ("corr2d_seed_example", "passed"), ("corr2d_matches_reference", "passed"),
        ("corr2d_shape_law", "passed"), ("scale_doubles", "passed")}


@pytest.mark.slow
def test_run_autograder_gives_a_broken_upload_zero_with_the_reason(autograder: Path, tmp_path: Path) -> None:
    broken = tmp_path / "homework.ipynb"
    broken.write_text('{"cells": [')
    results = run_autograder(autograder, broken)
    assert (results["score"], results["max_score"]) == (0.0, 100.0)
    assert "homework.ipynb was not graded: is truncated" in results["output"]


@pytest.mark.slow
def test_run_autograder_without_a_notebook_or_with_several_writes_zero_and_why(
        autograder: Path, toy_assignments: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my answers are in the notebook")
    results = run_autograder(autograder, notes)
    assert (results["score"], results["max_score"]) == (0.0, 100.0)
    assert "no notebook was uploaded" in results["output"]
    other = tmp_path / "copy.ipynb"
    shutil.copy(toy_assignments / "toy" / "toy.ipynb", other)
    results = run_autograder(autograder, toy_assignments / "toy" / "toy.ipynb", other)
    assert results["score"] == 0.0
    assert "2 notebooks were uploaded (copy.ipynb, toy.ipynb)" in results["output"]


@pytest.mark.slow
def test_run_autograder_grades_with_the_bundled_secret_as_the_course_machines_do(
        autograder: Path, make_notebook: MakeNotebook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong answer's hidden detail depends on the inputs, which come from the secret."""
    wrong = make_notebook(ZEROS_CORR2D, assignment="toy")

    def detail_here(secret: str) -> str:
        monkeypatch.setenv("CONVGRADE_SECRET", secret)
        results = tmp_path / f"{secret}.json"
        main([str(wrong), "--results", str(results)])
        return str(json.loads(results.read_text())["extra_data"]["details"]["corr2d_matches_reference"])

    bundled = run_autograder(autograder, wrong)["extra_data"]["details"]
    assert bundled["corr2d_matches_reference"] == detail_here(TESTS_SECRET.decode())  # the secret it was built with
    assert bundled["corr2d_matches_reference"] != detail_here("another-course")


@pytest.mark.slow
def test_run_autograder_fails_on_a_grader_error_instead_of_recording_a_lower_score(
        autograder: Path, broken_toy: Path) -> None:
    broken_bundle = autograder.parent / "broken_autograder"
    shutil.rmtree(broken_bundle, ignore_errors=True)
    shutil.copytree(autograder, broken_bundle, symlinks=True)
    shutil.copy(broken_toy / "toy" / "hidden_tests.py",
                broken_bundle / "source" / PROJECT / "assignments" / "toy" / "hidden_tests.py")
    with pytest.raises(AssertionError, match="grader error in scale_doubles"):
        run_autograder(broken_bundle, broken_toy / "toy" / "toy.ipynb")  # it asserts a zero exit status
    results = json.loads((broken_bundle / "results" / "results.json").read_text())
    assert "score" not in results and results["extra_data"]["status"] == "error"


def test_setup_leaves_the_unpacked_bundle_readable_by_its_owner_alone(autograder: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(autograder / "source", source)
    assert any(path.stat().st_mode & 0o077 for path in source.rglob("*"))  # unzip keeps the zip's 0644
    lines = [line for line in (PROJECT_ROOT / "ci" / "gradescope" / "setup.sh").read_text().splitlines()
             if line.startswith("chmod ")]
    assert lines, "setup.sh changes no permissions"
    subprocess.run(["bash", "-euc", "\n".join(lines)], env={**os.environ, "SOURCE": str(source)}, check=True)
    assert [path for path in [source, *source.rglob("*")] if path.stat().st_mode & 0o077] == []


@pytest.mark.slow
@pytest.mark.root
def test_run_autograder_hides_the_bundle_from_student_code(autograder: Path, make_notebook: MakeNotebook) -> None:
    source = autograder / "source"
    hostile = make_notebook(ZEROS_CORR2D, f"""
import os, sys
sys.path[:0] = [{str(source / PROJECT)!r}, {str(source / PROJECT / 'assignments' / 'toy')!r}]
seen = {{}}
for name, path in {{'source': {str(source)!r}, 'secret': {str(source / SECRET)!r},
                   'hidden tests': {str(source / PROJECT / 'assignments' / 'toy' / 'hidden_tests.py')!r}}}.items():
    seen[name] = os.path.exists(path)
for module in ('reference', 'hidden_tests'):
    try:
        __import__(module)
        seen[module] = 'imported'
    except ImportError:
        seen[module] = 'absent'
print('SEEN', seen)
""", assignment="toy")
    results = run_autograder(autograder, hostile)
    assert results["score"] <= 40.0  # no more than the wrong answer scores with no trick: it gained nothing
    seen = results["extra_data"]["student_output"].split("SEEN ", 1)[1].splitlines()[0]
    assert seen == ("{'source': False, 'secret': False, 'hidden tests': False, 'reference': 'absent', "
                    "'hidden_tests': 'absent'}")
    assert results["extra_data"]["isolation"]["confined"] is True
