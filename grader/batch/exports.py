"""A batch's outputs, made from its gradebook: grades.csv, results/<file stem>.json, summary.json.

Pure functions over the gradebook's current rows, plus one that writes them.
They are rewritten whole after every batch run, so a run that was killed
midway is made whole by the next. Every file is written through
grader.safe_write: never through a link planted where it goes.

Names are the students' own choice, so a cell of grades.csv that a
spreadsheet would read as a formula (one that begins with =, +, -, @, a tab,
a carriage return or a line feed) is prefixed with a single quote, as OWASP
recommends against CSV injection; and file names come from `file_stem`, a
readable slug plus a digest of the exact key, so that no two keys share a
file ("Li Wei" and "Li, Wei" get two).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.batch.gradebook import SubmissionRow, rows_by_student
from grader.safe_write import make_folder, write_file

GRADES_FILE = "grades.csv"
SUMMARY_FILE = "summary.json"
RESULTS_FOLDER = "results"
HISTOGRAM_BINS = 10
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")   # OWASP's list, and what ASVS adds


def file_stem(student: str) -> str:
    """A student key as a file name: a readable slug (never a path) and a digest of the exact key.

    The slug alone loses punctuation, case and accents; the digest keeps two keys that share a slug apart."""
    slug = re.sub(r"[^\w.@+-]+", "_", student).strip("._-") or "student"
    return f"{slug[:80]}-{hashlib.sha256(student.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def spreadsheet_text(cell: str) -> str:
    """A text cell that no spreadsheet reads as a formula: a leading trigger (after any spaces) gets a quote."""
    return f"'{cell}" if cell.lstrip(" ").startswith(FORMULA_STARTS) else cell


def test_columns(rows: Sequence[SubmissionRow]) -> list[tuple[str | None, str]]:
    """(assignment, test) for every test seen, in each assignment's own order."""
    columns: dict[tuple[str | None, str], None] = {}
    for row in rows:
        for test in row.tests:
            columns[(row.assignment, test.name)] = None
    return list(columns)


def grades_csv(rows: Sequence[SubmissionRow]) -> str:
    """One row per student (each member of a group), ready for an LMS import."""
    columns = test_columns(rows)
    several = len({assignment for assignment, _ in columns}) > 1
    header = ["student", "lms_id", "assignment", "status", "score", "max_score", "percent"]
    header += [f"{assignment}:{test}" if several else test for assignment, test in columns]
    buffer = io.StringIO()
    # RFC 4180's CRLF: the writer then quotes a field holding either character (with "\n" alone, a bare
    # carriage return in a name went unquoted and split its row).
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([spreadsheet_text(name) for name in header])
    for student, row in sorted(rows_by_student(rows), key=lambda pair: pair[0]):
        scores = {(row.assignment, t.name): t.score for t in row.tests}
        percent = 100 * row.score / row.max_score if row.max_score else 0.0
        who = [spreadsheet_text(text) for text in (student, row.lms_id, row.assignment or "", row.status)]
        if row.status == "error":  # not graded: no number an LMS import could take for a score
            writer.writerow(who + ["", _number(row.max_score), ""] + [""] * len(columns))
            continue
        writer.writerow(who + [_number(row.score), _number(row.max_score), _number(round(percent, 2))]
                        + [_number(scores[c]) if c in scores else "" for c in columns])
    return buffer.getvalue()


def summary(rows: Sequence[SubmissionRow]) -> dict[str, Any]:
    """What the class got wrong: the score distribution, each test's pass rate, and the submissions to look at."""
    graded = [r for r in rows if r.status == "graded"]
    percents = sorted(100 * r.score / r.max_score if r.max_score else 0.0 for r in rows)
    seconds = [r.seconds for r in rows]
    return {
        "submissions": len(rows),
        "students": len({student for student, _ in rows_by_student(rows)}),
        "graded": len(graded),
        "unusable": sum(r.status == "unusable" for r in rows),
        "errors": sum(r.status == "error" for r in rows),
        "assignments": sorted({r.assignment for r in rows if r.assignment}),
        "score_percent": {**_statistics(percents), "histogram": _histogram(percents)},
        "tests": _pass_rates(graded),
        "seconds": {**_statistics(seconds), "total": round(sum(seconds), 3)},
        "flagged": {
            "timed_out": [r.student for r in rows if r.timeouts],
            "crashed": [r.student for r in rows if r.crashes],
            "library_convolution": [{"student": r.student, "functions": sorted(r.library_convolutions)}
                                    for r in rows if r.library_convolutions],
            "unusable": [{"student": r.student, "reason": r.reason} for r in rows if r.status == "unusable"],
            "grader_errors": [{"student": r.student, "errors": list(r.grader_errors)} for r in rows if r.grader_errors],
            "collection_warnings": [{"student": r.student, "warnings": list(r.warnings)} for r in rows if r.warnings],
        },
        "files": {r.student: file_stem(r.student) for r in rows},
    }


def write_outputs(rows: Sequence[SubmissionRow], out: Path) -> None:
    results = make_folder(out / RESULTS_FOLDER, base=out)
    written = set()
    for row in rows:
        path = write_file(results / f"{file_stem(row.student)}.json", json.dumps(row.results, indent=2) + "\n",
                          base=out)
        written.add(path.name)
    _remove_stale(results, written)
    write_file(out / GRADES_FILE, grades_csv(rows), base=out)
    write_summary(rows, out)


def write_summary(rows: Sequence[SubmissionRow], out: Path) -> Path:
    """summary.json alone: the class report rewrites it beside its page, so that the two always agree."""
    return write_file(out / SUMMARY_FILE, json.dumps(summary(rows), indent=2) + "\n", base=out)


def _remove_stale(results: Path, written: set[str]) -> None:
    """results/ holds the current rows only: files of keys no longer current (or of the earlier naming) go."""
    for path in results.iterdir():
        if path.suffix == ".json" and path.name not in written and not path.is_dir():
            path.unlink(missing_ok=True)  # a link is removed itself, never its target


def _pass_rates(graded: Sequence[SubmissionRow]) -> list[dict[str, Any]]:
    tally: dict[tuple[str | None, str], dict[str, Any]] = {}
    for row in graded:
        for test in row.tests:
            entry = tally.setdefault((row.assignment, test.name), {
                "assignment": row.assignment, "name": test.name, "function": test.function,
                "hidden": test.hidden, "max_score": test.max_score, "attempts": 0, "passed": 0})
            entry["attempts"] += 1
            entry["passed"] += test.passed
    for entry in tally.values():
        entry["pass_rate"] = round(entry["passed"] / entry["attempts"], 4)
    return sorted(tally.values(), key=lambda e: (e["pass_rate"], str(e["assignment"]), e["name"]))


def _statistics(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "median": 0.0, "min": 0.0, "max": 0.0}
    return {"mean": round(statistics.fmean(values), 3), "median": round(statistics.median(values), 3),
            "min": round(min(values), 3), "max": round(max(values), 3)}


def _histogram(percents: Sequence[float]) -> dict[str, list[float] | list[int]]:
    """Counts per 10 % band; 100 % falls in the last band."""
    width = 100 / HISTOGRAM_BINS
    counts = [0] * HISTOGRAM_BINS
    for value in percents:
        counts[min(int(value // width), HISTOGRAM_BINS - 1)] += 1
    return {"edges": [round(i * width, 3) for i in range(HISTOGRAM_BINS + 1)], "counts": counts}


def _number(value: float) -> str:
    return f"{value:g}"
