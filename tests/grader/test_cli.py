from __future__ import annotations

import base64
import csv
import json
import re
import shutil
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

from grader.batch.gradebook import FILE_NAME, Gradebook
from grader.cli import main
from grader.errors import ExitCode
from grader.grading import pipeline
from grader.host import platform_support
from grader.session import Grader
from tests.helpers import SCALE, MakeNotebook, use_course


@pytest.mark.slow
def test_a_graded_notebook_exits_0_prints_the_table_and_writes_gradescope_results(
        grader: Grader, toy_assignments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "out" / "results.json"
    code = main([str(toy_assignments / "toy" / "toy.ipynb"), "--results", str(results)], grader=grader)
    out = capsys.readouterr().out
    assert code == ExitCode.GRADED
    assert "corr2d_matches_reference" in out and "Score: 100 / 100" in out
    document = json.loads(results.read_text())
    assert (document["score"], document["max_score"]) == (100.0, 100.0)
    assert {t["status"] for t in document["tests"]} == {"passed"}


@pytest.mark.slow
def test_an_unusable_submission_exits_3_with_one_line_and_still_writes_results(
        grader: Grader, toy_assignments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    results = tmp_path / "results.json"
    code = main([str(broken), "--assignment", "toy", "--results", str(results)], grader=grader)
    err = capsys.readouterr().err
    assert code == ExitCode.UNUSABLE_SUBMISSION
    assert err.count("\n") == 1 and "broken.ipynb" in err and "truncated" in err and "Traceback" not in err
    document = json.loads(results.read_text())
    assert document["score"] == 0 and "truncated" in document["output"]


@pytest.mark.slow
def test_feedback_writes_the_page_for_a_graded_and_for_an_unusable_submission(
        grader: Grader, make_notebook: MakeNotebook, toy_assignments: Path, tmp_path: Path) -> None:
    graded = tmp_path / "pages" / "graded.html"
    submission = make_notebook(SCALE, assignment="toy")
    assert main([str(submission), "--public", "--feedback", str(graded)], grader=grader) == ExitCode.GRADED
    page = graded.read_text()
    assert "Score: <strong>0 / 20</strong>" in page and 'class="cell' in page and 'id="results-corr2d"' in page
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    unusable = tmp_path / "pages" / "unusable.html"
    assert main([str(broken), "--assignment", "toy", "--feedback", str(unusable)],
                grader=grader) == ExitCode.UNUSABLE_SUBMISSION
    page = unusable.read_text()
    assert "Not graded: is truncated" in page and 'class="cell' not in page


@pytest.mark.slow
def test_a_score_under_fail_under_exits_6(grader: Grader, make_notebook: MakeNotebook, toy_assignments: Path) -> None:
    path = make_notebook(SCALE, assignment="toy")
    assert main([str(path), "--fail-under", "50"], grader=grader) == ExitCode.BELOW_FAIL_UNDER
    assert main([str(path), "--fail-under", "10"], grader=grader) == ExitCode.GRADED


@pytest.mark.slow
def test_public_runs_only_the_public_tests(
        grader: Grader, toy_assignments: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(toy_assignments / "toy" / "toy.ipynb"), "--public"], grader=grader) == ExitCode.GRADED
    out = capsys.readouterr().out
    assert "corr2d_seed_example" in out and "corr2d_matches_reference" not in out
    assert "Score: 20 / 20" in out


def test_an_unknown_assignment_is_a_usage_error(grader: Grader, make_notebook: MakeNotebook, toy_assignments: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(make_notebook(SCALE)), "--assignment", "nope"], grader=grader) == ExitCode.USAGE
    assert "unknown assignment 'nope'" in capsys.readouterr().err


