"""The library's public surface, pinned: a change to it is a change a course's scripts notice."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import grader
from grader.host.paths import PROJECT_ROOT

PUBLIC = ["AssignmentError", "CellOutcome", "Course", "ExitCode", "GradeResult", "Grader", "GraderError",
          "GraderFailure", "Limits", "TestScore", "UsageError", "check", "grade"]


def test_the_package_exports_exactly_its_public_names_and_each_resolves() -> None:
    assert grader.__all__ == PUBLIC == sorted(grader._EXPORTS)
    for name in PUBLIC:
        assert getattr(grader, name).__name__ == name
    assert set(PUBLIC) <= set(dir(grader))


def test_the_session_and_the_one_call_wrapper_keep_their_signatures() -> None:
    assert list(inspect.signature(grader.Grader).parameters) == ["course", "secret", "limits", "hide", "unconfined",
                                                                 "workers", "many_submissions"]
    assert list(inspect.signature(grader.Grader.grade).parameters) == [
        "self", "path", "assignment", "public_only", "device", "limits", "content", "definitions", "run", "on_step"]
    assert list(inspect.signature(grader.grade).parameters) == [
        "path", "course", "assignment", "public_only", "limits", "secret", "unconfined"]


def test_importing_the_package_loads_no_torch_and_it_ships_its_type_marker() -> None:
    code = "import json, sys, grader; print(json.dumps(sorted(sys.modules)))"
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              cwd=PROJECT_ROOT, timeout=60)
    assert "torch" not in json.loads(finished.stdout)
    assert (Path(grader.__file__).parent / "py.typed").is_file()
