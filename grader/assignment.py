"""Assignment definitions: `assignments/<name>/` with its declared names and tests.

A folder holds `assignment.toml` (the graded names, and which are from
scratch), the teaching notebook `<name>.ipynb`, `public_tests.py` and, on the
course's machines only, `hidden_tests.py`. Anything wrong with a definition is
the course's problem, not the student's, so it raises `AssignmentError`.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib.util
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

from grader import banned_calls, course
from grader.errors import AssignmentError, UsageError
from grader.paths import assignments_root, make_course_code_importable
from grader.static_check import parsed_cells
from grader.testkit import GradedTest

POINTS_PER_ASSIGNMENT = 100.0


@dataclasses.dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    directory: Path
    from_scratch: frozenset[str]
    functions: tuple[str, ...]
    tests: tuple[GradedTest, ...]
    digest: str = ""               # of the files that decide a grade: a changed test changes it
    # From-scratch name -> the families of library calls it may not make (grader.banned_calls).
    may_not_call: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)

    @property
    def max_score(self) -> float:
        return sum(test.points for test in self.tests)

    @property
    def notebook(self) -> Path:
        return self.directory / f"{self.name}.ipynb"


def available() -> tuple[str, ...]:
    root = assignments_root()
    if not root.is_dir():
        return ()
    return tuple(sorted(p.name for p in root.iterdir() if (p / "assignment.toml").is_file()))


def load_assignment(name: str, *, public_only: bool = False) -> Assignment:
    directory = assignments_root() / name
    if name not in available():
        known = ", ".join(available()) or f"none in {assignments_root()}"
        raise UsageError(f"unknown assignment {name!r} in the course at {course.active().root} (known: {known})")
    try:
        definition = tomllib.loads((directory / "assignment.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise AssignmentError(f"{directory / 'assignment.toml'} cannot be read: {error}") from None
    functions = definition.get("functions", {})
    if not isinstance(functions, dict) or not functions:
        raise AssignmentError(f"{directory / 'assignment.toml'} declares no [functions]")
    tests = list(_tests_in(directory / "public_tests.py", hidden=False))
    hidden_file = directory / "hidden_tests.py"
    if not public_only:
        if not hidden_file.is_file():
            if course.active().kit:
                raise UsageError("this is a student kit, which holds the public tests only: grade with --public")
            raise AssignmentError(f"{name} has no hidden_tests.py here: grade with --public, "
                                  "or run on the course's machine")
        tests += _tests_in(hidden_file, hidden=True)
    _validate(name, tests, functions, complete=not public_only)
    decisive = [directory / "assignment.toml", directory / "public_tests.py"] + ([] if public_only else [hidden_file])
    return Assignment(
        name=name, title=str(definition.get("title", name)), directory=directory,
        from_scratch=frozenset(f for f, spec in functions.items() if isinstance(spec, dict) and spec.get("from_scratch")),
        functions=tuple(functions), tests=tuple(tests), digest=_digest(decisive),
        may_not_call=banned_calls.parse(directory / "assignment.toml", functions))


def _digest(files: list[Path]) -> str:
    hashed = hashlib.sha256()
    for path in files:
        hashed.update(path.name.encode() + b"\x00" + path.read_bytes() + b"\x00")
    return hashed.hexdigest()[:16]


def _tests_in(path: Path, *, hidden: bool) -> list[GradedTest]:
    if not path.is_file():
        raise AssignmentError(f"{path} is missing")
    make_course_code_importable()  # hidden tests import the course's reference, which lives beside them
    module_name = f"convgrade_tests.{path.parent.name}.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001 - any failure here is a broken definition
        raise AssignmentError(f"{path} fails to load: {type(error).__name__}: {error}") from None
    tests = [value for value in vars(module).values() if isinstance(value, GradedTest)]
    wrong = [t.name for t in tests if t.hidden != hidden]
    if wrong:
        kind = "hidden" if not hidden else "public"
        raise AssignmentError(f"{path} holds {kind} tests, which belong in the other file: {', '.join(wrong)}")
    return tests


def _validate(name: str, tests: list[GradedTest], functions: Mapping[str, object], *, complete: bool) -> None:
    names = [t.name for t in tests]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise AssignmentError(f"{name}: test names are not unique: {', '.join(duplicates)}")
    undeclared = sorted({t.function for t in tests} - set(functions))
    if undeclared:
        raise AssignmentError(f"{name}: tests grade names assignment.toml does not declare: {', '.join(undeclared)}")
    if any(t.points < 0 for t in tests):
        raise AssignmentError(f"{name}: a test cannot be worth negative points")
    pointless = sorted({t.function for t in tests} - {t.function for t in tests if t.points > 0})
    if complete and pointless:
        raise AssignmentError(f"{name}: only tips (0 points) grade {', '.join(pointless)}")
    total = sum(t.points for t in tests)
    if complete and abs(total - POINTS_PER_ASSIGNMENT) > 1e-9:
        raise AssignmentError(f"{name}: tests total {total:g} points, not {POINTS_PER_ASSIGNMENT:g}")


def defined_names(cells: tuple[str, ...]) -> set[str]:
    """Top-level functions and classes a notebook defines, read without running it."""
    names: set[str] = set()
    for tree in parsed_cells(cells):
        names.update(node.name for node in tree.body
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    return names


def identify(requested: str | None, declared: str | None, cells: tuple[str, ...]) -> tuple[str | None, str]:
    """Which assignment a notebook is for: (name, "") or (None, why not).

    `--assignment` wins; a notebook whose metadata names another assignment is
    refused; a notebook without metadata is matched by the names it defines.
    """
    if requested is not None:
        if declared is not None and declared != requested:
            return None, f"is a notebook for assignment {declared!r}, not {requested!r}"
        return requested, ""
    if declared is not None:
        if declared not in available():
            return None, (f"is for assignment {declared!r}, which the course at {course.active().root} does not have "
                          f"(it has: {', '.join(available()) or 'none'})")
        return declared, ""
    defined = defined_names(cells)
    matches = []
    for candidate in available():
        try:
            functions = tomllib.loads((assignments_root() / candidate / "assignment.toml").read_text()).get("functions", {})
        except (OSError, tomllib.TOMLDecodeError):
            continue
        matches.append((len(defined & set(functions)), candidate))
    best = max(matches, default=(0, ""))
    if best[0] == 0:
        return None, "does not say which assignment it is for and defines none of their names: pass --assignment"
    return best[1], ""
