"""The pytest plugin: `pytest assignments/NAME --submission NB` grades as `grade NB` does, test by test."""

from __future__ import annotations

import re
import sys
from importlib.metadata import entry_points
from pathlib import Path

import nbformat
import pytest

from grader.course.assignment import load_assignment
from grader.host.paths import PROJECT_ROOT
from grader.session import grade
from tests.helpers import TESTS_SECRET, select_course

pytest_plugins = ["pytester"]

CHANNELS = PROJECT_ROOT / "assignments" / "channels"
ACCEPTED = CHANNELS / "accepted" / "seeds.ipynb"
BUG = ("Y.reshape((c_o, h, w))", "Y.reshape((c_o, w, h))")  # the 1x1 convolution transposes each output channel


@pytest.fixture
def course(monkeypatch: pytest.MonkeyPatch) -> None:
    """The project's own assignments (the course the plugin's runs find) and a fixed secret, here and in pytester's
    subprocesses, whatever other test modules set."""
    select_course(monkeypatch, PROJECT_ROOT)
    monkeypatch.setenv("CONVGRADE_SECRET", TESTS_SECRET.decode())


@pytest.fixture
def buggy(tmp_path: Path) -> Path:
    """The accepted seeds notebook with one bug in corr2d_multi_in_out_1x1."""
    notebook = nbformat.read(ACCEPTED, as_version=4)
    cells = [c for c in notebook.cells if c.cell_type == "code" and BUG[0] in c.source]
    assert len(cells) == 1
    cells[0].source = cells[0].source.replace(*BUG)
    path = tmp_path / "buggy.ipynb"
    nbformat.write(notebook, path)
    return path


def score_line(output: str) -> str:
    scores = re.findall(r"^Score: .*$", output, flags=re.MULTILINE)
    assert len(scores) == 1, output
    return scores[0]


def test_the_package_registers_the_plugin_through_the_pytest11_entry_point() -> None:
    registered = {e.name: e.value for e in entry_points(group="pytest11")}
    assert registered.get("convgrade") == "grader.integrations.pytest_plugin"


@pytest.mark.slow
def test_without_submission_it_is_inert(pytester: pytest.Pytester, course: None) -> None:
    pytester.makepyfile(test_inert="""
        import sys

        def test_the_plugin_is_loaded_but_imports_nothing_of_the_grader():
            assert "grader.integrations.pytest_plugin" in sys.modules
            assert "torch" not in sys.modules
            assert sorted(m for m in sys.modules if m.startswith("grader.")) == [
                "grader.integrations", "grader.integrations.pytest_plugin"]
        """)
    result = pytester.runpytest_subprocess("test_inert.py", str(CHANNELS))
    result.assert_outcomes(passed=1)  # and nothing of the assignment's folder is collected
    assert "convgrade: grading" not in result.stdout.str() and "= convgrade =" not in result.stdout.str()


@pytest.mark.slow
def test_an_accepted_notebook_passes_every_graded_test_and_scores_100(pytester: pytest.Pytester, course: None) -> None:
    result = pytester.runpytest_subprocess(str(CHANNELS), "--submission", str(ACCEPTED), "-v")
    definition = load_assignment("channels")
    outcomes = result.parseoutcomes()
    assert result.ret == pytest.ExitCode.OK
    assert outcomes.get("failed", 0) == 0
    assert outcomes["passed"] + outcomes.get("xfailed", 0) == len(definition.tests)
    # A tip that fails is advice worth nothing: an expected failure, never a failed run.
    xfailed = {m.group(1) for line in result.outlines if (m := re.search(r"::(\w+) XFAIL", line))}
    assert len(xfailed) == outcomes.get("xfailed", 0)
    assert xfailed <= {t.name for t in definition.tests if t.tip}
    assert score_line(result.stdout.str()) == "Score: 100 / 100"
    # Public tests run first, in the assignment's order, as grade runs them.
    ran = [m.group(1) for line in result.outlines if (m := re.search(r"::(\w+) (PASSED|XFAIL)", line))]
    assert ran == [t.name for t in definition.tests]


