"""Batch throughput: `grade batch --jobs 2` on 200 submissions, against serial nbclient in the same run.

    python benchmarks/batch.py [--count 200] [--jobs 2] [--baseline-sample 6]

Generates `count` cross_correlation submissions: correct ones (the model
answer, and the seeds' double-loop corr2d), realistic buggy ones, one whose
corr2d loops forever and one that crashes its process. Times:

- the batch: `grade batch DIR --out OUT --jobs N --quiet`, every hidden and
  public test included, from the command's start to its exit;
- the baseline: executing notebooks serially with nbclient (a Jupyter kernel
  each, as notebook graders do), with no tests at all. nbclient runs a sample
  of the ordinary notebooks, not all of them (at ~2.5-5 s each that would
  take a quarter of an hour), and never the looping one, which would make it
  wait for its timeout: both choices favour the baseline.

Prints notebooks per second for each and the ratio; target: >= 10x.
The machine is shared and noisy, so only ratios from one run mean much.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.assignments.solutions import SEEDS_DOUBLE_LOOP_CORR2D, solution_cells  # noqa: E402
from tests.assignments.test_cross_correlation import (  # noqa: E402
    CONV2D_WITHOUT_BIAS,
    CONVOLUTION_INSTEAD_OF_CROSS_CORRELATION,
    OFF_BY_ONE_CORR2D,
    VERTICAL_EDGE_KERNEL_AS_HORIZONTAL,
)

ASSIGNMENT = "cross_correlation"
ORDINARY = {
    "correct": (),
    "seeds_double_loop": (SEEDS_DOUBLE_LOOP_CORR2D,),
    "off_by_one": (OFF_BY_ONE_CORR2D,),
    "convolution": (CONVOLUTION_INSTEAD_OF_CROSS_CORRELATION,),
    "no_bias": (CONV2D_WITHOUT_BIAS,),
    "vertical_kernel": (VERTICAL_EDGE_KERNEL_AS_HORIZONTAL,),
}
LOOPS_FOREVER = "def corr2d(X, K):\n    while True:\n        pass"
CRASHES = "import os\nos._exit(3)"
NBCLIENT = ("import sys, nbformat, nbclient\nfor path in sys.argv[1:]:\n"
            "    nb = nbformat.read(path, as_version=4)\n"
            "    nbclient.NotebookClient(nb, timeout=120, kernel_name='python3', allow_errors=True).execute()")


def write_submissions(folder: Path, count: int) -> dict[str, list[Path]]:
    base = solution_cells(ASSIGNMENT)
    kinds: dict[str, list[Path]] = {name: [] for name in ORDINARY}
    kinds["loops_forever"], kinds["crashes"] = [], []
    plan = ["loops_forever", "crashes"] + [list(ORDINARY)[i % len(ORDINARY)] for i in range(count - 2)]
    for number, kind in enumerate(plan):
        extra = {"loops_forever": (LOOPS_FOREVER,), "crashes": (CRASHES,)}.get(kind) or ORDINARY[kind]
        notebook = nbformat.v4.new_notebook()
        # Each student's own comment makes every notebook distinct, as real ones are.
        cells = (f"# student {number:03d}: {kind}",) + base + extra
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        notebook.metadata["convgrade"] = {"assignment": ASSIGNMENT}
        path = folder / f"student{number:03d}.ipynb"
        nbformat.write(notebook, path)
        kinds[kind].append(path)
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--baseline-sample", type=int, default=6)
    args = parser.parse_args()
    grade = shutil.which("grade") or str(Path(sys.executable).parent / "grade")
    with tempfile.TemporaryDirectory() as scratch:
        submissions, out = Path(scratch) / "submissions", Path(scratch) / "out"
        submissions.mkdir()
        kinds = write_submissions(submissions, args.count)
        ordinary = [kinds[kind] for kind in ORDINARY]
        sample = [ordinary[i % len(ordinary)][i // len(ordinary)] for i in range(args.baseline_sample)]

        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", NBCLIENT, *map(str, sample)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nbclient_seconds = time.perf_counter() - started

        started = time.perf_counter()
        batch = subprocess.run([grade, "batch", str(submissions), "--out", str(out), "--jobs", str(args.jobs),
                                "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        batch_seconds = time.perf_counter() - started
        if batch.returncode != 0:
            sys.exit(f"grade batch exited {batch.returncode}:\n{batch.stdout[-3000:]}")
        summary = json.loads((out / "summary.json").read_text())

    nbclient_rate = len(sample) / nbclient_seconds
    batch_rate = args.count / batch_seconds
    print(f"{args.count} submissions: " + ", ".join(f"{len(v)} {k}" for k, v in kinds.items()))
    print(f"grade batch --jobs {args.jobs}: {batch_seconds:7.1f} s for {args.count}  "
          f"{batch_rate:6.2f} notebooks/s  (all tests; mean score {summary['score_percent']['mean']:.1f} %, "
          f"timed out: {len(summary['flagged']['timed_out'])}, crashed: {len(summary['flagged']['crashed'])})")
    print(f"nbclient, serial, no tests: {nbclient_seconds:7.1f} s for {len(sample):3d}  "
          f"{nbclient_rate:6.2f} notebooks/s  ({nbclient_seconds / len(sample):.2f} s per notebook)")
    ratio = batch_rate / nbclient_rate
    print(f"throughput ratio: {ratio:.1f}x (target >= 10x: {'met' if ratio >= 10 else 'NOT met'})")


if __name__ == "__main__":
    main()