@pytest.mark.slow
def test_a_broken_assignment_exits_4(grader: Grader, make_notebook: MakeNotebook, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch, toy_assignments: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "assignments" / "toy"
    broken.mkdir(parents=True)
    for name in ("assignment.toml", "public_tests.py"):
        (broken / name).write_text((toy_assignments / "toy" / name).read_text())
    (broken / "hidden_tests.py").write_text("raise RuntimeError('a typo in the hidden tests')")
    use_course(monkeypatch, tmp_path / "assignments")
    assert main([str(make_notebook(SCALE, assignment="toy"))], grader=grader) == ExitCode.BROKEN_ASSIGNMENT
    assert "a typo in the hidden tests" in capsys.readouterr().err


@pytest.mark.slow
def test_an_internal_error_exits_5_with_one_line_and_no_traceback(
        grader: Grader, make_notebook: MakeNotebook, toy_assignments: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def defect(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the grader")

    monkeypatch.setattr(pipeline, "grade_notebook", defect)
    monkeypatch.delenv("CONVGRADE_DEBUG", raising=False)
    assert main([str(make_notebook(SCALE))], grader=grader) == ExitCode.INTERNAL_ERROR
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


@pytest.mark.slow
def test_a_student_can_run_the_public_tests_on_a_release_without_hidden_tests(
        grader: Grader, toy_assignments: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    main(["release", "toy", "--with-solutions", "--out", str(tmp_path)])
    monkeypatch.setenv("CONVGRADE_COURSE", str(tmp_path))  # the kit is a course of its own
    assert main([str(tmp_path / "toy.ipynb"), "--public"], grader=grader) == ExitCode.GRADED
    assert "Score: 20 / 20" in capsys.readouterr().out
    assert main([str(tmp_path / "toy.ipynb")], grader=grader) == ExitCode.USAGE  # a kit: no hidden tests here


def test_list_names_the_assignments(toy_assignments: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == ExitCode.GRADED
    assert "toy" in capsys.readouterr().out


def test_list_shows_every_good_assignment_and_each_broken_one_with_its_reason(
        root: Path, toy_assignments: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("a_good", "b_imports_reference", "c_typo", "d_points", "e_good"):
        shutil.copytree(toy_assignments / "toy", root / name)
    public = root / "b_imports_reference" / "public_tests.py"
    public.write_text(public.read_text().replace("import torch\n", "import torch\nfrom reference import corr2d\n", 1))
    toml = root / "c_typo" / "assignment.toml"
    toml.write_text(toml.read_text().replace("from_scratch", "from_scrach"))
    hidden = root / "d_points" / "hidden_tests.py"
    hidden.write_text(hidden.read_text().replace("points=20", "points=19", 1))  # the course's machine: checked
    assert main(["list"]) == ExitCode.BROKEN_ASSIGNMENT
    out, err = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()] == ["a_good", "e_good"]
    broken = err.splitlines()
    assert [line.split()[3].rstrip(":") for line in broken] == ["b_imports_reference", "c_typo", "d_points"]
    assert "public tests import reference" in broken[0] and "did you mean from_scratch?" in broken[1]
    assert "99 points, not 100" in broken[2]


# A corr2d of the right shape but all zeros: the hidden test's detail names its
# inputs (with the toy's hidden marker); a student may see only its hint.
ZEROS_CORR2D = ("import torch\n"
                "def corr2d(X, K):\n"
                "    return torch.zeros(X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1)")
HIDDEN_MARKER = "toy-hidden-marker-5f0c"


@pytest.mark.slow
def test_junit_writes_one_testcase_per_test_and_classroom_only_its_file_outside_actions(
        grader: Grader, toy_assignments: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main([str(toy_assignments / "toy" / "toy.ipynb"), "--junit", "ci/report.xml", "--classroom", "out.json"]
                , grader=grader) == ExitCode.GRADED
    suite = ElementTree.parse(tmp_path / "ci" / "report.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    assert {(c.get("classname"), c.get("name")) for c in suite.iter("testcase")} == {
        ("corr2d", "corr2d_seed_example"), ("corr2d", "corr2d_matches_reference"),
        ("corr2d", "corr2d_shape_law"), ("scale", "scale_doubles")}
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["ci", "ci/report.xml", "out.json"]
    assert json.loads((tmp_path / "out.json").read_text())["status"] == "pass"


@pytest.mark.slow
def test_junit_and_classroom_carry_a_hidden_tests_hint_never_its_detail(
        grader: Grader, make_notebook: MakeNotebook, toy_assignments: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    path = make_notebook(ZEROS_CORR2D, "def scale(x):\n    return 2 * x", assignment="toy")
    report, results, result = tmp_path / "report.xml", tmp_path / "results.json", tmp_path / "classroom.json"
    assert main([str(path), "--junit", str(report), "--results", str(results), "--classroom", str(result)]
                , grader=grader) == ExitCode.GRADED
    details = json.loads(results.read_text())["extra_data"]["details"]
    assert HIDDEN_MARKER in details["corr2d_matches_reference"]  # the detail exists, for instructors only
    cases = {c.get("name"): c for c in ElementTree.parse(report).getroot().iter("testcase")}
    (failure,) = cases["corr2d_matches_reference"]
    assert failure.text == "0 / 40 points: [hidden] compare each window with the kernel, element by element"
    assert HIDDEN_MARKER not in report.read_text() and HIDDEN_MARKER not in result.read_text()
    document = json.loads(result.read_text())
    hidden = next(t for t in document["tests"] if t["name"] == "corr2d_matches_reference")
    assert (hidden["status"], hidden["message"]) == ("fail", ("[hidden] compare each window with the kernel, "
                                                              "element by element"))
    assert sum(t["score"] for t in document["tests"]) == json.loads(results.read_text())["score"]


@pytest.mark.slow
def test_an_unusable_submission_still_writes_junit_and_classroom_results_with_the_reason(
        grader: Grader, toy_assignments: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    report, result = tmp_path / "report.xml", tmp_path / "classroom.json"
    assert main([str(broken), "--assignment", "toy", "--junit", str(report), "--classroom", str(result)]
                , grader=grader) == ExitCode.UNUSABLE_SUBMISSION
    (case,) = ElementTree.parse(report).getroot().iter("testcase")
    (failure,) = case
    assert failure.tag == "failure" and "broken.ipynb was not graded: is truncated" in (failure.text or "")
    document = json.loads(result.read_text())
    assert document["status"] == "error" and "is truncated" in document["tests"][0]["message"]


@pytest.mark.slow
def test_classroom_appends_the_base64_result_to_github_output(
        grader: Grader, toy_assignments: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = tmp_path / "github_output"
    outputs.write_text("earlier=kept\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    result = tmp_path / "classroom.json"
    assert main([str(toy_assignments / "toy" / "toy.ipynb"), "--public", "--classroom", str(result)]
                , grader=grader) == ExitCode.GRADED
    earlier, line = outputs.read_text().splitlines()
    assert earlier == "earlier=kept" and line.startswith("result=")
    document = json.loads(base64.b64decode(line.removeprefix("result="), validate=True))
    assert document == json.loads(result.read_text())
    assert (document["status"], document["max_score"]) == ("pass", 20.0)
    assert [(t["name"], t["score"]) for t in document["tests"]] == [("corr2d_seed_example", 20.0)]


def test_gradescope_writes_the_autograder_zip(toy_assignments: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "autograder.zip"
    assert main(["gradescope", "toy", "--out", str(bundle)]) == ExitCode.GRADED
    assert f"wrote {bundle}" in capsys.readouterr().out
    names = zipfile.ZipFile(bundle).namelist()
    assert {"setup.sh", "run_autograder", "convgrade/assignments/toy/hidden_tests.py"} <= set(names)


def test_gradescope_refuses_an_assignment_without_hidden_tests_and_a_non_zip(
        toy_assignments: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradescope", "toy", "--out", str(tmp_path / "autograder.tar")]) == ExitCode.USAGE
    assert "takes a .zip file" in capsys.readouterr().err
    main(["release", "toy", "--out", str(tmp_path / "kit")])
    use_course(monkeypatch, tmp_path / "kit" / "assignments")  # a course's folder without hidden tests
    assert main(["gradescope", "toy", "--out", str(tmp_path / "autograder.zip")]) == ExitCode.BROKEN_ASSIGNMENT
    assert "no hidden_tests.py" in capsys.readouterr().err
    assert not (tmp_path / "autograder.zip").exists()



@pytest.mark.slow
def test_batch_grades_a_folder_into_the_output_folder_with_plain_progress(
        make_notebook: MakeNotebook, tmp_path: Path, toy_assignments: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "class"
    (folder / "alice").mkdir(parents=True)
    make_notebook(SCALE, assignment="toy").rename(folder / "alice" / "hw.ipynb")
    (folder / "bob.ipynb").write_text("{")
    out = tmp_path / "out"
    assert main(["batch", str(folder), "--out", str(out), "--jobs", "1"]) == ExitCode.GRADED
    printed = capsys.readouterr().out
    assert "[1/2]" in printed and "alice: 20/100" in printed and "bob: not graded: is truncated" in printed
    assert "graded 2 (1 not graded or with grader errors), 0 unchanged; 2 in the gradebook" in printed
    assert {p.name for p in out.iterdir()} >= {"gradebook.sqlite", "grades.csv", "summary.json", "results"}
    assert main(["batch", str(folder), "--out", str(out), "--quiet"]) == ExitCode.GRADED
    assert "graded 0 (0 not graded or with grader errors), 2 unchanged" in capsys.readouterr().out


@pytest.mark.slow
def test_batch_misuse_is_a_one_line_usage_error(tmp_path: Path, toy_assignments: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "out")]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no notebooks (.ipynb) found" in err
    with pytest.raises(SystemExit) as exit_:
        main(["batch", str(tmp_path), "--out", str(tmp_path / "out"), "--jobs", "0"])
    assert exit_.value.code == ExitCode.USAGE


@pytest.mark.slow
def test_a_grader_error_exits_5_and_writes_results_without_a_score(
        grader: Grader, broken_toy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results, junit_xml, classroom_json = tmp_path / "results.json", tmp_path / "junit.xml", tmp_path / "c.json"
    code = main([str(broken_toy / "toy" / "toy.ipynb"), "--results", str(results), "--junit", str(junit_xml),
                 "--classroom", str(classroom_json)], grader=grader)
    captured = capsys.readouterr()
    assert code == ExitCode.INTERNAL_ERROR
    assert "grader error in scale_doubles" in captured.err and "No score: not graded" in captured.out
    assert "Score:" not in captured.out
    document = json.loads(results.read_text())
    assert "score" not in document and document["tests"] == []  # Gradescope can record no score from it
    assert document["extra_data"]["status"] == "error" and "This is not your score" in document["output"]
    assert json.loads(classroom_json.read_text())["status"] == "error"
    assert sum(t["score"] for t in json.loads(classroom_json.read_text())["tests"]) == 0


@pytest.mark.slow
def test_batch_flags_a_grader_error_without_a_score_and_grades_it_again_next_run(
        broken_toy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(broken_toy / "toy" / "toy.ipynb", folder / "alice.ipynb")
    out = tmp_path / "out"
    assert main(["batch", str(folder), "--out", str(out), "--jobs", "1", "--quiet", "--no-feedback"]) \
        == ExitCode.INTERNAL_ERROR
    assert "alice: grader error: not graded" in capsys.readouterr().out
    with (out / "grades.csv").open() as grades:
        (row,) = csv.DictReader(grades)
    assert (row["status"], row["score"], row["percent"]) == ("error", "", "")
    assert json.loads((out / "summary.json").read_text())["errors"] == 1
    assert main(["batch", str(folder), "--out", str(out), "--quiet", "--no-feedback"]) == ExitCode.INTERNAL_ERROR
    # Regraded, not kept as if final; failing the same way, it keeps its row.
    assert "graded 1 (1 not graded or with grader errors), 0 unchanged; 1 in the gradebook" in capsys.readouterr().out
    with Gradebook(out / FILE_NAME) as book:
        assert len(book.history("alice")) == 1


def test_version_and_help_answer_without_a_course(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as version:
        main(["--version"])
    assert version.value.code == 0 and capsys.readouterr().out.startswith("grade (convgrade) ")
    assert main(["help"]) == ExitCode.GRADED
    listing = capsys.readouterr().out
    assert all(command in listing for command in ("notebook", "batch", "report", "audit", "release", "gradescope"))
    with pytest.raises(SystemExit) as helped:
        main(["help", "audit"])
    shown = capsys.readouterr().out
    assert helped.value.code == 0 and shown.startswith("usage: grade audit ") and "at most 10%," in shown
    with pytest.raises(SystemExit) as unknown:
        main(["help", "nope"])
    assert unknown.value.code == ExitCode.USAGE and "no command 'nope'" in capsys.readouterr().err


def test_an_unknown_assignment_is_refused_before_any_worker_starts(
        make_notebook: MakeNotebook, toy_assignments: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def no_launch(*args: object, **kwargs: object) -> None:
        raise AssertionError("a worker process was started")

    monkeypatch.setattr(platform_support, "launch", no_launch)
    assert main([str(make_notebook(SCALE)), "--assignment", "nope"]) == ExitCode.USAGE
    assert main(["batch", str(make_notebook(SCALE)), "--out", "o", "--assignment", "nope"]) == ExitCode.USAGE
    assert main(["release", "nope", "--out", "o"]) == ExitCode.USAGE
    assert capsys.readouterr().err.count("unknown assignment 'nope'") == 3


def test_results_to_stdout_move_the_table_to_stderr(grader: Grader, toy_assignments: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(toy_assignments / "toy" / "toy.ipynb"), "--public", "--results", "-"],
                grader=grader) == ExitCode.GRADED
    captured = capsys.readouterr()
    assert json.loads(captured.out)["score"] == 20.0
    assert "Score: 20 / 20" in captured.err
    assert main([str(toy_assignments / "toy" / "toy.ipynb"), "--results", "-", "--junit", "-"],
                grader=grader) == ExitCode.USAGE
    assert "only one output may go to stdout" in capsys.readouterr().err


def test_shared_options_parse_once_for_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["nb.ipynb", "--call-timeout", "0"], ["batch", "x", "--out", "o", "--jobs", "0"],
                 ["audit", "--jobs", "-1"]):
        with pytest.raises(SystemExit) as refused:
            main(argv)
        assert refused.value.code == ExitCode.USAGE
        assert "must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["audit", "--mutants", "-1"])
    assert refused.value.code == ExitCode.USAGE
    assert "usage: grade audit " in capsys.readouterr().err


def test_calibrate_refuses_an_unknown_assignment_before_any_worker_starts(
        toy_assignments: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform_support, "launch", lambda *args, **kwargs: pytest.fail("a zygote started"))
    assert main(["calibrate", "nosuch"]) == ExitCode.USAGE
    assert "unknown assignment 'nosuch'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["help", "calibrate"])
    assert capsys.readouterr().out.startswith("usage: grade calibrate [-h] [--course DIR] [NAME ...]")


@pytest.mark.slow
def test_calibrate_writes_each_assignment_s_budgets_and_lists_them(
        toy_course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate"]) == ExitCode.GRADED
    out = capsys.readouterr().out
    written = toy_course / "toy" / "budgets.json"
    assert out.startswith(f"wrote {written}: call budgets for version ") and written.is_file()
    listed = re.findall(r"^  (\w+) +([\d.]+) s  \(slowest accepted call [\d.]+ s, ([\w/.]+)\)$", out, re.MULTILINE)
    assert [name for name, _, _ in listed] == ["corr2d", "scale"]
    assert all(float(seconds) >= 3.0 and answer.endswith(".ipynb") for _, seconds, answer in listed)
    budgets = json.loads(written.read_text())["functions"]
    assert set(budgets) == {"corr2d", "scale"}
