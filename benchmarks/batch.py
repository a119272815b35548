"""Batch throughput on a mix with loops and crashes, against serial nbclient in the same run.

    python benchmarks/batch.py [--count 200] [--jobs 2] [--baseline-sample 6] [--compare-call-timeout [10]]
                               [--compare-grade OTHER/bin/grade] [--strict]

Generates `count` cross_correlation submissions: 2% that loop (at least
two): corr2d spinning in `while True: pass`, a corr2d whose loop also grows
its memory by about 100 MB a second, learn_kernel's `while epoch <
num_epochs` that never counts its epochs; 1% that crash their worker with
os._exit (at least two: one in a cell as it runs, one in a corr2d call);
the rest, in turn, correct ones (the model answer, the seeds' double-loop
corr2d) and four realistic buggy ones; the loops and crashes are spread
evenly through the batch.
Times:

- the batch: `grade batch DIR --out OUT --jobs N --quiet`, every hidden and
  public test and every feedback page included, from the command's start to
  its exit, with the call budgets the grader chooses (no --call-timeout);
- the baseline: executing notebooks serially with nbclient (a Jupyter kernel
  each, as notebook graders do), with no tests at all. nbclient runs a sample
  of the ordinary notebooks, not all of them (at ~2.5-5 s each that would
  take a quarter of an hour), and never a looping or crashing one, which
  would make it wait for its timeout: both choices favour the baseline;
- with --compare-call-timeout [SECONDS] (10 if no value: the fixed budget
  before issue 14), the same batch again into a fresh folder with
  `--call-timeout SECONDS`;
- with --compare-grade GRADE, the same batch again with another `grade`
  command: an earlier version's, installed in a virtual environment of its
  own (`git worktree add ../old REV`, then a venv there), so that "faster
  than before" is measured in one run, on the same submissions.

From the gradebook (each submission's `seconds` and `timeouts`), for each
batch run: each kind's count, mean seconds, share of the summed grading
time, and how many timed out or crashed; and the share of the grading time
spent in submissions that timed out.

Prints notebooks per second and the ratio to nbclient's; target: >= 10x.
With either comparison, also its throughput ratio, target >= 1.5x
(issue 14), and whether every submission that does not loop
got the same status, score and per-test scores in both runs, listing any
that did not. --strict exits 1 if a target is not met.
The machine is shared and noisy, so only ratios from one run mean much.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.batch.gradebook import FILE_NAME, Gradebook, SubmissionRow  # noqa: E402
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
LOOPS = {
    "loop_spins": ("def corr2d(X, K):\n    while True:\n        pass",),
    "loop_grows_memory": ('''
import time
def corr2d(X, K):
    attempts = []
    while True:  # retries, keeping every attempt: 1 MiB each, a hundred a second
        attempts.append(torch.zeros(256, 1024))
        time.sleep(0.01)
''',),
    "loop_uncounted_epochs": ('''
def learn_kernel(X, Y, kernel_size, lr=3e-2, num_epochs=10):
    conv2d = nn.Conv2d(1, 1, kernel_size=kernel_size, bias=False)
    X = X.float().reshape((1, 1) + X.shape)
    Y = Y.float().reshape((1, 1) + Y.shape)
    losses = []
    epoch = 0
    while epoch < num_epochs:  # never counts its epochs
        l = ((conv2d(X) - Y) ** 2).sum()
        conv2d.zero_grad()
        l.backward()
        conv2d.weight.data[:] -= lr * conv2d.weight.grad
        losses.append(l.item())
    return conv2d.weight.data.reshape(conv2d.kernel_size), losses
''',),
}
CRASHES = {
    "crash_in_cell": ("import os\nos._exit(3)",),
    "crash_in_call": ("import os\ndef corr2d(X, K):\n    os._exit(1)",),
}
KINDS = {**ORDINARY, **LOOPS, **CRASHES}
LOOP_SHARE, CRASH_SHARE = 0.02, 0.01
AT_LEAST = 2   # loops and crashes each, in a batch of any size
AGAINST_NBCLIENT, AGAINST_FIXED = 10.0, 1.5   # the throughput targets: x nbclient's, x --call-timeout 10's
NBCLIENT = ("import sys, nbformat, nbclient\nfor path in sys.argv[1:]:\n"
            "    nb = nbformat.read(path, as_version=4)\n"
            "    nbclient.NotebookClient(nb, timeout=120, kernel_name='python3', allow_errors=True).execute()")


@dataclasses.dataclass(frozen=True)
class BatchRun:
    label: str
    seconds: float                      # the command's wall time
    rows: dict[str, SubmissionRow]      # by file stem


def plan(count: int) -> list[str]:
    """Each submission's kind: the loops and crashes spread evenly among the ordinary ones."""
    loops = [list(LOOPS)[i % len(LOOPS)] for i in range(max(AT_LEAST, round(count * LOOP_SHARE)))]
    crashes = [list(CRASHES)[i % len(CRASHES)] for i in range(max(AT_LEAST, round(count * CRASH_SHARE)))]
    special = loops + crashes
    if len(special) > count:
        sys.exit(f"--count {count}: at least {len(special)} submissions, for the loops and crashes")
    kinds = [list(ORDINARY)[i % len(ORDINARY)] for i in range(count - len(special))]
    for number, kind in enumerate(special):
        kinds.insert((number * count) // len(special) + count // (2 * len(special)), kind)
    return kinds[:count]


def write_submissions(folder: Path, count: int) -> dict[str, str]:
    """The notebooks, into `folder`; returns each one's kind by file stem."""
    base = solution_cells(ASSIGNMENT)
    kinds = {}
    for number, kind in enumerate(plan(count)):
        notebook = nbformat.v4.new_notebook()
        # Each student's own comment makes every notebook distinct, as real ones are.
        cells = (f"# student {number:03d}: {kind}",) + base + KINDS[kind]
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        notebook.metadata["convgrade"] = {"assignment": ASSIGNMENT}
        stem = f"student{number:03d}"
        nbformat.write(notebook, folder / f"{stem}.ipynb")
        kinds[stem] = kind
    return kinds


def run_batch(grade: str, submissions: Path, out: Path, jobs: int, label: str, extra: Sequence[str]) -> BatchRun:
    started = time.perf_counter()
    batch = subprocess.run([grade, "batch", str(submissions), "--out", str(out), "--jobs", str(jobs), "--quiet",
                            *extra], check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - started
    if batch.returncode != 0:
        sys.exit(f"grade batch {' '.join(extra)} exited {batch.returncode}:\n{batch.stdout[-3000:]}")
    with Gradebook(out / FILE_NAME) as book:
        rows = {Path(row.source).stem: row for row in book.current_rows()}
    return BatchRun(label, seconds, rows)


def print_batch(run: BatchRun, kinds: dict[str, str], jobs: int) -> None:
    rows = run.rows.values()
    total = sum(row.seconds for row in rows) or 1e-9
    scores = [100 * row.score / row.max_score for row in rows if row.max_score]
    print(f"{run.label}: {run.seconds:.1f} s for {len(rows)}, {len(rows) / run.seconds:.2f} notebooks/s "
          f"(--jobs {jobs}; mean score {sum(scores) / max(len(scores), 1):.1f} %; "
          f"summed grading time {total:.1f} s)")
    print(f"  {'kind':24} {'count':>5} {'mean s':>7} {'max s':>7} {'time share':>10} {'timed out':>9} "
          f"{'crashed':>7}")
    for kind in KINDS:
        of_kind = [row for stem, row in run.rows.items() if kinds[stem] == kind]
        if of_kind:
            seconds = [row.seconds for row in of_kind]
            print(f"  {kind:24} {len(of_kind):5d} {sum(seconds) / len(seconds):7.2f} {max(seconds):7.2f} "
                  f"{100 * sum(seconds) / total:9.1f}% {sum(row.timeouts > 0 for row in of_kind):9d} "
                  f"{sum(row.crashes > 0 for row in of_kind):7d}")
    timed_out = [row for row in rows if row.timeouts]
    print(f"  share of grading time in the {len(timed_out)} submissions that timed out: "
          f"{100 * sum(row.seconds for row in timed_out) / total:.1f}%")


def differences(first: BatchRun, second: BatchRun, kinds: dict[str, str]) -> list[str]:
    """Every submission that does not loop and whose status, score or a test's score differs between runs."""
    found = []
    for stem, kind in sorted(kinds.items()):
        if kind in LOOPS:
            continue
        one, two = first.rows.get(stem), second.rows.get(stem)
        if one is None or two is None:
            found.append(f"{stem} ({kind}): missing from {first.label if one is None else second.label}")
            continue
        tests = {t.name: t.score for t in one.tests}, {t.name: t.score for t in two.tests}
        if (one.status, one.score) != (two.status, two.score) or tests[0] != tests[1]:
            changed = sorted(name for name in tests[0].keys() | tests[1].keys()
                             if tests[0].get(name) != tests[1].get(name))
            found.append(f"{stem} ({kind}): {one.status} {one.score:g} against {two.status} {two.score:g}"
                         + (f"; tests {', '.join(changed)}" if changed else ""))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--baseline-sample", type=int, default=6)
    parser.add_argument("--compare-call-timeout", type=float, nargs="?", const=10.0, metavar="SECONDS",
                        help="grade the batch again with --call-timeout SECONDS (default 10) and compare")
    parser.add_argument("--compare-grade", type=Path, metavar="GRADE",
                        help="grade the batch again with another grade command (an earlier version's, installed "
                             "in its own virtual environment) and compare")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is not met")
    args = parser.parse_args()
    grade = shutil.which("grade") or str(Path(sys.executable).parent / "grade")
    with tempfile.TemporaryDirectory() as scratch:
        submissions = Path(scratch) / "submissions"
        submissions.mkdir()
        kinds = write_submissions(submissions, args.count)
        ordinary = [[submissions / f"{stem}.ipynb" for stem, k in kinds.items() if k == kind] for kind in ORDINARY]
        sample = [ordinary[i % len(ordinary)][i // len(ordinary)] for i in range(args.baseline_sample)]

        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", NBCLIENT, *map(str, sample)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nbclient_seconds = time.perf_counter() - started

        runs = [run_batch(grade, submissions, Path(scratch) / "out", args.jobs, "grade batch, its own budgets", ())]
        if args.compare_call_timeout is not None:
            runs.append(run_batch(grade, submissions, Path(scratch) / "out_fixed", args.jobs,
                                  f"grade batch --call-timeout {args.compare_call_timeout:g}",
                                  ("--call-timeout", f"{args.compare_call_timeout:g}")))
        if args.compare_grade is not None:
            runs.append(run_batch(str(args.compare_grade), submissions, Path(scratch) / "out_other", args.jobs,
                                  f"{args.compare_grade} batch", ()))

    counts = {kind: sum(k == kind for k in kinds.values()) for kind in KINDS}
    print(f"{args.count} submissions: " + ", ".join(f"{n} {kind}" for kind, n in counts.items() if n))
    nbclient_rate = len(sample) / nbclient_seconds
    print(f"nbclient, serial, no tests: {nbclient_seconds:.1f} s for {len(sample)}, {nbclient_rate:.2f} notebooks/s "
          f"({nbclient_seconds / len(sample):.2f} s per notebook)\n")
    met = []
    for run in runs:
        print_batch(run, kinds, args.jobs)
        ratio = len(run.rows) / run.seconds / nbclient_rate
        met.append(ratio >= AGAINST_NBCLIENT)
        print(f"  throughput against nbclient: {ratio:.1f}x "
              f"(target >= {AGAINST_NBCLIENT:g}x: {'met' if met[-1] else 'NOT met'})\n")
    for other in runs[1:]:
        ratio = other.seconds / runs[0].seconds   # the same submissions: the throughputs' ratio
        met.append(ratio >= AGAINST_FIXED)
        print(f"{runs[0].label} against {other.label}: {ratio:.2f}x the throughput "
              f"(target >= {AGAINST_FIXED:g}x: {'met' if met[-1] else 'NOT met'})")
        changed = differences(runs[0], other, kinds)
        met.append(not changed)
        print(f"  submissions that do not loop, same status and scores in both runs: "
              f"{'yes, all' if not changed else f'NO, {len(changed)} differ'} "
              f"({sum(kind not in LOOPS for kind in kinds.values())} compared)")
        for line in changed:
            print(f"    {line}")
    if args.strict and not all(met):
        sys.exit(1)


if __name__ == "__main__":
    main()
