from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from grader.exports import file_stem, grades_csv, summary, write_outputs
from grader.score import TestScore
from tests.grader.test_gradebook import make_row


def scored(*passed: bool) -> tuple[...]:
    return tuple(TestScore(name=f"t{i}", function="corr2d", score=5.0 * ok, max_score=5.0, passed=ok, hidden=i == 1,
                           feedback="", detail="") for i, ok in enumerate(passed))


ROWS = (
    make_row("alice", score=10.0, tests=scored(True, True)),
    make_row("bob", score=5.0, tests=scored(True, False), timeouts=2),
    make_row("200+201", score=0.0, members=("200", "201"), tests=scored(False, False), library_convolutions={}),
    make_row("eve", score=0.0, status="unusable", reason="is truncated", tests=(), assignment_digest="",
             library_convolutions={}),
)


def test_grades_csv_has_a_row_per_student_and_a_column_per_test() -> None:
    table = list(csv.DictReader(io.StringIO(grades_csv(ROWS))))
    assert [r["student"] for r in table] == ["200", "201", "alice", "bob", "eve"]
    alice = next(r for r in table if r["student"] == "alice")
    assert [alice[column] for column in ("score", "max_score", "percent", "t0", "t1")] == ["10", "10", "100", "5", "5"]
    bob = next(r for r in table if r["student"] == "bob")
    assert (bob["t0"], bob["t1"], bob["lms_id"]) == ("5", "0", "42")
    eve = next(r for r in table if r["student"] == "eve")
    assert (eve["status"], eve["score"], eve["t0"]) == ("unusable", "0", "")


def test_tests_of_several_assignments_are_told_apart_in_the_columns() -> None:
    other = make_row("zed", assignment="other", tests=scored(True))
    header = grades_csv((ROWS[0], other)).splitlines()[0].split(",")
    assert header[-3:] == ["toy:t0", "toy:t1", "other:t0"]


def test_summary_gives_the_distribution_worst_tests_first_and_the_submissions_to_look_at() -> None:
    report = summary(ROWS)
    assert (report["submissions"], report["students"], report["graded"], report["unusable"]) == (4, 5, 3, 1)
    assert report["score_percent"]["histogram"]["counts"] == [2, 0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert [(t["name"], t["pass_rate"]) for t in report["tests"]] == [("t1", 0.3333), ("t0", 0.6667)]
    assert report["tests"][0]["hidden"] is True and report["tests"][0]["attempts"] == 3
    assert report["flagged"]["timed_out"] == ["bob"]
    assert report["flagged"]["library_convolution"] == [{"student": "alice", "functions": ["corr2d"]},
                                                        {"student": "bob", "functions": ["corr2d"]}]
    assert report["flagged"]["unusable"] == [{"student": "eve", "reason": "is truncated"}]


def test_write_outputs_writes_a_results_file_per_submission_with_a_safe_name(tmp_path: Path) -> None:
    write_outputs(ROWS + (make_row("../../etc/passwd"),), tmp_path)
    names = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert names == ["200+201.json", "alice.json", "bob.json", "etc_passwd.json", "eve.json"]
    assert json.loads((tmp_path / "results" / "alice.json").read_text()) == ROWS[0].results
    assert json.loads((tmp_path / "summary.json").read_text())["submissions"] == 5
    assert (tmp_path / "grades.csv").read_text().startswith("student,lms_id,assignment")
    assert not list(tmp_path.glob(".*partial"))


def test_file_stem_keeps_readable_names_and_never_makes_a_path() -> None:
    assert file_stem("Jane Doe") == "Jane_Doe"
    assert file_stem("alice/part1.ipynb") == "alice_part1.ipynb"
    assert file_stem("..") == "student"
