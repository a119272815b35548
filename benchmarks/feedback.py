"""How long a student's feedback page takes, against nbconvert's stock HTML export in the same run.

    python benchmarks/feedback.py [--count 50]

Builds `count` notebooks as a class hands them in: the solved notebook and
the bundled example in turn, each with the last cell that defines one graded
function replaced by the student's own version (right, or with a realistic
bug) under a comment of their own, and the outputs a run leaves (printed
text, a result, every third one a plot). Grading is not what this times, so
one notebook of each base and version is graded (one zygote), and notebooks
that differ only in their comments and outputs share its result. Then, in
one warm process, on the same notebooks:

(a) nbconvert's HTMLExporter(template_name="basic").from_notebook_node: the
    notebook alone, as any nbconvert-based feedback would start from;
(b) grader.report.feedback.feedback_page: the notebook, the summary, each test's
    results and the heatmaps of its comparisons.

Both first render one unchanged base notebook, untimed: the first page a
process writes compiles templates, and leaves the cells every student shares
rendered, as the first page of a batch does. Prints CPU milliseconds per page
and the ratio (b)/(a); target: (b) at most 50 ms a page and below (a).
The machine is shared and noisy, so only the ratio within one run means much.
"""

from __future__ import annotations

import argparse
import base64
import io
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import nbformat
import numpy as np
from nbconvert import HTMLExporter
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.course.assignment import defined_names  # noqa: E402
from grader.grading.pipeline import GradeResult  # noqa: E402
from grader.report.feedback import feedback_page  # noqa: E402
from grader.session import Grader  # noqa: E402
from tests.assignments.solutions import SEEDS_DOUBLE_LOOP_CORR2D  # noqa: E402
from tests.assignments.test_cross_correlation import (  # noqa: E402
    CONV2D_WITHOUT_BIAS,
    CONVOLUTION_INSTEAD_OF_CROSS_CORRELATION,
    OFF_BY_ONE_CORR2D,
    VERTICAL_EDGE_KERNEL_AS_HORIZONTAL,
)

BASES = {"solution": ROOT / "assignments" / "cross_correlation" / "cross_correlation.ipynb",
         "example": ROOT / "examples" / "cross_correlation_submission.ipynb"}
# name -> (the function whose defining cell the student rewrote, their version; None: the base's own, commented)
VERSIONS: dict[str, tuple[str, str | None]] = {
    "own_comment": ("corr2d", None),
    "seeds_double_loop": ("corr2d", SEEDS_DOUBLE_LOOP_CORR2D),
    "off_by_one": ("corr2d", OFF_BY_ONE_CORR2D),
    "convolution": ("corr2d", CONVOLUTION_INSTEAD_OF_CROSS_CORRELATION),
    "no_bias": ("Conv2D", CONV2D_WITHOUT_BIAS),
    "vertical_kernel": ("horizontal_edge_kernel", VERTICAL_EDGE_KERNEL_AS_HORIZONTAL),
}


def student_notebook(base: Path, version: str, number: int) -> nbformat.NotebookNode:
    notebook = nbformat.read(base, as_version=4)
    function, source = VERSIONS[version]
    code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    defining = max(i for i in code if function in defined_names((notebook.cells[i].source,)))
    cell = notebook.cells[defining]
    cell.source = f"# student {number:03d}: my {function}\n" + (source or cell.source).strip()
    cell.execution_count = 7
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"checked by student {number:03d}\n")]
    last = notebook.cells[code[-1]]
    last.execution_count = 12
    last.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": f"tensor([[{number}.]])"},
                                           execution_count=12)]
    if number % 3 == 0:
        last.outputs.append(nbformat.v4.new_output("display_data", data={"image/png": _plot(number)}))
    return notebook


def _plot(number: int) -> str:
    pixels = np.random.default_rng(number).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def cpu_ms_per_page(render: Callable[[int], object], count: int) -> float:
    started = time.process_time()
    for index in range(count):
        render(index)
    return (time.process_time() - started) * 1000 / count


def graded(notebooks: Sequence[tuple[str, str, nbformat.NotebookNode]],
           folder: Path) -> dict[tuple[str, str], GradeResult]:
    """One result per base and version: the first notebook of each, graded."""
    results: dict[tuple[str, str], GradeResult] = {}
    with Grader(ROOT) as grader:
        for base, version, notebook in notebooks:
            if (base, version) not in results:
                path = folder / f"{base}_{version}.ipynb"
                nbformat.write(notebook, path)
                results[base, version] = grader.grade(path)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    plan = [(base, version) for version in VERSIONS for base in BASES]
    notebooks = [(base, version, student_notebook(BASES[base], version, number))
                 for number, (base, version) in enumerate(plan[i % len(plan)] for i in range(args.count))]
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        results = graded(notebooks, Path(scratch))
        grading_seconds = time.perf_counter() - started
    pages = [(results[base, version], notebook) for base, version, notebook in notebooks]
    first = nbformat.read(BASES["solution"], as_version=4)

    stock = HTMLExporter(template_name="basic")
    stock_first = cpu_ms_per_page(lambda _: stock.from_notebook_node(first), 1)
    page_first = cpu_ms_per_page(lambda _: feedback_page(pages[0][0], first), 1)
    stock_ms = cpu_ms_per_page(lambda i: stock.from_notebook_node(pages[i][1]), len(pages))
    page_ms = cpu_ms_per_page(lambda i: feedback_page(*pages[i]), len(pages))

    sizes = [len(feedback_page(*page)) for page in pages]
    print(f"{len(pages)} notebooks ({', '.join(BASES)} x {len(VERSIONS)} versions), "
          f"{len(results)} graded in {grading_seconds:.1f} s; pages of {min(sizes) // 1000}-{max(sizes) // 1000} kB")
    print(f"first page of the process (untimed below): (a) {stock_first:7.1f} ms  (b) {page_first:7.1f} ms")
    print(f"(a) nbconvert HTMLExporter 'basic', notebook only:   {stock_ms:7.1f} ms CPU per page")
    print(f"(b) feedback_page, notebook + results + heatmaps:    {page_ms:7.1f} ms CPU per page")
    ratio = page_ms / stock_ms
    met = page_ms <= 50 and ratio < 1
    print(f"ratio (b)/(a): {ratio:.3f}x (target (b) <= 50 ms and below (a): {'met' if met else 'NOT met'})")


if __name__ == "__main__":
    main()
