from __future__ import annotations

import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader import course
from grader.batch.class_report import class_report
from grader.batch.exports import file_stem
from grader.batch.gradebook import FILE_NAME, Gradebook
from grader.batch.inputs import LINK_REFUSED
from grader.batch.progress import PlainProgress
from grader.batch.run import BatchResult, Graded, grade_batch
from grader.batch.tasks import BatchOptions
from grader.cli import main
from grader.errors import ExitCode
from grader.host.execute import Limits
from grader.records import GradeResult
from grader.session import Grader
from tests.helpers import (
    CRASHES,
    SCALE,
    SOLVED_CORR2D,
    TESTS_SECRET,
    TOY_ASSIGNMENTS,
    ZEROS_CORR2D,
    MakeNotebook,
    use_course,
)

LOOPS = "def corr2d(X, K):\n    while True:\n        pass"
HOGS_MEMORY = "hoard = []\nwhile True:\n    hoard.append(bytearray(64 << 20))"
FAST = BatchOptions(jobs=2, call_timeout=2.0)


class Recorder:
    """A Progress that keeps what it was told."""

    def __init__(self) -> None:
        self.started: tuple[int, int] | None = None
        self.seen: list[Graded] = []
        self.finished = False

    def start(self, to_grade: int, unchanged: int) -> None:
        self.started = (to_grade, unchanged)

    def graded(self, graded: Graded) -> None:
        self.seen.append(graded)

    def finish(self) -> None:
        self.finished = True


@pytest.fixture
def submissions(make_notebook: MakeNotebook, tmp_path: Path) -> Path:
    folder = tmp_path / "submissions"
    folder.mkdir()
    for student, cells in {"solved": (SOLVED_CORR2D, SCALE), "wrong": (ZEROS_CORR2D, SCALE),
                           "loops": (LOOPS, SCALE), "crashes": (SOLVED_CORR2D, CRASHES, SCALE),
                           "hogs_memory": (HOGS_MEMORY, SOLVED_CORR2D, SCALE)}.items():
        shutil.move(make_notebook(*cells, assignment="toy"), folder / f"{student}.ipynb")
    (folder / "truncated.ipynb").write_text('{"cells": [')
    return folder


def run(paths: list[Path], out: Path, grader: Grader | None, options: BatchOptions = FAST) -> BatchResult:
    """The batch in the shared session, or (None) in one of its own that hides `out` from workers."""
    if grader is not None:
        return grade_batch(paths, out, options, PlainProgress(io.StringIO()), grader)
    with Grader(course.active(), secret=TESTS_SECRET, hide=[out]) as own:
        return grade_batch(paths, out, options, PlainProgress(io.StringIO()), own)


def scores(result: BatchResult) -> dict[str, float]:
    return {row.student: row.score for row in result.rows}


@pytest.mark.slow
def test_a_batch_grades_every_kind_of_submission_as_grade_does_alone(
        submissions: Path, tmp_path: Path, grader: Grader, toy_assignments: Path) -> None:
    result = run([submissions], tmp_path / "out", grader)
    rows = {row.student: row for row in result.rows}
    assert scores(result) == {"solved": 100.0, "wrong": 40.0, "loops": 20.0, "crashes": 100.0, "hogs_memory": 100.0,
                              "truncated": 0.0}
    # Out of memory is a cell's timeout: the same verdict whichever limit a runaway cell meets first.
    assert rows["hogs_memory"].results["extra_data"]["cells"][0]["status"] in ("timeout", "crashed")
    assert rows["loops"].timeouts >= 1 and rows["crashes"].crashes == 1
    assert rows["truncated"].status == "unusable" and "truncated" in rows["truncated"].reason
    assert all(r.assignment_digest for r in result.rows if r.status == "graded")
    for student in ("solved", "wrong", "crashes"):  # the same score as graded alone: no submission touches another
        alone = grader.grade(submissions / f"{student}.ipynb", limits=Limits(call_timeout=2.0))
        assert [(t.name, t.score) for t in rows[student].tests] == [(t.name, t.score) for t in alone.tests]
    written = json.loads((tmp_path / "out" / "results" / f"{file_stem('wrong')}.json").read_text())
    assert written["score"] == 40.0 and {t["name"] for t in written["tests"]} == {t.name for t in rows["wrong"].tests}
    assert (tmp_path / "out" / "grades.csv").read_text().count("\n") == 7
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["flagged"]["timed_out"] == ["loops"]
    pages = {page.stem: page.read_text() for page in (tmp_path / "out" / "feedback").iterdir()}
    assert set(pages) == {file_stem(student) for student in rows}
    assert "Score: <strong>40 / 100</strong>" in pages[file_stem("wrong")]
    assert "truncated" in pages[file_stem("truncated")]


