"""How long `grade` takes on one correct notebook, against two baselines timed in the same run.

    python benchmarks/grade_latency.py [NOTEBOOK] [--repeats N]

(a) `python -c "import torch"`: the floor any torch-based grader pays once;
(b) a bare nbclient execution of the same notebook, with no tests: what
    notebook graders built on a Jupyter kernel pay before their first test.
Prints best-of-N wall times and the ratios; target: grade <= 1.0x of (b).
The machine is shared and noisy, so only the ratios within one run mean much.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NOTEBOOK = ROOT / "assignments" / "cross_correlation" / "cross_correlation.ipynb"
NBCLIENT = ("import sys, nbformat, nbclient; nb = nbformat.read(sys.argv[1], as_version=4); "
            "nbclient.NotebookClient(nb, timeout=120, kernel_name='python3').execute()")


def best_of(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", nargs="?", type=Path, default=DEFAULT_NOTEBOOK)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    grade = shutil.which("grade") or str(Path(sys.executable).parent / "grade")
    rows = [
        ("(a) python -c 'import torch'", [sys.executable, "-c", "import torch"]),
        ("(b) nbclient, no tests", [sys.executable, "-c", NBCLIENT, str(args.notebook)]),
        ("grade, all hidden tests", [grade, str(args.notebook)]),
    ]
    times = {label: best_of(command, args.repeats) for label, command in rows}
    baseline = times["(b) nbclient, no tests"]
    print(f"notebook: {args.notebook.name}, best of {args.repeats}")
    print(f"{'':34} {'seconds':>8} {'vs (a)':>8} {'vs (b)':>8}")
    for label, seconds in times.items():
        print(f"{label:34} {seconds:8.2f} {seconds / times[rows[0][0]]:7.2f}x {seconds / baseline:7.2f}x")
    ratio = times["grade, all hidden tests"] / baseline
    print(f"target grade <= 1.0x of (b): {'met' if ratio <= 1.0 else 'NOT met'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
