"""The class report for instructors: one HTML page made from a batch's gradebook.

`class_report` is a pure function of the gradebook's current rows. Its numbers
are `grader.batch.exports.summary` of those rows, the same that summary.json holds,
so the page and the file always agree: who was graded, the score histogram,
each test's pass rate (worst first), time per submission, and the submissions
to look at (timed out, crashed, used a library convolution, unusable, met a
grader error, collected with a warning: a key made distinct, an ignored file).

Instructors may see test names, hidden ones included, but never a hidden
test's detail (its inputs and expected values can be in it), nor test code.

The page is grader.report.page's document, whose Content-Security-Policy lets
it load nothing else and run no script; its charts are PNG data URIs drawn
with matplotlib's Agg canvas (its object API, no pyplot state). Every string
from the gradebook is escaped: a student may name themselves `<script>`.
"""

from __future__ import annotations

import base64
import io
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from grader.batch.exports import summary
from grader.batch.gradebook import SubmissionRow
from grader.report.page import document, escaped

REPORT_FILE = "report.html"
MAX_CHARTED_TESTS = 40          # the worst ones; the table below the chart lists every test
PUBLIC_COLOR = "#3b6fb6"
HIDDEN_COLOR = "#d08a2b"
BAR_COLOR = "#5a8f5a"

_STYLE = """h2 { font-size: 1.2em; margin: 1.4em 0 0.4em; border-bottom: 2px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 1.02em; margin: 1em 0 0.3em; }
table { border-collapse: collapse; margin: 6px 0; font-size: 14px; }
td, th { border-bottom: 1px solid #e4e4e4; padding: 3px 10px; text-align: left; vertical-align: top; }
td { overflow-wrap: break-word; }
th, td.number, table.tests td { white-space: nowrap; }
table.tests td.name { white-space: normal; overflow-wrap: anywhere; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
.figures { display: flex; flex-wrap: wrap; gap: 8px 32px; }
.figures dt { color: #555; font-size: 0.85em; }
.figures dd { margin: 0; font-size: 1.3em; font-weight: 600; }
img { display: block; max-width: 100%; margin: 8px 0; }
.hidden { color: #8a5a10; }
.none { color: #666; font-style: italic; }
.empty { font-size: 1.1em; color: #a40000; }
"""


def class_report(rows: Sequence[SubmissionRow]) -> str:
    """The whole page, one HTML document."""
    facts = summary(rows)
    if not rows:
        body = ('<p class="empty">No submissions in this gradebook: <code>grade batch PATH... --out DIR</code> '
                "grades them into it.</p>")
    else:
        body = "\n".join((_scores(facts), _tests(facts), _times(rows, facts), _flagged(rows, facts)))
    return document("Class report", _STYLE, _header(facts) + "\n" + body)


def _header(facts: Mapping[str, Any]) -> str:
    assignments = ", ".join(facts["assignments"]) or "none"
    percent = facts["score_percent"]
    figures = [("submissions", facts["submissions"]), ("students", facts["students"]), ("graded", facts["graded"]),
               ("unusable", facts["unusable"]), ("grader errors", facts["errors"]),
               ("mean score", f"{percent['mean']:.1f} %"), ("median score", f"{percent['median']:.1f} %")]
    items = "".join(f"<div><dt>{name}</dt><dd>{escaped(str(value))}</dd></div>" for name, value in figures)
    return (f'<header>\n<h1>Class report</h1>\n<p>Assignments: {escaped(assignments)}</p>\n'
            f'<dl class="figures">{items}</dl>\n<p>Scores are percent of each submission\'s maximum score. '
            "A group submission counts once among submissions and once per member among students.</p>\n</header>")