@pytest.mark.slow
def test_a_second_run_grades_only_what_is_new_or_changed_and_a_regrade_keeps_old_scores(
        submissions: Path, tmp_path: Path, grader: Grader, toy_assignments: Path, make_notebook: MakeNotebook) -> None:
    out = tmp_path / "out"
    first = run([submissions], out, grader)
    assert len(first.graded) == 6
    again = run([submissions], out, grader)
    assert (again.graded, len(again.unchanged), len(again.rows)) == ((), 6, 6)

    shutil.copy(submissions / "solved.ipynb", submissions / "wrong.ipynb")  # the student fixed it
    shutil.move(make_notebook(SOLVED_CORR2D, SCALE, assignment="toy"), submissions / "late.ipynb")
    progress = Recorder()
    changed = grade_batch([submissions], out, FAST, progress, grader)
    assert sorted(g.row.student for g in changed.graded) == ["late", "wrong"]
    assert progress.started == (2, 5) and progress.finished and len(progress.seen) == 2
    assert [(g.row.student, g.previous.score if g.previous else None, g.row.score)
            for g in changed.changed_scores] == [("wrong", 40.0, 100.0)]

    regraded = run([submissions], out, grader, BatchOptions(jobs=2, call_timeout=2.0, regrade=True))
    assert len(regraded.graded) == 7 and regraded.changed_scores == ()
    with Gradebook(out / FILE_NAME) as book:
        assert [r.score for r in book.history("wrong")] == [40.0, 100.0, 100.0]


