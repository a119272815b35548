"""The student's feedback page: their own notebook, each graded function's results beside it.

`feedback_page` is a pure function of a `GradeResult` and the notebook. The
summary (score, notes, every test) comes first; each function's results follow
the last code cell that defines it, as a notebook run would use that
definition; functions that no cell defines get theirs at the top.

A public test shows its message and what it compared: both values, and for
tensors heatmaps of expected, yours and the difference. A hidden test shows
what the terminal table and Gradescope show of it: name, points, pass or fail
and its feedback (the hint); never its detail, inputs, expected values or code.

The page is grader.report.page's document: one self-contained file whose
Content-Security-Policy lets it load nothing else and run no script, so it
works offline and a student's notebook cannot make it fetch or run anything.

A huge notebook is shown cut, saying so (grader.report.notebook_excerpt): a page is
bounded in size and time. A batch writes one page per student, so a page must
cost milliseconds: the notebook renders through grader.report.notebook_html's caches, and heatmaps are
pixels from numpy (grader.report.heatmaps) with their titles and scales in the HTML.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from pathlib import Path

import nbformat
import numpy as np
import torch
from pygments.formatters import HtmlFormatter

from grader.authoring.comparison import Comparison
from grader.grading.load import load_notebook
from grader.records import GradeResult, TestScore, Unusable
from grader.report.formats import points
from grader.report.heatmaps import (
    GAP,
    NOT_A_NUMBER_COLOR,
    Heatmaps,
    Scale,
    color_stops,
    heatmaps,
)
from grader.report.notebook_excerpt import NOTICE_CLASS
from grader.report.notebook_html import notebook_html
from grader.report.page import document, escaped

MAX_HEATMAPS_PER_TEST = 4      # the failing comparison, and the first few that matched

_STYLE = """pre, code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; }
.summary { border-bottom: 2px solid #ddd; padding-bottom: 12px; }
.score { font-size: 1.3em; }
.unusable { color: #a40000; font-weight: 600; }
table.overview { border-collapse: collapse; margin-top: 8px; }
table.overview td, table.overview th { border-bottom: 1px solid #e4e4e4; padding: 3px 10px; text-align: left; }
.status-passed { color: #116611; font-weight: 700; }
.status-failed, .status-error { color: #b00020; font-weight: 700; }
.cell { margin: 10px 0; }
.prompt { color: #888; font: 12px ui-monospace, monospace; }
.input_area { background: #f7f7f7; border: 1px solid #e0e0e0; border-radius: 3px; padding: 6px 8px; overflow-x: auto; }
.output_area pre { padding: 4px 8px; }
.output_stderr, .output_error { background: #fff0f0; }
.output_area img { max-width: 100%; }
.text_cell_render { padding: 2px 4px; }
a.anchor-link { display: none; }
.results { border-left: 4px solid #3b6fb6; background: #f3f7fd; margin: 6px 0 18px; padding: 8px 12px; }
.results h3 { margin: 2px 0 8px; font-size: 1.05em; }
.test { border-top: 1px solid #d6e0ee; padding: 6px 0; }
.kind { color: #666; font-size: 0.85em; }
.message, .hint { margin: 4px 0; }
.comparison { margin: 8px 0 4px 14px; }
.values { display: flex; flex-wrap: wrap; gap: 18px; margin: 4px 0; }
.values h4 { margin: 0; font-size: 0.85em; color: #555; font-weight: 600; }
.heatmaps { margin: 6px 0 0; }
.heatmaps img { display: block; max-width: 100%; background: #fff; }
.heatmaps figcaption { font-size: 0.85em; color: #444; }
.heatmaps .panels { display: flex; gap: """ + str(GAP) + """px; margin-top: 2px; }
.heatmaps .panels div { text-align: center; }
.heatmaps .legend { display: flex; flex-wrap: wrap; gap: 4px 18px; margin-top: 4px; align-items: center; }
.heatmaps .bar { display: inline-block; width: 90px; height: 10px; vertical-align: middle; border: 1px solid #888; }
.heatmaps .swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: middle; }
.heatmaps .outlined { border: 2px solid #111; background: #fff; }
.unplaced { border-bottom: 2px solid #ddd; }
.""" + NOTICE_CLASS + """ { color: #7a4b00; background: #fff8e6; font-size: 0.9em; margin: 4px 0; padding: 2px 8px; }
""" + HtmlFormatter(style="default").get_style_defs(".highlight")


def feedback_page(result: GradeResult, notebook: nbformat.NotebookNode | None) -> str:
    """The whole page, one HTML document. An unusable submission gets the reason and no notebook."""
    if result.status == "unusable":
        return _document(result, _summary(result, ()), "")
    tests_of: dict[str, list[TestScore]] = {}
    for test in result.tests:
        tests_of.setdefault(test.function, []).append(test)
    blocks = {function: _results_block(function, tests) for function, tests in tests_of.items()}
    notes: list[str] = []
    body = ""
    placed: dict[str, int] = {}
    if notebook is not None:
        try:
            placed = {name: index for name, index in _defining_cells(notebook).items() if name in blocks}
            after: dict[int, str] = {}
            for function, index in placed.items():
                after[index] = after.get(index, "") + blocks[function]
            body = notebook_html(notebook, after)
        except Exception as error:  # noqa: BLE001 - a notebook nbconvert cannot render is the student's data
            why = (str(error).splitlines() or [""])[0][:200]
            notes.append(f"your notebook could not be shown here ({type(error).__name__}: {why}); "
                         "its results are below")
            placed, body = {}, ""
    unplaced = [blocks[function] for function in blocks if function not in placed]
    top = ""
    if unplaced:
        heading = "Functions not defined in your notebook" if body else "Results"
        top = f'<section class="unplaced"><h2>{heading}</h2>{"".join(unplaced)}</section>'
    return _document(result, _summary(result, notes), top + f'<section class="notebook">{body}</section>')


def read_notebook(source: Path | bytes) -> nbformat.NotebookNode | None:
    """The notebook to show beside the results (a file, or its bytes), or None when it cannot be read
    within grader.grading.load's caps; the page then shows the results alone."""
    read = load_notebook(Path("notebook.ipynb"), source) if isinstance(source, bytes) else load_notebook(source)
    return None if isinstance(read, Unusable) else read[0]


def _document(result: GradeResult, summary: str, body: str) -> str:
    return document(f"Feedback: {result.submission.name}", _STYLE, f"{summary}\n{body}")


def _summary(result: GradeResult, extra_notes: Sequence[str]) -> str:
    parts = [f"<h1>Feedback on {escaped(result.submission.name)}</h1>",
             f"<p>Assignment: {escaped(result.assignment or 'unknown')}</p>"]
    if result.status == "unusable":
        parts.append(f'<p class="unusable">Not graded: {escaped(result.reason)}</p>')
        parts.append(f'<p class="score">Score: <strong>0 / {points(result.max_score)}</strong></p>')
    elif result.status == "error":
        parts.append(f'<p class="unusable">No score yet: this submission was {escaped(result.reason)}.</p>')
    else:
        parts.append(f'<p class="score">Score: <strong>{points(result.score)} / {points(result.max_score)}'
                     "</strong></p>")
    # Notes never quote what a test's call ran (grader.host.execute keeps only their kind).
    notes = [*result.notes, *extra_notes]
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{escaped(note)}</li>" for note in notes) + "</ul>")
    if result.tests:
        rows = "".join(
            f'<tr><td><a href="#{_anchor(t.function)}">{escaped(t.function)}</a></td><td>{escaped(t.name)}</td>'
            f"<td>{points(t.score)} / {points(t.max_score)}</td><td>{_status(t)}</td>"
            f'<td class="kind">{"hidden" if t.hidden else "public"}</td></tr>' for t in result.tests)
        parts.append('<table class="overview"><tr><th>function</th><th>test</th><th>points</th><th>status</th>'
                     f"<th></th></tr>{rows}</table>")
    return '<header class="summary">' + "\n".join(parts) + "</header>"


def _results_block(function: str, tests: Sequence[TestScore]) -> str:
    earned = sum(t.score for t in tests)
    possible = sum(t.max_score for t in tests)
    parts = [f"<h3>Tests of {escaped(function)}: {points(earned)} / {points(possible)} points</h3>"]
    parts += [_hidden_test(t) if t.hidden else _public_test(t) for t in tests]
    return f'<section class="results" id="{_anchor(function)}">' + "".join(parts) + "</section>"


def _hidden_test(test: TestScore) -> str:
    """All a student may see of a hidden test, and all this reads of it."""
    hint = f'<p class="hint">Hint: {escaped(test.feedback)}</p>' if test.feedback else ""
    return (f'<div class="test hidden">{_heading(test.name, test.score, test.max_score, _status(test), "hidden")}'
            f"{hint}</div>")


def _public_test(test: TestScore) -> str:
    message = f'<p class="message">{escaped(test.feedback)}</p>' if test.feedback else ""
    drawn = {id(c) for c in _to_draw(test.comparisons)}
    comparisons = "".join(_comparison(c, id(c) in drawn) for c in test.comparisons)
    return (f'<div class="test public">{_heading(test.name, test.score, test.max_score, _status(test), "public")}'
            f"{message}{comparisons}</div>")


def _heading(name: str, score: float, max_score: float, status_html: str, kind: str) -> str:
    return (f"<p>{status_html} <b>{escaped(name)}</b> {points(score)} / {points(max_score)} points "
            f'<span class="kind">({kind} test)</span></p>')


def _status(test: TestScore) -> str:
    if test.grader_error:
        return '<span class="status-error">GRADER ERROR</span>'
    return '<span class="status-passed">PASS</span>' if test.passed else '<span class="status-failed">FAIL</span>'


def _to_draw(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """Heatmaps for every comparison that went wrong, and for the first few that matched."""
    with_values = [c for c in comparisons if c.expected is not None and c.actual is not None]
    wrong = [c for c in with_values if not c.matched]
    room = max(MAX_HEATMAPS_PER_TEST - len(wrong), 0)
    return wrong + [c for c in with_values if c.matched][:room]


_VERDICTS = {"match": "matches", "not_a_tensor": "not a tensor", "wrong_shape": "wrong shape",
             "not_floating": "not a floating-point tensor", "wrong_values": "wrong values"}


def _comparison(comparison: Comparison, draw: bool) -> str:
    shape_only = comparison.expected is None
    verdict = "right shape" if shape_only and comparison.matched else _VERDICTS.get(comparison.verdict,
                                                                                      comparison.verdict)
    tolerance = (f" (tolerance: |yours - expected| &le; {comparison.atol:.3g} + {comparison.rtol:.3g} |expected|)"
                 if not shape_only and comparison.verdict in ("match", "wrong_values") else "")
    expected = (_values(comparison.expected) if comparison.expected is not None
                else "<pre>(any values: only the shape is checked)</pre>")
    actual = _values(comparison.actual) if comparison.actual is not None else "<pre>(not a tensor)</pre>"
    cut = ('<p class="kind">Only the first 64 x 64 values (and the first 4 along other dimensions) are kept.</p>'
           if comparison.truncated else "")
    drawn = heatmaps(comparison) if draw else None
    image = "" if drawn is None else _heatmaps_figure(drawn, comparison.label)
    return (f'<div class="comparison"><p><code>{escaped(comparison.label)}</code>: <b>{verdict}</b>{tolerance}</p>'
            f'<div class="values"><div><h4>expected, shape {_shape(comparison.expected_shape)}</h4>{expected}</div>'
            f"<div><h4>yours, shape {_shape(comparison.actual_shape)}</h4>{actual}</div></div>{cut}{image}</div>")


def _heatmaps_figure(drawn: Heatmaps, label: str) -> str:
    """The picture, each panel's title under it, and what its colours mean."""
    names = [panel.name for panel in drawn.panels]
    alt = escaped(f"heatmaps of {', '.join(names[:-1])} and {names[-1]}, for {label}")
    image = f'<img src="data:image/png;base64,{base64.b64encode(drawn.png).decode("ascii")}" alt="{alt}">'
    titles = "".join(
        f'<div style="width: {p.width}px">{escaped(p.name)}'
        + (f" <code>[{', '.join(str(i) for i in p.plane)}, :, :]</code>" if p.plane else "") + "</div>"
        for p in drawn.panels)
    sharing: dict[Scale, list[str]] = {}
    for panel in drawn.panels:
        sharing.setdefault(panel.scale, []).append(panel.name)
    legend = [f"<span>{escaped(' and '.join(sharers))}: {_number(scale.low)} <span class=\"bar\" "
              f'style="background: linear-gradient(to right, {", ".join(color_stops(scale.colormap))})"></span> '
              f"{_number(scale.high)}</span>" for scale, sharers in sharing.items()]
    if drawn.outlined:
        legend.append('<span><span class="swatch outlined"></span>outside the tolerance</span>')
    if drawn.not_a_number:
        swatch = f'<span class="swatch" style="background: {NOT_A_NUMBER_COLOR}"></span>'
        legend.append(f"<span>{swatch}not a number</span>")
    return (f'<figure class="heatmaps">{image}<figcaption><div class="panels">{titles}</div>'
            f'<div class="legend">{"".join(legend)}</div></figcaption></figure>')


def _number(value: float) -> str:
    return escaped(f"{value:.4g}")


def _values(values: torch.Tensor) -> str:
    text = np.array2string(values.numpy(), precision=4, suppress_small=True, threshold=150, edgeitems=3,
                           max_line_width=72, separator=", ")
    return f"<pre>{escaped(text)}</pre>"


def _shape(shape: tuple[int, ...] | None) -> str:
    return "none" if shape is None else "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


# A top-level def or class, read line by line: parsing a cell could cost seconds for a
# megabyte of hostile code, and placing results needs no more than this.
_TOP_LEVEL_DEFINITION = re.compile(r"^(?:async[ \t]+def|def|class)[ \t]+([^\W\d]\w*)", re.MULTILINE)


def _defining_cells(notebook: nbformat.NotebookNode) -> dict[str, int]:
    """name -> the index of the last cell with a line that defines it at the top level (a def or a class)."""
    found: dict[str, int] = {}
    for index, cell in enumerate(notebook.cells):
        if cell.get("cell_type") == "code":
            found.update((name, index) for name in _TOP_LEVEL_DEFINITION.findall(str(cell.get("source", ""))))
    return found


def _anchor(function: str) -> str:
    return escaped(f"results-{function}")
