"""How fast the reference correlations are, next to PyTorch's own convolution.

    python benchmarks/reference.py            # full run (about a minute on 2 cores)
    python benchmarks/reference.py --quick    # a few repeats, a smoke test
    python benchmarks/reference.py --strict   # exit 1 if a target is missed
    python benchmarks/reference.py --threads 1

Prints, for each case, the best time of the reference and of
`torch.nn.functional.conv2d` on the same data (warm-up first, `torch.no_grad`,
reference and PyTorch timed alternately so that load on the machine hits both),
their ratio, and the target the ratio should meet. Rows run on the CPU, and
again on CUDA where a device is available.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

# This file is itself called `reference.py`: drop its folder from the import
# path so that `import reference` finds the package at the repository root.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from reference import corr2d, corr2d_multi_in_out  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    reference: Callable[[], torch.Tensor]
    library: Callable[[], torch.Tensor]
    target: float
    stretch: float | None = None


@dataclasses.dataclass(frozen=True)
class Row:
    case: Case
    device: str
    reference_s: float
    library_s: float

    @property
    def ratio(self) -> float:
        return self.reference_s / self.library_s

    @property
    def met(self) -> bool:
        return self.ratio <= self.case.target


def single_channel_cases(device: torch.device) -> list[Case]:
    cases = []
    for n in (64, 256, 1024):
        for k in (3, 5, 7):
            X = torch.randn(n, n, device=device)
            K = torch.randn(k, k, device=device)
            cases.append(Case(f"corr2d {n}x{n}, {k}x{k}",
                              reference=functools.partial(corr2d, X, K),
                              library=functools.partial(F.conv2d, X[None, None], K[None, None]),
                              target=2.5 if n < 256 else 1.0))
    return cases


def multi_channel_cases(device: torch.device) -> list[Case]:
    cases = []
    for c_i, c_o, n in ((3, 16, 224), (64, 64, 56), (256, 256, 14)):
        X = torch.randn(c_i, n, n, device=device)
        K = torch.randn(c_o, c_i, 3, 3, device=device)
        cases.append(Case(f"corr2d_multi_in_out {c_i}->{c_o} @{n}x{n}, 3x3",
                          reference=functools.partial(corr2d_multi_in_out, X, K),
                          library=functools.partial(F.conv2d, X[None], K),
                          target=3.0, stretch=2.0))
    return cases


def _sample(fn: Callable[[], torch.Tensor], number: int, sync: Callable[[], None]) -> float:
    sync()
    start = time.perf_counter()
    for _ in range(number):
        fn()
    sync()
    return (time.perf_counter() - start) / number


def measure(case: Case, device: torch.device, repeats: int, min_sample_s: float) -> Row:
    sync: Callable[[], None] = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.no_grad():
        torch.testing.assert_close(case.reference(), case.library().reshape(case.reference().shape),
                                   rtol=1e-3, atol=1e-3)
        # Warm-up, and enough calls per sample that a sample outlasts the timer's noise.
        numbers = []
        for fn in (case.reference, case.library):
            once = max(_sample(fn, 1, sync), _sample(fn, 1, sync), 1e-7)
            numbers.append(max(1, min(1000, int(min_sample_s / once))))
        best_ref, best_lib = float("inf"), float("inf")
        for _ in range(repeats):
            best_ref = min(best_ref, _sample(case.reference, numbers[0], sync))
            best_lib = min(best_lib, _sample(case.library, numbers[1], sync))
    return Row(case, str(device), best_ref, best_lib)


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:  # not available on every platform
        return "unknown"


def format_row(row: Row) -> str:
    case = row.case
    target = f"<= {case.target:g}x" + (f" (stretch {case.stretch:g}x)" if case.stretch else "")
    verdict = "met" if row.met else "MISSED"
    if case.stretch is not None and row.ratio <= case.stretch:
        verdict = "met, stretch met"
    return (f"{row.device:<5} {case.name:<44} {row.reference_s * 1e6:>10.0f} {row.library_s * 1e6:>10.0f}"
            f" {row.ratio:>7.2f}x  {target:<22} {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 repeats of short samples (smoke test)")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if any target is missed")
    parser.add_argument("--cpu-only", action="store_true", help="skip the CUDA rows even where CUDA exists")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for both sides (default: PyTorch's choice); 1 gives steadier "
                             "ratios on a busy machine, where a descheduled worker thread stalls every "
                             "parallel region")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    repeats, min_sample_s = (3, 2e-4) if args.quick else (50, 5e-3)

    torch.manual_seed(0)
    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.cpu_only:
        devices.append(torch.device("cuda"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads of {os.cpu_count()} cores"
          + (f", CUDA: {torch.cuda.get_device_name()}" if len(devices) > 1 else ", no CUDA device")
          + f"; load average {_load()}")
    print("ratio = reference time / F.conv2d time, best of "
          f"{repeats} samples; times in microseconds per call\n")
    print(f"{'dev':<5} {'case':<44} {'reference':>10} {'F.conv2d':>10} {'ratio':>8}  {'target':<22} verdict")
    rows = []
    for device in devices:
        for case in single_channel_cases(device) + multi_channel_cases(device):
            row = measure(case, device, repeats, min_sample_s)
            rows.append(row)
            print(format_row(row), flush=True)
    missed = [row for row in rows if not row.met]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} targets met; load average now {_load()} "
          "(other work on the machine skews the ratios, PyTorch's multithreaded side most)")
    return 1 if (args.strict and missed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