@pytest.mark.slow
def test_a_rerun_adds_no_row_and_writes_again_the_feedback_pages_its_rows_lack(
        tmp_path: Path, make_notebook: MakeNotebook, toy_assignments: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    for student, cells in {"solved": (SOLVED_CORR2D, SCALE), "wrong": (ZEROS_CORR2D, SCALE),
                           "crashes": (SOLVED_CORR2D, CRASHES, SCALE)}.items():
        shutil.move(make_notebook(*cells, assignment="toy"), folder / f"{student}.ipynb")
    (folder / "truncated.ipynb").write_text('{"cells": [')
    out = tmp_path / "out"
    batch = ["batch", str(folder), "--out", str(out), "--assignment", "toy", "--jobs", "2", "--call-timeout", "2",
             "--quiet"]
    assert main(batch) == ExitCode.GRADED
    assert "graded 4 (1 not graded or with grader errors), 0 unchanged; 4 in the gradebook" in capsys.readouterr().out
    pages = {page.name: page.read_text() for page in (out / "feedback").iterdir()}
    assert len(pages) == 4
    for student in ("wrong", "truncated"):  # as if a run was killed after their commits, before their pages
        (out / "feedback" / f"{file_stem(student)}.html").unlink()

    assert main(batch) == ExitCode.GRADED
    printed = capsys.readouterr().out
    assert "graded 0 (0 not graded or with grader errors), 4 unchanged; 4 in the gradebook" in printed
    assert "wrote 2 missing feedback pages again, from the gradebook" in printed
    assert {page.name: page.read_text() for page in (out / "feedback").iterdir()} == pages
    with sqlite3.connect(out / FILE_NAME) as db:
        assert db.execute("SELECT COUNT(*) FROM submissions").fetchone() == (4,)


@pytest.mark.slow
def test_a_page_is_written_before_its_row_is_committed(
        tmp_path: Path, make_notebook: MakeNotebook, toy_assignments: Path, grader: Grader,
        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.move(make_notebook(ZEROS_CORR2D, SCALE, assignment="toy"), folder / "wrong.ipynb")

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the batch dies as it commits

    monkeypatch.setattr(Gradebook, "record", killed)
    with pytest.raises(KeyboardInterrupt):
        run([folder], tmp_path / "out", grader)
    page = tmp_path / "out" / "feedback" / f"{file_stem('wrong')}.html"
    assert "Score: <strong>40 / 100</strong>" in page.read_text()


@pytest.mark.slow
def test_a_row_stored_before_pages_were_kept_is_graded_again_for_its_page_and_keeps_its_row(
        tmp_path: Path, make_notebook: MakeNotebook, toy_assignments: Path, grader: Grader) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.move(make_notebook(ZEROS_CORR2D, SCALE, assignment="toy"), folder / "wrong.ipynb")
    out = tmp_path / "out"
    (row,) = run([folder], out, grader).rows
    page = out / "feedback" / f"{file_stem('wrong')}.html"
    written = page.read_text()
    page.unlink()
    with sqlite3.connect(out / FILE_NAME) as db:  # a gradebook of an earlier version: no page data
        db.execute("DELETE FROM pages")
    again = run([folder], out, grader)
    assert [(g.row.id, g.row.score) for g in again.graded] == [(row.id, 40.0)] and again.pages_rewritten == ()
    assert page.read_text() == written
    with Gradebook(out / FILE_NAME) as book:
        assert len(book.history("wrong")) == 1 and book.page(row.id)
    page.unlink()
    third = run([folder], out, grader)
    assert (third.graded, third.pages_rewritten) == ((), ("wrong",)) and page.read_text() == written


@pytest.mark.slow
def test_changed_tests_regrade_the_submissions_they_graded(
        submissions: Path, tmp_path: Path, grader: Grader, toy_assignments: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    course = tmp_path / "course"
    shutil.copytree(toy_assignments, course)
    use_course(monkeypatch, course)
    (submissions / "loops.ipynb").unlink()  # keep this one quick
    out = tmp_path / "out"
    assert len(run([submissions], out, grader).graded) == 5
    with (course / "toy" / "hidden_tests.py").open("a") as tests:
        tests.write("\n# a fix to a hidden test\n")
    again = run([submissions], out, grader)
    # The unusable one was never graded by any test, so it is not graded again.
    assert sorted(g.row.student for g in again.graded) == ["crashes", "hogs_memory", "solved", "wrong"]


@pytest.mark.slow
def test_a_grader_failure_costs_one_submission_and_is_retried_next_time(
        submissions: Path, tmp_path: Path, grader: Grader, toy_assignments: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (submissions / "loops.ipynb").unlink()
    real_grade = grader.grade

    def failing_on_wrong(path: Path, **kwargs: Any) -> GradeResult:
        if path.name == "wrong.ipynb":
            raise RuntimeError("a defect in the grader")
        return real_grade(path, **kwargs)

    monkeypatch.setattr(grader, "grade", failing_on_wrong)
    result = run([submissions], tmp_path / "out", grader)
    assert [g.row.student for g in result.grader_failures] == ["wrong"]
    failed = result.grader_failures[0].row
    assert failed.status == "error" and "a defect in the grader" in failed.reason
    assert scores(result)["solved"] == 100.0
    monkeypatch.undo()
    again = run([submissions], tmp_path / "out", grader)
    assert [g.row.student for g in again.graded] == ["wrong"] and scores(again)["wrong"] == 40.0


@pytest.mark.slow
def test_a_batch_killed_midway_keeps_what_it_graded_and_the_next_run_finishes_it(
        tmp_path: Path, make_notebook: MakeNotebook, toy_assignments: Path, grader: Grader) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    for number in range(6):
        shutil.move(make_notebook(f"import time\ntime.sleep(0.7)  # student {number}", SOLVED_CORR2D, SCALE,
                                  assignment="toy"), folder / f"s{number}.ipynb")
    out = tmp_path / "out"
    command = [sys.executable, "-c", "from grader.cli import main_entry; main_entry()",
               "batch", str(folder), "--out", str(out), "--jobs", "1", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, cwd=Path(__file__).resolve().parents[3])
    committed = 0
    deadline = time.monotonic() + 120
    while committed < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        if (out / FILE_NAME).exists():
            with Gradebook(out / FILE_NAME) as book:
                committed = len(book.current_rows())
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    with Gradebook(out / FILE_NAME) as book:
        kept = {row.student: row.score for row in book.current_rows()}
    assert 2 <= len(kept) < 6 and set(kept.values()) == {100.0}
    finished = run([folder], out, grader)
    assert {g.row.student for g in finished.graded} == {f"s{n}" for n in range(6)} - set(kept)
    assert sorted(finished.unchanged) == sorted(kept) and set(scores(finished).values()) == {100.0}


@pytest.fixture
def out_anyone_may_reach() -> Iterator[Path]:
    """An output folder that file permissions alone would not protect: only hiding it from workers does."""
    if not Path("/var/tmp").is_dir():
        pytest.skip("no /var/tmp here for a world-writable folder")
    base = Path(tempfile.mkdtemp(prefix="convgrade-test-", dir="/var/tmp"))
    base.chmod(0o777)
    yield base / "out"
    shutil.rmtree(base)


@pytest.mark.slow
@pytest.mark.root
def test_a_submission_cannot_reach_the_gradebook_or_another_submission(
        tmp_path: Path, make_notebook: MakeNotebook, toy_assignments: Path, out_anyone_may_reach: Path) -> None:
    out = out_anyone_may_reach
    folder = tmp_path / "submissions"
    folder.mkdir()
    attack = f"""
import pathlib, torch
out = pathlib.Path({str(out)!r})
for target in [out / "gradebook.sqlite", out / "results" / {file_stem("victim") + ".json"!r}, out / "grades.csv",
               out / "planted.txt"]:
    try:
        target.unlink(missing_ok=True)
        target.write_text("forged")
    except OSError:
        pass
torch.zeros = lambda *shape: torch.ones(*shape)  # only in this worker
"""
    shutil.move(make_notebook(attack, ZEROS_CORR2D, SCALE, assignment="toy"), folder / "attacker.ipynb")
    shutil.move(make_notebook(SOLVED_CORR2D, SCALE, assignment="toy"), folder / "victim.ipynb")
    (out / "results").mkdir(parents=True)
    for folder_anyone_may_write in (out, out / "results"):  # file permissions alone would not stop the attack
        folder_anyone_may_write.chmod(0o777)
    run([folder], out, None)  # the batch's own zygote, which hides `out` from workers
    again = run([folder], out, None)
    assert scores(again) == {"attacker": 40.0, "victim": 100.0} and again.graded == ()
    assert json.loads((out / "results" / f"{file_stem('victim')}.json").read_text())["score"] == 100.0
    assert not (out / "planted.txt").exists()


@pytest.mark.slow
def test_a_canvas_zip_is_graded_straight_from_the_archive(
        tmp_path: Path, make_notebook: MakeNotebook, grader: Grader, toy_assignments: Path) -> None:
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(make_notebook(SOLVED_CORR2D, SCALE, assignment="toy"), "lastfirst_12345_67890_hw.ipynb")
        z.write(make_notebook(ZEROS_CORR2D, SCALE, assignment="toy"), "doejane_late_222_333_hw-1.ipynb")
    result = run([archive], tmp_path / "out", grader)
    assert {(r.student, r.lms_id, r.score) for r in result.rows} == {("lastfirst", "12345", 100.0),
                                                                    ("doejane", "222", 40.0)}
    assert all(r.source.startswith(f"{archive}!") for r in result.rows)
    assert "lastfirst,12345,toy,graded,100,100,100" in (tmp_path / "out" / "grades.csv").read_text()


@pytest.mark.slow
def test_hostile_batch_inputs_cost_only_their_own_rows_and_no_output_is_written_through_a_link(
        tmp_path: Path, make_notebook: MakeNotebook, grader: Grader, toy_assignments: Path) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.move(make_notebook(SOLVED_CORR2D, SCALE, assignment="toy"), folder / "peer.ipynb")
    links = {"teacher": TOY_ASSIGNMENTS / "toy" / "toy.ipynb", "copier": folder / "peer.ipynb",
             "pager": Path("/proc/self/pagemap")}
    for student, target in links.items():
        (folder / student).mkdir()
        (folder / student / "hw.ipynb").symlink_to(target)
    (folder / "piper").mkdir()
    os.mkfifo(folder / "piper" / "hw.ipynb")
    for part, cells in {"a": (ZEROS_CORR2D, SCALE), "b": (SOLVED_CORR2D, SCALE)}.items():  # two hw.ipynb
        (folder / "alice" / part).mkdir(parents=True)
        shutil.move(make_notebook(*cells, assignment="toy"), folder / "alice" / part / "hw.ipynb")
    for name in ("Li Wei", "Li, Wei"):  # one slug, two students
        shutil.move(make_notebook(SCALE, assignment="toy"), folder / f"{name}.ipynb")

    out = tmp_path / "out"
    victim = tmp_path / "victim"
    victim.write_text("root's own")
    victim.chmod(0o600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "feedback").mkdir(parents=True)
    for planted in ("grades.csv", "summary.json", f"feedback/{file_stem('peer')}.html"):
        (out / planted).symlink_to(victim)
    (out / "results").symlink_to(elsewhere, target_is_directory=True)

    result = run([folder], out, grader)
    rows = {row.student: row for row in result.rows}
    assert set(rows) == {"peer", "teacher", "copier", "pager", "piper", "alice/alice/a/hw.ipynb",
                         "alice/alice/b/hw.ipynb", "Li Wei", "Li, Wei"}
    for student in links:
        assert (rows[student].status, rows[student].reason, rows[student].score) == ("unusable", LINK_REFUSED, 0.0)
    assert rows["piper"].status == "unusable" and "FIFO" in rows["piper"].reason
    assert (rows["peer"].score, rows["alice/alice/a/hw.ipynb"].score, rows["alice/alice/b/hw.ipynb"].score) == (
        100.0, 40.0, 100.0)
    assert rows["alice/alice/a/hw.ipynb"].warnings[0].startswith("2 notebooks were found for 'alice'")

    feedback = out / "feedback"
    teacher_page = (feedback / f"{file_stem('teacher')}.html").read_text()
    assert "symbolic link" in teacher_page and "Because." not in teacher_page and "h, w = K.shape" not in teacher_page
    assert "def corr2d" not in (feedback / f"{file_stem('copier')}.html").read_text()
    assert len({file_stem("Li Wei"), file_stem("Li, Wei")}) == 2
    assert len(list((out / "results").iterdir())) == len(rows)

    assert victim.read_text() == "root's own" and victim.stat().st_mode & 0o777 == 0o600
    assert list(elsewhere.iterdir()) == []
    for output in ("grades.csv", "summary.json", "results", f"feedback/{file_stem('peer')}.html"):
        assert not (out / output).is_symlink()
    written = json.loads((out / "summary.json").read_text())
    assert [e["student"] for e in written["flagged"]["collection_warnings"]] == [
        "alice/alice/a/hw.ipynb", "alice/alice/b/hw.ipynb"]
    assert {e["student"] for e in written["flagged"]["unusable"]} == {*links, "piper"}
    assert "2 notebooks were found for &#x27;alice&#x27;" in class_report(result.rows)

    again = run([folder], out, grader)  # the same inputs: the same keys, nothing graded again
    assert again.graded == () and sorted(again.unchanged) == sorted(rows)
