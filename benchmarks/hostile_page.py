"""The feedback page's time and size for the worst notebooks under grader.grading.load's caps.

    python benchmarks/hostile_page.py [--repeat 3]

Each case is a notebook a student could hand in that still loads (it is
within the file, cell-count, cell-size and total-source caps), built to cost
the renderer the most: cells at the per-cell cap of the text that each step
expands or slows down on most (Pygments on one-letter names, markdown
headings, tables and runs of '['), outputs of tens of MB, hundreds of images,
the maximum number of cells each with many outputs. The issue's own attacks
(a 10 MB markdown cell, a 6 MB code cell) are over the per-cell cap, so
loading refuses them; they are timed too, given straight to feedback_page, as
a notebook that did not come through the load stage would be.

For each: the seconds to read the file (grader.report.feedback.read_notebook, which
applies the load caps), the seconds to build the page (feedback_page, in a
process that has built one page before, as a batch has), best of --repeat,
and the page's size. Target: under 2 s and under 5 MB for every case.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.grading.load import (  # noqa: E402
    MAX_CELL_CHARS,
    MAX_CELLS,
    MAX_NOTEBOOK_BYTES,
    MAX_SOURCE_CHARS,
    Submission,
    load,
)
from grader.grading.pipeline import GradeResult  # noqa: E402
from grader.grading.score import TestScore  # noqa: E402
from grader.report.feedback import feedback_page, read_notebook  # noqa: E402

code, markdown, output = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell, nbformat.v4.new_output
CORR2D = "import torch\ndef corr2d(X, K):\n    return X\n"
PER_CELL = MAX_CELL_CHARS - 1024
AT_CAP = MAX_SOURCE_CHARS // MAX_CELL_CHARS - 1   # cells at the per-cell cap that fit in the total-source cap
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 300).decode()   # 100 KB of base64


def fill(pattern: str, size: int, unique: int = 0) -> str:
    """`pattern` repeated to `size` characters, after a number that makes each cell differ from the
    others, so that no cell is rendered from the renderer's memory of another."""
    return (f"{unique}\n" + pattern * (size // len(pattern) + 1))[:size]


def cells_at_cap(pattern: str, make: Callable[..., nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    return [code(CORR2D)] + [make(fill(pattern, PER_CELL, n)) for n in range(AT_CAP)]


def many_small(make: Callable[..., nbformat.NotebookNode], pattern: str) -> list[nbformat.NotebookNode]:
    """The most cells, each as large as the total-source cap allows."""
    each = MAX_SOURCE_CHARS // MAX_CELLS - 64
    return [code(CORR2D)] + [make(fill(pattern, each, n)) for n in range(MAX_CELLS - 1)]


def big_outputs() -> list[nbformat.NotebookNode]:
    text = fill("loss 0.123456\n", MAX_NOTEBOOK_BYTES // 3)
    html_text = fill("<b>x</b><table><tr><td>1</td></tr></table>", MAX_NOTEBOOK_BYTES // 3)
    return [code(CORR2D, outputs=[output("stream", name="stdout", text=text),
                                  output("display_data", data={"text/html": html_text, "text/plain": "x"})])]


def many_images() -> list[nbformat.NotebookNode]:
    count = MAX_NOTEBOOK_BYTES // len(PNG) - 20
    per_cell = 20
    cells = [code(CORR2D)]
    for start in range(0, count, per_cell):
        cells.append(code("plot()", outputs=[output("display_data", data={"image/png": PNG, "text/plain": "<Fig>"})
                                             for _ in range(min(per_cell, count - start))]))
    return cells


def many_outputs() -> list[nbformat.NotebookNode]:
    per_cell = 60
    return [code(CORR2D)] + [code("print(1)", outputs=[output("stream", name="stdout", text=fill("a ", 300, n))
                                                       for _ in range(per_cell)]) for n in range(MAX_CELLS - 1)]


CASES: dict[str, Callable[[], list[nbformat.NotebookNode]]] = {
    "code cells at the cap: one-letter names": lambda: cells_at_cap("a ", code),
    "code cells at the cap: '(a,)'": lambda: cells_at_cap("(a,)", code),
    "markdown cells at the cap: headings": lambda: cells_at_cap("# ab\n", markdown),
    "markdown cells at the cap: runs of '['": lambda: cells_at_cap("[", markdown),
    "markdown cells at the cap: a table": lambda: cells_at_cap("|a" * 50 + "|\n" + "|-" * 50 + "|\n", markdown),
    "markdown cells at the cap: HTML": lambda: cells_at_cap("<div><b>a</b><i>b</i></div>", markdown),
    "markdown cells at the cap: links": lambda: cells_at_cap("[a](http://b) ", markdown),
    "markdown cells at the cap: lists": lambda: cells_at_cap("- a\n  - b\n", markdown),
    f"{MAX_CELLS} code cells of one-letter names": lambda: many_small(code, "a "),
    f"{MAX_CELLS} markdown cells of headings": lambda: many_small(markdown, "# ab\n"),
    "outputs of 33 MB (text and HTML)": big_outputs,
    f"{MAX_NOTEBOOK_BYTES // len(PNG) - 20} images of 100 KB": many_images,
    f"{MAX_CELLS} cells of 60 outputs each": many_outputs,
}
UNLOADED = {  # over the per-cell cap: refused by the load stage, timed as a page all the same
    "the issue's 10 MB markdown cell": lambda: [code(CORR2D),
                                                markdown(fill("Some *prose* and `code` [a](b)\n", 10 << 20))],
    "the issue's 6 MB code cell": lambda: [code(CORR2D), code(fill("x = [a, b, (c + d) * 2]\n", 6 << 20))],
}


def result_for(path: Path) -> GradeResult:
    test = TestScore("corr2d_seed_example", "corr2d", 0.0, 20.0, False, False, "corr2d(X, K) is wrong", "wrong")
    return GradeResult(submission=path, assignment="cross_correlation", status="graded", reason="", tests=(test,))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    feedback_page(result_for(Path("warm.ipynb")), nbformat.v4.new_notebook(cells=[code(CORR2D)]))
    print(f"{'case':48} {'file':>8} {'read':>7} {'page':>7} {'size':>8}")
    worst_time, worst_size = 0.0, 0
    with tempfile.TemporaryDirectory() as folder:
        for name, build in {**CASES, **UNLOADED}.items():
            path = Path(folder) / "case.ipynb"
            nbformat.write(nbformat.v4.new_notebook(cells=build()), path)
            loads = isinstance(load(path), Submission)
            assert loads == (name in CASES), f"{name}: {load(path)}"
            started = time.perf_counter()
            notebook = read_notebook(path) if loads else nbformat.read(path, as_version=4)
            read = time.perf_counter() - started
            assert notebook is not None
            seconds, page = float("inf"), ""
            for _ in range(args.repeat):
                started = time.perf_counter()
                page = feedback_page(result_for(path), notebook)
                seconds = min(seconds, time.perf_counter() - started)
            assert "could not be shown" not in page, name
            worst_time, worst_size = max(worst_time, seconds), max(worst_size, len(page.encode()))
            print(f"{name:48} {path.stat().st_size / 2**20:6.1f}MB {read if loads else 0:6.2f}s {seconds:6.2f}s "
                  f"{len(page.encode()) / 2**20:6.2f}MB" + ("" if loads else "  (refused by load)"), flush=True)
    print(json.dumps({"worst_page_seconds": round(worst_time, 2), "worst_page_mb": round(worst_size / 2**20, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
