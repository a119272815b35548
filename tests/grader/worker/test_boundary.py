"""The trust boundary, as imports: what runs beside student code loads nothing of the grader's other rooms.

Student code can read every module its worker has loaded; a worker that imported the grading pipeline,
the course or the reference would put the hidden tests' machinery (and its secrets' paths) in reach.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.host.paths import PROJECT_ROOT
from tests.helpers import loaded_after_importing

WORKER_ENTRY_POINTS = ("grader.worker.zygote", "grader.worker.plain", "grader.worker.serve")
ALLOWED = ("grader", "grader.worker")



@pytest.mark.slow
@pytest.mark.parametrize("entry_point", WORKER_ENTRY_POINTS)
def test_a_worker_entry_point_loads_no_grader_course_or_reference_module(entry_point: str) -> None:
    loaded = loaded_after_importing(entry_point)
    ours = [name for name in loaded if name == "grader" or name.startswith("grader.")]
    assert entry_point in ours
    outside = [name for name in ours if name not in ALLOWED and not name.startswith("grader.worker.")]
    assert outside == []
    assert not [name for name in loaded if name.split(".")[0] in ("reference", "tests", "assignments")]


def test_the_worker_package_imports_only_itself_by_its_source() -> None:
    """Also the imports no entry point reaches yet (a lazy import inside a function)."""
    offending = []
    for path in sorted((PROJECT_ROOT / "grader" / "worker").glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith(("from grader", "import grader")) and not stripped.startswith(
                    ("from grader.worker", "import grader.worker")):
                offending.append(f"{Path(path).name}:{number}: {stripped}")
    assert offending == []
