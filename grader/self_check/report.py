"""The self-check's result, as a student's notebook shows it: an HTML table in Jupyter, text elsewhere.

Built from the plain data the grader's process returned (grader.self_check.run),
read with its types checked and its sizes bounded; every string is escaped
before it goes into HTML, since a test's message can quote what the
student's code returned.
"""

from __future__ import annotations

import dataclasses
import html
import math
import textwrap
from collections.abc import Sequence
from typing import Any, Literal

ReportStatus = Literal["graded", "unusable", "error", "refused", "failed"]
MAX_TESTS = 500
MAX_NOTES = 50
MAX_MESSAGE = 2_000      # characters of one message, note or line
_STATUSES: tuple[ReportStatus, ...] = ("graded", "unusable", "error", "refused", "failed")


@dataclasses.dataclass(frozen=True)
class TestRow:
    __test__ = False  # not a pytest class

    name: str
    function: str
    score: float
    max_score: float
    passed: bool
    message: str

    @property
    def tip(self) -> bool:
        return self.max_score == 0


@dataclasses.dataclass(frozen=True)
class CheckReport:
    status: ReportStatus
    line: str                          # why not graded; "" when graded
    assignment: str | None = None
    tests: tuple[TestRow, ...] = ()
    notes: tuple[str, ...] = ()        # the grader's notes, cells that raised first
    confined: bool | None = None       # whether student code ran confined; None when nothing ran

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    def summary(self) -> str:
        if self.status == "graded":
            return (f"{self.assignment}: {points(self.score)} / {points(self.max_score)} points on the public "
                    "tests (the hidden tests run when you submit)")
        if self.status == "error":
            return f"{self.assignment}: no score: {self.line}"
        return f"check: {self.line}"

    def _repr_html_(self) -> str:
        return render_html(self)

    def __str__(self) -> str:
        return render_text(self)

    def __repr__(self) -> str:
        return render_text(self)


def refused(line: str) -> CheckReport:
    return CheckReport("refused", _cut(line))


def failed(line: str) -> CheckReport:
    return CheckReport("failed", _cut(line))


def report_from_document(document: object, cell_numbers: Sequence[int]) -> CheckReport:
    """The report from grader.self_check.run's JSON document; `cell_numbers[i]` is
    the In [number] of the submission's cell i. Anything malformed is a failure."""
    if not isinstance(document, dict) or document.get("status") not in _STATUSES:
        return failed("the grader returned no result it could read")
    status: ReportStatus = document["status"]
    line = _text(document.get("reason"))
    if status in ("refused", "failed", "unusable"):
        return CheckReport(status, line or "the grader gave no reason", _optional_text(document.get("assignment")))
    tests = tuple(row for row in map(_test_row, _list(document.get("tests"))[:MAX_TESTS]) if row is not None)
    cells = [_cell_note(cell, cell_numbers) for cell in _list(document.get("cells"))[:MAX_NOTES]]
    notes = [_text(note) for note in _list(document.get("notes"))[:MAX_NOTES]]
    confined = document.get("confined")
    return CheckReport(status, line, _optional_text(document.get("assignment")), tests,
                       tuple(note for note in cells + notes if note)[:MAX_NOTES],
                       confined if isinstance(confined, bool) else None)


def _test_row(value: object) -> TestRow | None:
    if not isinstance(value, dict):
        return None
    score, max_score = _number(value.get("score")), _number(value.get("max_score"))
    if score is None or max_score is None:
        return None
    return TestRow(_text(value.get("name")) or "?", _text(value.get("function")), score, max_score,
                   value.get("passed") is True, _text(value.get("message")))


def _cell_note(value: object, cell_numbers: Sequence[int]) -> str:
    if not isinstance(value, dict) or type(value.get("index")) is not int:
        return ""
    index: int = value["index"]
    where = f"In [{cell_numbers[index]}]" if 0 <= index < len(cell_numbers) else f"cell {index + 1}"
    return _cut(f"{where}: {_text(value.get('status'))}: {_text(value.get('message'))}")


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str:
    return _cut(value) if isinstance(value, str) else ""


def _optional_text(value: object) -> str | None:
    return _cut(value) if isinstance(value, str) else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + f"... [{len(text) - MAX_MESSAGE} more characters]"


def points(value: float) -> str:
    return f"{value:g}"


def _mark(test: TestRow) -> str:
    if test.passed:
        return "pass"
    return "tip" if test.tip else "fail"


def _confinement_note(report: CheckReport) -> tuple[str, ...]:
    if report.confined is False:
        return ("your code ran in a separate process, but without confinement on this machine",)
    return ()


def render_text(report: CheckReport, *, width: int = 100) -> str:
    lines = [report.summary()]
    if report.tests:
        name_width = max(len(t.name) for t in report.tests)
        point_width = max(len(f"{points(t.score)}/{points(t.max_score)}") for t in report.tests)
        room = max(20, width - name_width - point_width - 10)
        for test in report.tests:
            first, *rest = textwrap.wrap(test.message, room) or [""]
            scored = f"{points(test.score)}/{points(test.max_score)}"
            lines.append(f"{test.name:<{name_width}}  {scored:>{point_width}}  {_mark(test):<4}  {first}")
            lines += [" " * (name_width + point_width + 10) + line for line in rest]
    lines += [f"note: {note}" for note in report.notes + _confinement_note(report)]
    return "\n".join(lines)


_STYLE = {"pass": "color:#1a7f37", "fail": "color:#cf222e;font-weight:bold", "tip": "color:#9a6700"}


def render_html(report: CheckReport) -> str:
    escape = html.escape
    parts = [f'<div class="convgrade-check"><p><strong>{escape(report.summary())}</strong></p>']
    if report.tests:
        parts.append('<table><thead><tr><th style="text-align:left">test</th><th>points</th><th>result</th>'
                     '<th style="text-align:left">message</th></tr></thead><tbody>')
        for test in report.tests:
            mark = _mark(test)
            parts.append(
                f'<tr><td style="text-align:left"><code>{escape(test.name)}</code></td>'
                f"<td>{escape(points(test.score))}/{escape(points(test.max_score))}</td>"
                f'<td style="{_STYLE[mark]}">{mark}</td>'
                f'<td style="text-align:left;white-space:pre-wrap">{escape(test.message)}</td></tr>')
        parts.append("</tbody></table>")
    notes = report.notes + _confinement_note(report)
    if notes:
        parts.append("<ul>" + "".join(f"<li>{escape(note)}</li>" for note in notes) + "</ul>")
    parts.append("</div>")
    return "".join(parts)

