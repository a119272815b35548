from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import pipeline
from grader.cli import main
from grader.errors import ExitCode
from tests.conftest import MakeNotebook

SCALE = "def scale(x):\n    return 2 * x"


def test_a_graded_notebook_exits_0_prints_the_table_and_writes_gradescope_results(
        toy_assignments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "out" / "results.json"
    code = main([str(toy_assignments / "toy" / "toy.ipynb"), "--results", str(results)])
    out = capsys.readouterr().out
    assert code == ExitCode.GRADED
    assert "corr2d_matches_reference" in out and "Score: 100 / 100" in out
    document = json.loads(results.read_text())
    assert (document["score"], document["max_score"]) == (100.0, 100.0)
    assert {t["status"] for t in document["tests"]} == {"passed"}


def test_an_unusable_submission_exits_3_with_one_line_and_still_writes_results(
        toy_assignments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    results = tmp_path / "results.json"
    code = main([str(broken), "--assignment", "toy", "--results", str(results)])
    err = capsys.readouterr().err
    assert code == ExitCode.UNUSABLE_SUBMISSION
    assert err.count("\n") == 1 and "broken.ipynb" in err and "truncated" in err and "Traceback" not in err
    document = json.loads(results.read_text())
    assert document["score"] == 0 and "truncated" in document["output"]


def test_a_score_under_fail_under_exits_6(make_notebook: MakeNotebook, toy_assignments: Path) -> None:
    path = make_notebook(SCALE, assignment="toy")
    assert main([str(path), "--fail-under", "50"]) == ExitCode.BELOW_FAIL_UNDER
    assert main([str(path), "--fail-under", "10"]) == ExitCode.GRADED


def test_public_runs_only_the_public_tests(toy_assignments: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(toy_assignments / "toy" / "toy.ipynb"), "--public"]) == ExitCode.GRADED
    out = capsys.readouterr().out
    assert "corr2d_seed_example" in out and "corr2d_matches_reference" not in out
    assert "Score: 20 / 20" in out


def test_an_unknown_assignment_is_a_usage_error(make_notebook: MakeNotebook, toy_assignments: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(make_notebook(SCALE)), "--assignment", "nope"]) == ExitCode.USAGE
    assert "unknown assignment 'nope'" in capsys.readouterr().err


def test_a_broken_assignment_exits_4(make_notebook: MakeNotebook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     toy_assignments: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "assignments" / "toy"
    broken.mkdir(parents=True)
    for name in ("assignment.toml", "public_tests.py"):
        (broken / name).write_text((toy_assignments / "toy" / name).read_text())
    (broken / "hidden_tests.py").write_text("raise RuntimeError('a typo in the hidden tests')")
    monkeypatch.setenv("CONVGRADE_ASSIGNMENTS", str(tmp_path / "assignments"))
    assert main([str(make_notebook(SCALE, assignment="toy"))]) == ExitCode.BROKEN_ASSIGNMENT
    assert "a typo in the hidden tests" in capsys.readouterr().err


def test_an_internal_error_exits_5_with_one_line_and_no_traceback(
        make_notebook: MakeNotebook, toy_assignments: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def defect(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the grader")

    monkeypatch.setattr(pipeline, "grade", defect)
    monkeypatch.delenv("CONVGRADE_DEBUG", raising=False)
    assert main([str(make_notebook(SCALE))]) == ExitCode.INTERNAL_ERROR
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: a bug in the grader" in err and "Traceback" not in err


def test_release_writes_the_student_notebook_and_the_public_kit(toy_assignments: Path, tmp_path: Path) -> None:
    assert main(["release", "toy", "--out", str(tmp_path)]) == ExitCode.GRADED
    released = (tmp_path / "toy.ipynb").read_text()
    assert "NotImplementedError" in released and "Y = Y + K[a, b]" not in released
    assert sorted(p.name for p in (tmp_path / "assignments" / "toy").iterdir()) == ["assignment.toml",
                                                                                    "public_tests.py"]
    assert main(["release", "toy", "--with-solutions", "--out", str(tmp_path / "solved")]) == ExitCode.GRADED
    assert "Y = Y + K[a, b]" in (tmp_path / "solved" / "toy.ipynb").read_text()


def test_a_student_can_run_the_public_tests_on_a_release_without_hidden_tests(
        toy_assignments: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    main(["release", "toy", "--with-solutions", "--out", str(tmp_path)])
    monkeypatch.setenv("CONVGRADE_ASSIGNMENTS", str(tmp_path / "assignments"))
    assert main([str(tmp_path / "toy.ipynb"), "--public"]) == ExitCode.GRADED
    assert "Score: 20 / 20" in capsys.readouterr().out
    assert main([str(tmp_path / "toy.ipynb")]) == ExitCode.BROKEN_ASSIGNMENT  # no hidden tests here


def test_list_names_the_assignments(toy_assignments: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == ExitCode.GRADED
    assert "toy" in capsys.readouterr().out