def _scores(facts: Mapping[str, Any]) -> str:
    histogram = facts["score_percent"]["histogram"]
    bands = [f"{low:g}-{high:g}" for low, high in itertools.pairwise(histogram["edges"])]
    counts = histogram["counts"]
    figure = _figure(8.0, 3.0)
    ax = figure.subplots()
    ax.bar(range(len(counts)), counts, color=BAR_COLOR, width=0.85)
    ax.set_xticks(range(len(bands)), bands, fontsize=8)
    ax.set_xlabel("score, percent of the maximum (100 % is in the last band)")
    ax.set_ylabel("submissions")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    for position, count in enumerate(counts):
        if count:
            ax.annotate(str(count), (position, count), ha="center", va="bottom", fontsize=8)
    ax.margins(y=0.15)
    _open_axes(ax)
    alt = "Score histogram: " + ", ".join(f"{band} %: {count}" for band, count in zip(bands, counts, strict=True))
    return f'<section id="scores">\n<h2>Scores</h2>\n{_image(figure, alt)}\n</section>'


def _tests(facts: Mapping[str, Any]) -> str:
    tests = facts["tests"]
    if not tests:
        return ('<section id="tests">\n<h2>Tests, worst first</h2>\n'
                '<p class="none">No graded submissions, so no pass rates.</p>\n</section>')
    several = len({t["assignment"] for t in tests}) > 1
    rows = "".join(
        f'<tr><td>{escaped(t["assignment"] or "")}</td><td class="name">{escaped(t["name"])}</td>'
        f'<td>{escaped(t["function"])}</td>'
        f'<td class="{_kind(t)}">{_kind(t)}</td>'
        f'<td class="number">{t["max_score"]:g}</td><td class="number">{100 * t["pass_rate"]:.0f} %</td>'
        f'<td class="number">{t["passed"]}/{t["attempts"]}</td></tr>' for t in tests)
    table = ('<table class="tests"><tr><th>assignment</th><th>test</th><th>graded function</th><th>kind</th>'
             '<th class="number">points</th><th class="number">pass rate</th><th class="number">passed/attempts</th>'
             f"</tr>{rows}</table>")
    charted = tests[:MAX_CHARTED_TESTS]
    note = (f"<p>The chart shows the {len(charted)} worst of {len(tests)} tests; the table lists them all.</p>\n"
            if len(charted) < len(tests) else "")
    return (f'<section id="tests">\n<h2>Tests, worst first</h2>\n'
            f"<p>Pass rate of each test over the graded submissions.</p>\n"
            f"{_image(_pass_rate_chart(charted, several), _pass_rate_alt(charted))}\n{note}{table}\n</section>")


def _kind(test: Mapping[str, Any]) -> str:
    return "hidden" if test["hidden"] else "public"


def _pass_rate_chart(tests: Sequence[Mapping[str, Any]], several: bool) -> Figure:
    labels = [f"{t['assignment']}: {t['name']}" if several else t["name"] for t in tests]
    rates = [100 * t["pass_rate"] for t in tests]
    figure = _figure(9.0, 0.8 + 0.26 * len(tests))
    ax = figure.subplots()
    ax.barh(range(len(tests)), rates, height=0.7, color=[HIDDEN_COLOR if t["hidden"] else PUBLIC_COLOR for t in tests])
    # parse_math off: a `$` in a test's name must not be read as TeX.
    ax.set_yticks(range(len(tests)), labels, fontsize=8, parse_math=False)
    ax.invert_yaxis()  # worst at the top
    ax.set_xlim(0, 112)
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel("pass rate, percent of graded submissions")
    for position, (rate, test) in enumerate(zip(rates, tests, strict=True)):
        ax.annotate(f"{rate:.0f} % ({test['passed']}/{test['attempts']})", (rate, position), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=7)
    ax.legend(handles=[Patch(facecolor=PUBLIC_COLOR, label="public"), Patch(facecolor=HIDDEN_COLOR, label="hidden")],
              loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2, fontsize=8, frameon=False)
    _open_axes(ax)
    return figure


def _pass_rate_alt(tests: Sequence[Mapping[str, Any]]) -> str:
    return "Pass rate per test, worst first: " + ", ".join(
        f"{t['name']} {100 * t['pass_rate']:.0f} %" for t in tests)


