from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import course
from grader.cli import main
from grader.course import (
    COURSE_FILE,
    active,
    init_course,
    locate,
    read_course,
    using,
)
from grader.course.seeding import secret_file
from grader.environment import COURSE_ENVIRONMENT, configured_course
from grader.errors import AssignmentError, ExitCode, UsageError
from grader.host.paths import assignments_root
from tests.helpers import MakeNotebook

SLOW_CORR2D = """
import time
import torch
def corr2d(X, K):
    time.sleep(1)
    h, w = K.shape
    Y = torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
"""


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with no course in it or above it, as the current directory, and no $CONVGRADE_COURSE."""
    if any((folder / COURSE_FILE).exists() for folder in tmp_path.parents):
        pytest.fail(f"a {COURSE_FILE} above {tmp_path} would make every lookup find it")
    monkeypatch.delenv(COURSE_ENVIRONMENT, raising=False)
    monkeypatch.setattr(course, "_selected", None)  # no course selected in this process either
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_course(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / COURSE_FILE).write_text(text)
    return folder


def test_a_course_is_found_upward_from_the_current_directory(nowhere: Path) -> None:
    root = write_course(nowhere / "course", '[course]\nname = "Convolutions"\n')
    (root / "week1" / "deep").mkdir(parents=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root / "week1" / "deep")
        found = active()
    assert (found.root, found.name, found.assignments) == (root, "Convolutions", root / "assignments")
    assert (found.kit, found.call_timeout, found.memory_mb, found.secret) == (False, 10.0, 2048, None)


def test_the_current_directory_comes_before_the_notebooks_folder(nowhere: Path) -> None:
    here = write_course(nowhere / "here", "")
    there = write_course(nowhere / "there", "")  # say, a course a student planted beside their notebook
    assert locate(near=[there / "sub" / "nb.ipynb"]).root == there  # from no course at all: the notebook's
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(here)
        assert locate(near=[there / "sub" / "nb.ipynb"]).root == here
        assert locate().root == here


def test_the_option_beats_the_variable_which_beats_the_search(nowhere: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    near, variable, option = (write_course(nowhere / name, "") for name in ("near", "variable", "option"))
    assert locate(near=[near]).root == near
    monkeypatch.setenv(COURSE_ENVIRONMENT, str(variable))
    assert locate(near=[near]).root == near  # the library reads no environment: the entry points pass it
    assert locate(configured_course(), near=[near]).root == variable
    assert locate(option / COURSE_FILE, near=[near]).root == option  # the file itself names its folder too
    write_course(variable / "assignments" / "from_the_variable", "")
    (variable / "assignments" / "from_the_variable" / "assignment.toml").write_text("")
    main(["list"])
    assert "from_the_variable" in capsys.readouterr().err  # the command read it (and the empty toml is broken)


def test_without_a_course_every_lookup_says_how_to_get_one(nowhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match=r"no course here.*grade init DIR.*--course DIR.*CONVGRADE_COURSE"):
        assignments_root()
    assert main(["list"]) == ExitCode.USAGE
    assert "grade init DIR" in capsys.readouterr().err
    assert main(["list", "--course", str(nowhere)]) == ExitCode.USAGE
    assert f"{nowhere} has no {COURSE_FILE}: run 'grade init {nowhere}'" in capsys.readouterr().err


def test_init_makes_a_course_that_lists_no_assignments(nowhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(nowhere / "conv101")]) == ExitCode.GRADED
    assert "grade new NAME" in capsys.readouterr().out
    made = read_course(nowhere / "conv101")
    assert (made.name, made.assignments.is_dir(), made.kit) == ("conv101", True, False)
    assert main(["list", "--course", str(nowhere / "conv101")]) == ExitCode.GRADED
    assert capsys.readouterr().out == ""
    assert main(["init", str(nowhere / "conv101")]) == ExitCode.USAGE  # never over an existing course
    assert "is a course" in capsys.readouterr().err


def test_a_name_with_quotes_and_backslashes_survives_the_course_file(nowhere: Path) -> None:
    init_course(nowhere / "c", name='Prof. "Conv" \\ 卷积')
    assert read_course(nowhere / "c").name == 'Prof. "Conv" \\ 卷积'


@pytest.mark.parametrize(("text", "message"), [
    ("[course]\nasignments = 'a'\n", "unknown key 'asignments' in \\[course\\]"),
    ("[limit]\ncall_timeout = 3\n", "unknown table \\[limit\\]"),
    ("[limits]\ncall_timeout = 'fast'\n", "call_timeout = 'fast' has the wrong type"),
    ("[limits]\nmemory_mb = 0\n", "memory_mb must be positive"),
    ("[course]\nkit = 1\n", "kit = 1 has the wrong type"),
    ("[course]\ngrader = 'latest'\n", "is not a version"),
    ("[course\n", "cannot be read"),
])
def test_a_broken_course_file_is_one_line_that_names_it(nowhere: Path, text: str, message: str) -> None:
    root = write_course(nowhere / "broken", text)
    with pytest.raises(AssignmentError, match=message) as raised:
        read_course(root)
    assert str(root / COURSE_FILE) in raised.value.message and "\n" not in raised.value.message


def test_a_course_for_a_newer_grader_says_what_to_install(nowhere: Path) -> None:
    root = write_course(nowhere / "future", '[course]\ngrader = "99.0"\n')
    with pytest.raises(UsageError, match=r"written for convgrade 99\.0.*pip install 'convgrade>=99\.0'"):
        read_course(root)


def test_the_course_names_the_secret_and_the_assignments(nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_course(nowhere / "c", '[course]\nassignments = "weeks"\nsecret = "private/key"\n')
    with using(read_course(root)) as selected:
        assert (assignments_root(), secret_file(selected)) == (root / "weeks", root / "private" / "key")
    with pytest.raises(UsageError):  # the selection ends with its block
        assignments_root()


@pytest.mark.slow
def test_a_released_kit_is_a_course_students_grade_in_without_setup(
        toy_assignments: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["release", "toy", "--with-solutions", "--out", str(tmp_path / "kit")]) == ExitCode.GRADED
    kit = read_course(tmp_path / "kit")
    assert kit.kit and kit.assignments == tmp_path / "kit" / "assignments"
    assert sorted(p.name for p in (tmp_path / "kit" / "assignments" / "toy").iterdir()) == [
        "assignment.toml", "public_tests.py"]
    shutil.move(tmp_path / "kit", tmp_path / "downloads")  # wherever the student unpacks it
    monkeypatch.delenv(COURSE_ENVIRONMENT)
    monkeypatch.chdir(tmp_path)  # not in the kit: the notebook's folder finds it
    capsys.readouterr()
    assert main([str(tmp_path / "downloads" / "toy.ipynb"), "--public"]) == ExitCode.GRADED
    assert "Score: 20 / 20" in capsys.readouterr().out
    assert main([str(tmp_path / "downloads" / "toy.ipynb")]) == ExitCode.USAGE
    assert "student kit, which holds the public tests only: grade with --public" in capsys.readouterr().err


@pytest.mark.slow
def test_the_courses_call_timeout_is_the_default_and_the_option_overrides_it(
        toy_assignments: Path, tmp_path: Path, make_notebook: MakeNotebook, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = write_course(tmp_path / "slow", f"[course]\nassignments = {str(toy_assignments)!r}\n"
                                           "[limits]\ncall_timeout = 0.5\n")
    slow = make_notebook(SLOW_CORR2D, assignment="toy")
    assert main([str(slow), "--public", "--course", str(root)]) == ExitCode.GRADED
    timed_out = capsys.readouterr().out
    assert main([str(slow), "--public", "--course", str(root), "--call-timeout", "5"]) == ExitCode.GRADED
    assert "0.5 s" in timed_out and "Score: 0 / 20" in timed_out
    assert "Score: 20 / 20" in capsys.readouterr().out


def test_no_command_leaves_its_course_selected(toy_assignments: Path, nowhere: Path) -> None:
    root = write_course(nowhere / "c", "")
    assert main(["list", "--course", str(root)]) == ExitCode.GRADED
    assert course._selected is None


def _plant_course(folder: Path, kit: bool) -> Path:
    """A student's folder with a course of their own: lenient tests, public and hidden, that leave a mark."""
    tests = folder / "assignments" / "toy"
    tests.mkdir(parents=True)
    (tests / "assignment.toml").write_text('title = "t"\n[functions.corr2d]\n')
    mark = folder / "RAN"
    for kind, extra in (("public", ""), ("hidden", ', hint="h"')):
        (tests / f"{kind}_tests.py").write_text(
            f"from grader.authoring.testkit import {kind}_test\n@{kind}_test(function='corr2d', points=50{extra})\n"
            f"def {kind}(student, rng):\n    open({str(mark)!r}, 'a').write('{kind}')\n")
    write_course(folder, f"[course]\nkit = {str(kit).lower()}\nsecret = 'planted'\n")
    return mark


