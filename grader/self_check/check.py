"""`check()`: a student's self-check from inside the notebook, against the public tests.

    from grader import check; check()          # every public test
    check("corr2d")                            # one graded name's tests
    check(assignment="cross_correlation")      # when it cannot tell from the names defined

It grades what the kernel has run so far, without the notebook being saved:
the submission is the kernel's input history (IPython's, so the same in
JupyterLab, classic Notebook, VS Code and Colab), each executed input a code
cell in execution order, the self-check's own statements left out
(grader.self_check.source). The grading runs in a separate process, the grader's
own (grader.self_check.run), which runs the cells in a fresh confined worker just
as `grade NB --public` does: nothing runs in the student's kernel, and the
hidden tests are never read. The result shows as an HTML table in Jupyter
and as text elsewhere (grader.self_check.report).

A check never runs inside a check: its statements are taken out of the
submission, and a grading worker cannot import the grader (grader.worker.guard).

Imports nothing heavy: this runs in the student's kernel.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from grader.self_check.report import CheckReport, failed, refused, report_from_document
from grader.self_check.source import HistoryCell, submission_cells

DEFAULT_TIMEOUT = 420.0        # seconds: above the grader's own budget (300 s for cells and calls) and its start
MAX_RESULT_BYTES = 8 << 20     # what check_run writes is bounded by the grader; this bounds what is read
STDERR_TAIL = 4_000            # bytes of the grading process's own output kept for a failure's line
NOTEBOOK_NAME = "submission.ipynb"


def check(function: str | None = None, *, assignment: str | None = None,
          timeout: float = DEFAULT_TIMEOUT) -> CheckReport:
    """Grade what this kernel has run against the public tests; `function`: only that graded name's tests."""
    cells = _kernel_cells()
    if isinstance(cells, CheckReport):
        return cells
    if not cells:
        return refused("nothing to check yet: run the cells that define your functions first, then check()")
    return run_check(cells, function=function, assignment=assignment, timeout=timeout)


def _kernel_cells() -> tuple[HistoryCell, ...] | CheckReport:
    """The cells of the running IPython kernel's history; else, a script's own source as one cell."""
    shell = _ipython()
    if shell is not None:
        raw = list(getattr(shell.history_manager, "input_hist_raw", None) or shell.user_ns.get("_ih") or [""])
        return submission_cells(list(enumerate(raw))[1:], running=getattr(shell, "execution_count", None))
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    if isinstance(script, str) and script.endswith(".py") and Path(script).is_file():
        return submission_cells([(1, Path(script).read_text(encoding="utf-8", errors="replace"))])
    return refused("check() reads what you have run from IPython's history: call it in a Jupyter notebook or IPython "
                   "(or from a script), or run 'grade --public NOTEBOOK.ipynb' in a terminal in the kit's folder")


def _ipython() -> Any:
    if "IPython" not in sys.modules:  # never imported: this is no IPython shell
        return None
    from IPython import get_ipython

    return get_ipython()


def run_check(cells: Sequence[HistoryCell], *, function: str | None = None, assignment: str | None = None,
              timeout: float = DEFAULT_TIMEOUT, directory: Path | None = None) -> CheckReport:
    """Grade `cells` in the grader's own process, started in `directory` (default: the current one, where the
    course is found), and read its result."""
    with tempfile.TemporaryDirectory(prefix="convgrade-check-") as scratch:
        notebook, result = Path(scratch) / NOTEBOOK_NAME, Path(scratch) / "result.json"
        notebook.write_text(_notebook_json(cells), encoding="utf-8")
        command = [sys.executable, "-P", "-m", "grader.self_check.run",
                   "--notebook", str(notebook), "--out", str(result)]
        command += ["--assignment", assignment] if assignment else []
        command += ["--function", function] if function else []
        with (Path(scratch) / "stderr").open("w+b") as stderr:
            outcome = _run(command, directory or Path.cwd(), stderr, timeout)
            if outcome is not None:
                return outcome
            if not result.is_file():
                return failed(f"the grader stopped without a result{_last_line(stderr)}")
            if result.stat().st_size > MAX_RESULT_BYTES:
                return failed(f"the grader's result is larger than {MAX_RESULT_BYTES >> 20} MB")
            try:
                document = json.loads(result.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                return failed("the grader returned no result it could read")
    return report_from_document(document, [cell.number for cell in cells])


def _run(command: list[str], directory: Path, stderr: Any, timeout: float) -> CheckReport | None:
    """Run the grading process to its end: None, or the report of why it did not finish."""
    started = time.monotonic()
    try:
        process = subprocess.Popen(command, cwd=directory, env=_environment(), stdin=subprocess.DEVNULL,
                                   stdout=stderr, stderr=stderr, start_new_session=os.name == "posix")
    except OSError as error:
        return failed(f"cannot start the grader ({sys.executable}): {error.strerror or error}")
    with _killed_on_exit(process):
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return failed(f"the check took longer than {timeout:g} s and was stopped; does a cell loop or wait? "
                          "(check(timeout=SECONDS) allows longer)")
        except KeyboardInterrupt:
            return failed("interrupted: the check was stopped")
    if code != 0:
        return failed(f"the grader exited with status {code} after {time.monotonic() - started:.0f} s"
                      f"{_last_line(stderr)}")
    return None


@contextlib.contextmanager
def _killed_on_exit(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """The grading process and whatever it started (its zygote, its workers) never outlive the check."""
    try:
        yield
    finally:
        if process.poll() is None:
            with contextlib.suppress(OSError):
                if os.name == "posix":
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    process.kill()
            process.wait()


def _environment() -> dict[str, str]:
    """The kernel's environment, with the grader's own package importable (`-P` keeps the notebook's folder,
    which may hold a student's `torch.py`, off the path); a site-packages is never put before the standard
    library."""
    environment = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[2])
    installed = {str(Path(p).resolve()) for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
                                                  site.getusersitepackages(), *site.getsitepackages())}
    if package_parent not in installed:
        environment["PYTHONPATH"] = os.pathsep.join(
            [package_parent, *filter(None, [environment.get("PYTHONPATH")])])
    return environment


def _notebook_json(cells: Sequence[HistoryCell]) -> str:
    document = {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "id": f"in-{cell.number}", "metadata": {}, "execution_count": cell.number,
                   "outputs": [], "source": cell.source} for cell in cells],
    }
    return json.dumps(document, ensure_ascii=True)


def _last_line(stream: Any) -> str:
    stream.seek(0, os.SEEK_END)
    stream.seek(max(0, stream.tell() - STDERR_TAIL))
    lines = [line.strip() for line in stream.read().decode("utf-8", errors="replace").splitlines() if line.strip()]
    return f": {lines[-1][:500]}" if lines else ""