@pytest.mark.slow
def test_a_buggy_notebook_fails_the_tests_that_catch_the_bug_and_scores_as_grade_does(
        pytester: pytest.Pytester, course: None, buggy: Path) -> None:
    result = pytester.runpytest_subprocess(str(CHANNELS), "--submission", str(buggy), "-v")
    graded = grade(buggy, course=PROJECT_ROOT, secret=TESTS_SECRET)  # the library's one-call grade
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    failed = {m.group(1) for line in result.outlines if (m := re.match(r"FAILED \S+::(\w+)", line))}
    assert failed == {t.name for t in graded.tests if not t.passed and not t.tip}
    assert failed and all(name.startswith("one_by_one") for name in failed)
    assert score_line(result.stdout.str()) == f"Score: {graded.score:g} / 100"
    assert 0 < graded.score < 100
    # Each failure is shown from the test function on, ending at the line in the test that found the bug.
    failures = result.stdout.str().split("= FAILURES =")[1].split("= convgrade =")[0]
    assert "grader/authoring/testkit.py" not in failures and "pytest_plugin.py" not in failures
    assert re.search(r"hidden_tests\.py:\d+: TestFailure", failures)


@pytest.mark.slow
def test_k_selects_tests_and_public_leaves_out_the_hidden_ones(
        pytester: pytest.Pytester, course: None, buggy: Path) -> None:
    result = pytester.runpytest_subprocess(str(CHANNELS), "--submission", str(buggy), "--public", "-k", "one_by_one")
    result.assert_outcomes(passed=1, failed=1, deselected=len(load_assignment("channels", public_only=True).tests) - 2)
    result.stdout.fnmatch_lines(["*counting the 2 of * tests that ran*",
                                 "FAILED *public_tests.py::one_by_one_keeps_height_and_width*"])
    assert "hidden_tests.py" not in result.stdout.str()
    assert score_line(result.stdout.str()) == "Score: 5 / 7"


@pytest.mark.slow
def test_x_stops_at_the_first_failure_and_still_shows_the_total_of_what_ran(
        pytester: pytest.Pytester, course: None, buggy: Path) -> None:
    result = pytester.runpytest_subprocess(str(CHANNELS), "--submission", str(buggy), "-x")
    public = load_assignment("channels", public_only=True).tests
    result.assert_outcomes(passed=len(public) - 1, failed=1)  # the last public test catches the bug
    result.stdout.fnmatch_lines(["*stopping after 1 failures*"])
    assert score_line(result.stdout.str()) == (f"Score: {sum(t.points for t in public) - 2:g} / "
                                               f"{sum(t.points for t in public):g}")


@pytest.mark.slow
def test_pdb_stops_inside_the_failing_test_function(pytester: pytest.Pytester, course: None, buggy: Path) -> None:
    args = [str(CHANNELS), "--submission", str(buggy), "--public", "-k", "keeps_height_and_width", "--pdb",
            "-p", "no:cacheprovider"]
    result = pytester.run(sys.executable, "-m", "pytest", *args, stdin=b"p (__name__, sorted(locals()))\nq\n",
                          timeout=120)
    # pdb's frame is the test's own: its module is the assignment's public tests, its locals the test's.
    assert "(Pdb) ('convgrade_tests.channels.public_tests', ['K', 'X', 'rng', 'student'])" in result.stdout.str()


@pytest.mark.slow
def test_an_unusable_notebook_fails_every_test_with_the_reason(
        pytester: pytest.Pytester, course: None, tmp_path: Path) -> None:
    script = tmp_path / "solution.py"
    script.write_text("def corr2d_multi_in(X, K):\n    return X\n")
    result = pytester.runpytest_subprocess(str(CHANNELS), "--submission", str(script), "--public")
    result.assert_outcomes(failed=len(load_assignment("channels", public_only=True).tests))
    result.stdout.fnmatch_lines([f"*{script} was not graded: *"])
    public = load_assignment("channels", public_only=True)
    assert score_line(result.stdout.str()) == f"Score: 0 / {public.max_score:g}"


@pytest.mark.slow
def test_one_notebook_is_graded_for_one_assignment_only(
        pytester: pytest.Pytester, course: None) -> None:
    result = pytester.runpytest_subprocess(str(CHANNELS.parent), "--submission", str(ACCEPTED))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--submission grades one notebook for one assignment; collected *channels*"])


@pytest.mark.slow
def test_public_without_a_submission_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--public")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--public and --unconfined need --submission*"])


@pytest.mark.slow
def test_the_course_is_the_one_that_holds_the_collected_folder(pytester: pytest.Pytester,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONVGRADE_COURSE", raising=False)  # pytester's folder is in no course: the folder's is found
    monkeypatch.setenv("CONVGRADE_SECRET", TESTS_SECRET.decode())
    result = pytester.runpytest_subprocess(str(CHANNELS), "--submission", str(ACCEPTED), "--public")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert score_line(result.stdout.str()).startswith("Score: ")
