"""The shared records cost nothing to import: reading a result (a report, the gradebook) loads no torch."""

from __future__ import annotations

import json
import subprocess
import sys

from grader.host.paths import PROJECT_ROOT

READERS = ("grader.report.formats", "grader.batch.gradebook", "grader.batch.exports", "grader.batch.class_report")
HEAVY = ("torch", "numpy", "nbformat", "matplotlib")


def loaded_after_importing(*modules: str) -> list[str]:
    """The modules a fresh interpreter holds once it has imported `modules`."""
    code = ("import importlib, json, sys\nfor name in sys.argv[1:]: importlib.import_module(name)\n"
            "print(json.dumps(sorted(sys.modules)))")
    finished = subprocess.run([sys.executable, "-c", code, *modules], capture_output=True, text=True, check=True,
                              cwd=PROJECT_ROOT, timeout=120)
    return list(json.loads(finished.stdout))


def test_the_records_import_nothing_heavy_and_no_stage() -> None:
    loaded = loaded_after_importing("grader.records")
    assert "grader.records" in loaded
    assert [name for name in loaded if name.split(".")[0] in HEAVY] == []
    assert [name for name in loaded if name.startswith("grader.") and name != "grader.records"] == []


def test_the_reports_and_the_gradebook_load_no_torch() -> None:
    loaded = loaded_after_importing(*READERS)
    assert set(READERS) <= set(loaded)
    assert "matplotlib" in loaded  # the class report's charts: it did import
    assert [name for name in loaded if name.split(".")[0] == "torch"] == []
    assert [name for name in loaded if name.startswith(("grader.grading", "grader.host", "grader.authoring"))] == []
