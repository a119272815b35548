"""The shared records cost nothing to import: reading a result (a report, the gradebook) loads no torch."""

from __future__ import annotations

from tests.helpers import loaded_after_importing

READERS = ("grader.report.formats", "grader.batch.gradebook", "grader.batch.exports", "grader.batch.class_report")
HEAVY = ("torch", "numpy", "nbformat", "matplotlib")



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