def _times(rows: Sequence[SubmissionRow], facts: Mapping[str, Any]) -> str:
    seconds = facts["seconds"]
    figure = _figure(8.0, 3.0)
    ax = figure.subplots()
    ax.hist([row.seconds for row in rows], bins=min(20, max(5, len(rows))), color=BAR_COLOR, edgecolor="white")
    ax.set_xlabel("seconds to grade a submission")
    ax.set_ylabel("submissions")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _open_axes(ax)
    figures = [("mean", seconds["mean"]), ("median", seconds["median"]), ("max", seconds["max"]),
               ("total", seconds["total"])]
    items = "".join(f"<div><dt>{name}</dt><dd>{value:.1f} s</dd></div>" for name, value in figures)
    alt = (f"Histogram of seconds per submission: mean {seconds['mean']:.1f} s, median {seconds['median']:.1f} s, "
           f"max {seconds['max']:.1f} s")
    return (f'<section id="times">\n<h2>Time per submission</h2>\n{_image(figure, alt)}\n'
            f'<dl class="figures">{items}</dl>\n</section>')


def _flagged(rows: Sequence[SubmissionRow], facts: Mapping[str, Any]) -> str:
    by_student = {row.student: row for row in rows}
    flagged = facts["flagged"]
    timed_out = [(s, str(by_student[s].timeouts), _score(by_student[s])) for s in flagged["timed_out"]]
    crashed = [(s, str(by_student[s].crashes), _score(by_student[s])) for s in flagged["crashed"]]
    library = [(e["student"], ", ".join(e["functions"]), "; ".join(
        f"{function}: {', '.join(by_student[e['student']].library_convolutions[function])}"
        for function in e["functions"])) for e in flagged["library_convolution"]]
    unusable = [(e["student"], e["reason"]) for e in flagged["unusable"]]
    errors = [(e["student"], "\n".join(_shown_errors(by_student[e["student"]], e["errors"])))
              for e in flagged["grader_errors"]]
    warned = [(e["student"], "\n".join(e["warnings"])) for e in flagged["collection_warnings"]]
    return "\n".join([
        '<section id="flagged">\n<h2>Submissions to look at</h2>',
        _table("timed-out", "Timed out", ("student", "calls timed out", "score"), timed_out),
        _table("crashed", "Crashed their worker", ("student", "crashes", "score"), crashed),
        _table("library-convolution", "Used a library convolution where one must be written from scratch",
               ("student", "functions", "evidence"), library),
        _table("unusable", "Unusable", ("student", "reason"), unusable),
        _table("grader-errors", "Met a grader error", ("student", "errors"), errors),
        _table("collection-warnings", "Collected with a warning (graded under a distinct key, or a file ignored)",
               ("student", "warnings"), warned),
        "</section>"])


def _shown_errors(row: SubmissionRow, errors: Sequence[str]) -> list[str]:
    """A grader error reads "test: detail"; a hidden test's detail stays out of the page."""
    hidden = {test.name for test in row.tests if test.hidden}
    shown = []
    for error in errors:
        name, separator, _ = error.partition(": ")
        shown.append(f"{name}: a hidden test (its detail is in the gradebook)"
                     if separator and name in hidden else error)
    return shown


def _table(anchor: str, title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    heading = f'<h3 id="{anchor}">{title} ({len(rows)})</h3>'
    if not rows:
        return f'{heading}\n<p class="none">none</p>'
    head = "".join(f"<th>{name}</th>" for name in header)
    body = "".join("<tr>" + "".join(f"<td>{escaped(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f'{heading}\n<table class="{anchor}"><tr>{head}</tr>{body}</table>'


def _score(row: SubmissionRow) -> str:
    return f"{row.score:g} / {row.max_score:g}"


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _open_axes(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)


def _image(figure: Figure, alt: str) -> str:
    return f'<img src="{_png_data_uri(figure)}" alt="{escaped(alt)}">'


def _png_data_uri(figure: Figure) -> str:
    """grader.report.heatmaps draws pixel blocks, not matplotlib figures, hence this small one for charts."""
    buffer = io.BytesIO()
    # No version stamp in the PNG: the same gradebook always makes the same page.
    figure.savefig(buffer, format="png", bbox_inches="tight", pad_inches=0.1, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
