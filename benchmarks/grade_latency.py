"""How long `grade` takes on one correct notebook, pinned to one CPU and unpinned, against two baselines.

    python benchmarks/grade_latency.py [NOTEBOOK] [--repeats 5] [--cpu N] [--no-memory] [--strict]

Three commands, each run --repeats times in each setting, interleaved
((a), (b), (c), (a), (b), (c), ...) so that load on the shared machine falls
on all three alike:

(a) `python -c "import torch"`: the floor any torch-based grader pays once;
(b) a bare nbclient execution of the same notebook, with no tests: what
    notebook graders built on a Jupyter kernel pay before their first test;
(c) `grade NOTEBOOK`: every hidden test, from the command's start to its exit.

Settings: "pinned", where the command and every process it starts run on one
CPU (--cpu, default the highest-numbered one this process may use; set with
os.sched_setaffinity, which children inherit), as on a grading service that
gives a submission one core or less (Gradescope: half a vCPU); and "unpinned",
every CPU this process may use.

For each command and setting: the best wall time, its ratio to (a) and (b),
the least CPU time (user + sys) of the command's process tree, and the
largest peak RSS of any one process in it. Both come from os.wait4 on the
command, whose rusage covers the command and every descendant that was
reaped (the same figures as getrusage(RUSAGE_CHILDREN) deltas, per child);
a process that outlives the command is not in it. Unless --no-memory, one
more untimed, unpinned run of each samples its whole tree's memory every
20 ms: the peak of the processes' summed PSS (shared pages divided among
the processes sharing them, so forked workers are not counted twice).

Targets (issue 14), each printed as met or NOT met:
- pinned: (c) <= 1.0x (b), and (c) <= 1.3 x ((a) + 0.5 s);
- unpinned: (c) <= 1.0x (b).
--strict exits 1 if one is not met. The machine is shared and noisy, so
only the ratios within one run mean much.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NOTEBOOK = ROOT / "assignments" / "cross_correlation" / "cross_correlation.ipynb"
NBCLIENT = ("import sys, nbformat, nbclient; nb = nbformat.read(sys.argv[1], as_version=4); "
            "nbclient.NotebookClient(nb, timeout=120, kernel_name='python3').execute()")
TORCH, BARE, GRADE = "(a) python -c 'import torch'", "(b) nbclient, no tests", "(c) grade, all hidden tests"
SAMPLE_SECONDS = 0.02
TORCH_ALLOWANCE = 0.5    # seconds: the tests and the grade's own work, on top of one torch import
TORCH_FACTOR = 1.3


@dataclasses.dataclass(frozen=True)
class Run:
    wall: float
    cpu: float        # user + sys of the command and its reaped descendants
    max_rss: int      # bytes: the largest peak of any one process of the tree


def run_once(command: Sequence[str], cpu: int | None) -> Run:
    """One run of `command`, on CPU `cpu` alone (it and its descendants) if given."""
    allowed = os.sched_getaffinity(0)
    if cpu is not None:
        # The child inherits this process's affinity at fork; this process only waits meanwhile.
        os.sched_setaffinity(0, {cpu})
    try:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        os.sched_setaffinity(0, allowed)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {process.returncode}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)


def tree_peak_pss(command: Sequence[str]) -> int:
    """The peak, over samples every SAMPLE_SECONDS, of the summed PSS (bytes) of `command`'s process tree."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(SAMPLE_SECONDS):
            peak = max(peak, sum(_pss(pid) for pid in _tree(process.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    process.wait()
    done.set()
    sampler.join()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {process.returncode}")
    return peak


def _tree(root: int) -> set[int]:
    """`root` and its live descendants, from every process's parent in /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # The command name, in parentheses, may hold spaces: the fields after its ")" are fixed.
                parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # it exited meanwhile
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = {root}, [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass  # it exited meanwhile
    return 0


def measure(commands: dict[str, list[str]], repeats: int, cpu: int | None) -> dict[str, Run]:
    """Best wall and least CPU over `repeats` interleaved rounds; the largest peak RSS seen."""
    runs: dict[str, list[Run]] = {label: [] for label in commands}
    for _ in range(repeats):
        for label, command in commands.items():
            runs[label].append(run_once(command, cpu))
    return {label: Run(min(r.wall for r in done), min(r.cpu for r in done), max(r.max_rss for r in done))
            for label, done in runs.items()}


def print_table(title: str, best: dict[str, Run]) -> None:
    torch_s, bare = best[TORCH], best[BARE]
    print(title)
    print(f"{'':30} {'wall s':>7} {'vs (a)':>7} {'vs (b)':>7} {'CPU s':>7} {'vs (b)':>7} {'max RSS MB':>11}")
    for label, run in best.items():
        print(f"{label:30} {run.wall:7.2f} {run.wall / torch_s.wall:6.2f}x {run.wall / bare.wall:6.2f}x "
              f"{run.cpu:7.2f} {run.cpu / bare.cpu:6.2f}x {run.max_rss / 2**20:11.0f}")


def check(setting: str, ratio: str, value: float, limit: float) -> bool:
    met = value <= limit
    print(f"target, {setting}: {ratio} <= {limit:.2f}: {'met' if met else 'NOT met'} ({value:.2f})")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", nargs="?", type=Path, default=DEFAULT_NOTEBOOK)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)),
                        help="the CPU of the pinned runs (default: the highest-numbered one allowed)")
    parser.add_argument("--no-memory", action="store_true", help="skip the untimed runs that sample memory")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is not met")
    args = parser.parse_args()
    if args.cpu not in os.sched_getaffinity(0):
        parser.error(f"--cpu {args.cpu}: this process may use only CPUs {sorted(os.sched_getaffinity(0))}")
    grade = shutil.which("grade") or str(Path(sys.executable).parent / "grade")
    commands = {TORCH: [sys.executable, "-c", "import torch"],
                BARE: [sys.executable, "-c", NBCLIENT, str(args.notebook)],
                GRADE: [grade, str(args.notebook)]}

    pinned = measure(commands, args.repeats, args.cpu)
    unpinned = measure(commands, args.repeats, None)
    cpus = sorted(os.sched_getaffinity(0))
    print(f"notebook: {args.notebook.name}, best of {args.repeats} "
          "(CPU s: the least; max RSS: the largest peak of one process)\n")
    print_table(f"pinned to CPU {args.cpu}:", pinned)
    met = [check("pinned", "(c) / (b)", pinned[GRADE].wall / pinned[BARE].wall, 1.0),
           check("pinned", f"(c) / ((a) + {TORCH_ALLOWANCE} s)",
                 pinned[GRADE].wall / (pinned[TORCH].wall + TORCH_ALLOWANCE), TORCH_FACTOR)]
    print()
    print_table(f"unpinned ({len(cpus)} CPUs: {', '.join(map(str, cpus))}):", unpinned)
    met.append(check("unpinned", "(c) / (b)", unpinned[GRADE].wall / unpinned[BARE].wall, 1.0))
    if not args.no_memory:
        print("\nmemory, one more unpinned run of each: the tree's peak summed PSS, sampled every "
              f"{SAMPLE_SECONDS * 1000:.0f} ms")
        peaks = {label: tree_peak_pss(command) for label, command in commands.items()}
        for label, peak in peaks.items():
            print(f"{label:30} {peak / 2**20:7.0f} MB {peak / peaks[BARE]:6.2f}x (b)")
    if args.strict and not all(met):
        sys.exit(1)


if __name__ == "__main__":
    main()