@pytest.mark.slow
@pytest.mark.parametrize("kit", [True, False])
def test_a_course_planted_beside_a_submission_never_runs_its_hidden_tests(
        nowhere: Path, make_notebook: MakeNotebook, kit: bool, capsys: pytest.CaptureFixture[str]) -> None:
    mark = _plant_course(nowhere / "alice", kit)
    notebook = make_notebook("x = 1", assignment="toy")
    submission = nowhere / "alice" / "alice.ipynb"
    shutil.copy(notebook, submission)
    found = locate(near=[submission])
    assert found.beside and found.secret is None  # a secret a student names is never read nor made
    assert main([str(submission)]) == ExitCode.USAGE
    assert ("student kit" if kit else "found beside the notebook") in capsys.readouterr().err
    assert not mark.exists()  # no test file of theirs ran in the grader's process


@pytest.mark.slow
def test_a_kit_never_runs_hidden_tests_even_where_it_holds_some(
        nowhere: Path, make_notebook: MakeNotebook, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    mark = _plant_course(nowhere / "kit", kit=True)
    monkeypatch.chdir(nowhere / "kit")
    assert main([str(make_notebook("x = 1", assignment="toy"))]) == ExitCode.USAGE
    assert "student kit" in capsys.readouterr().err and not mark.exists()
