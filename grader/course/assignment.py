"""Assignment definitions: `assignments/<name>/` with its declared names and tests.

A folder holds `assignment.toml` (the graded names, and which are from
scratch), the teaching notebook `<name>.ipynb`, `public_tests.py` and, on the
course's machines only, `hidden_tests.py`. Anything wrong with a definition is
the course's problem, not the student's, so it raises `AssignmentError`: one
line that names the file. Nothing is ignored silently: an unknown key (a
typo), a test file by another name, a public test that imports what students
do not have (the course's `reference`), a hidden test without a hint.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import hashlib
import importlib.util
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grader import course
from grader.authoring.testkit import GradedTest
from grader.course.budgets import Calibration, read_calibration
from grader.errors import AssignmentError, UsageError
from grader.grading.static_check import parsed_cells
from grader.host.paths import (
    assignments_root,
    course_code_root,
    make_course_code_importable,
)
from grader.worker import banned_calls

POINTS_PER_ASSIGNMENT = 100.0
POINTS_TOLERANCE = 1e-9  # sums of float points that differ by less are equal
PUBLIC_TESTS, HIDDEN_TESTS = "public_tests.py", "hidden_tests.py"
# assignment.toml's keys, and the type of each value: anything else is a mistake to report, not to ignore.
TOP_LEVEL_KEYS: Mapping[str, str] = {"title": "a string", "functions": "a table of [functions.NAME]"}
FUNCTION_KEYS: Mapping[str, str] = {"from_scratch": "true or false", "may_not_call": "a list of strings"}


@dataclasses.dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    directory: Path
    from_scratch: frozenset[str]
    functions: tuple[str, ...]
    tests: tuple[GradedTest, ...]
    digest: str = ""               # of the files that decide a grade: a changed test changes it
    # From-scratch name -> the families of library calls it may not make (grader.worker.banned_calls).
    may_not_call: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)
    public_digest: str = ""        # of assignment.toml and public_tests.py alone: what a --public grade runs
    calibration: Calibration | None = None   # its budgets.json, current or not (grader.course.budgets)

    @property
    def max_score(self) -> float:
        return sum(test.points for test in self.tests)

    @property
    def notebook(self) -> Path:
        return self.directory / f"{self.name}.ipynb"


def available() -> tuple[str, ...]:
    """The active course's assignments (grader.course.assignment_names)."""
    return course.assignment_names(course.active())


def load_assignment(name: str, *, public_only: bool = False) -> Assignment:
    directory = assignments_root() / name
    here = course.active()
    course.require_assignment(here, name)
    if not public_only and here.kit:  # before any test file is read: a kit's hidden_tests.py, if any, is not ours
        raise UsageError("this is a student kit, which holds the public tests only: grade with --public")
    if not public_only and here.beside:
        raise UsageError(f"the course at {here.root} was found beside the notebook, which is the student's folder: "
                         "its hidden tests are never run; run grade from your course's folder, pass --course DIR, "
                         "or grade with --public")
    definition = read_declaration(directory)
    functions = definition["functions"]
    _refuse_misnamed_test_files(directory)
    _refuse_imports_students_lack(directory / PUBLIC_TESTS)
    tests = list(_tests_in(directory / PUBLIC_TESTS, hidden=False))
    hidden_file = directory / HIDDEN_TESTS
    if not public_only:
        if not hidden_file.is_file():
            raise AssignmentError(f"{name} has no hidden_tests.py here: grade with --public, "
                                  "or run on the course's machine")
        tests += _tests_in(hidden_file, hidden=True)
    _validate(directory, tests, functions, complete=not public_only)
    public = [directory / "assignment.toml", directory / PUBLIC_TESTS]
    return Assignment(
        name=name, title=str(definition.get("title", name)), directory=directory,
        from_scratch=frozenset(f for f, spec in functions.items() if spec.get("from_scratch")),
        functions=tuple(functions), tests=tuple(tests), digest=_digest(public + ([] if public_only else [hidden_file])),
        may_not_call=_may_not_call(directory / "assignment.toml", functions), public_digest=_digest(public),
        calibration=read_calibration(directory))


def load_every_test_here(name: str) -> Assignment:
    """The definition with every test file this machine has: complete (hidden tests
    included, points checked) on the course's machine, public only in a student kit."""
    here = course.active()
    return load_assignment(name, public_only=here.kit or here.beside
                           or not (assignments_root() / name / HIDDEN_TESTS).is_file())


def read_declaration(directory: Path) -> dict[str, Any]:
    """`assignment.toml`, with every key known and every value of its type."""
    path = directory / "assignment.toml"
    try:
        definition = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise AssignmentError(f"{path} cannot be read: {error}") from None
    _refuse_unknown_keys(path, definition, TOP_LEVEL_KEYS, "at the top level")
    if "title" in definition and not isinstance(definition["title"], str):
        raise AssignmentError(f"{path}: title must be {TOP_LEVEL_KEYS['title']}")
    functions = definition.get("functions", {})
    if not isinstance(functions, dict) or not functions:
        raise AssignmentError(f"{path} declares no [functions]")
    for function, spec in functions.items():
        if not isinstance(spec, dict):
            raise AssignmentError(f"{path}: functions.{function} must be a table ([functions.{function}])")
        _refuse_unknown_keys(path, spec, FUNCTION_KEYS, f"in [functions.{function}]")
        if "from_scratch" in spec and not isinstance(spec["from_scratch"], bool):
            raise AssignmentError(f"{path}: from_scratch in [functions.{function}] must be true or false, "
                                  f"not {spec['from_scratch']!r}")
        banned = spec.get("may_not_call", [])
        if not isinstance(banned, list) or not all(isinstance(item, str) for item in banned):
            raise AssignmentError(f"{path}: may_not_call in [functions.{function}] must be a list of strings, "
                                  f"not {banned!r}")
    return definition


def _refuse_unknown_keys(path: Path, table: Mapping[str, Any], allowed: Mapping[str, str], where: str) -> None:
    for key in table:
        if key not in allowed:
            near = difflib.get_close_matches(key, list(allowed), n=1)
            suggestion = f"did you mean {near[0]}?" if near else f"known keys: {', '.join(allowed)}"
            raise AssignmentError(f"{path}: unknown key {key!r} {where} ({suggestion})")


def _refuse_misnamed_test_files(directory: Path) -> None:
    """A test file under another name would never run: its points would silently be missing."""
    for path in sorted(directory.iterdir()):
        stem = path.stem.lower()
        if (path.suffix == ".py" and "test" in stem and path.name not in (PUBLIC_TESTS, HIDDEN_TESTS)
                and path.name != "conftest.py" and path.is_file()):
            near = difflib.get_close_matches(path.name, [PUBLIC_TESTS, HIDDEN_TESTS], n=1, cutoff=0.0)
            raise AssignmentError(f"{path}: an assignment's tests must be named {PUBLIC_TESTS} or {HIDDEN_TESTS}, "
                                  f"so this file would never run (rename it to {near[0]}?)")


def _refuse_imports_students_lack(path: Path) -> None:
    """Students get public_tests.py in their kit, without the course's own code
    (`reference/`, anything beside the assignments folder): read without running it."""
    if not path.is_file():
        return  # _tests_in says it is missing
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return  # _tests_in reports it, with Python's own message
    root = course_code_root()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise AssignmentError(f"{path}, line {node.lineno}: a relative import, which fails in the student kit "
                                  "(it holds public_tests.py alone)")
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            top = module.partition(".")[0]
            if top != "grader" and (top == "reference" or (root / top / "__init__.py").is_file()
                                    or (root / f"{top}.py").is_file()):
                raise AssignmentError(f"{path}, line {node.lineno}: public tests import {module}, which students "
                                      "do not have (their kit holds public_tests.py, not the course's own code); "
                                      "compute expected values with PyTorch, or move the test to hidden_tests.py")


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
    except (Exception, SystemExit) as error:  # noqa: BLE001 - any failure here is a broken definition
        raise AssignmentError(f"{path} fails to load: {type(error).__name__}: {error}") from None
    tests = [value for value in vars(module).values() if isinstance(value, GradedTest)]
    wrong = [t.name for t in tests if t.hidden != hidden]
    if wrong:
        kind = "hidden" if not hidden else "public"
        raise AssignmentError(f"{path} holds {kind} tests, which belong in the other file: {', '.join(wrong)}")
    return tests


def _validate(directory: Path, tests: list[GradedTest], functions: Mapping[str, object], *, complete: bool) -> None:
    def file_of(test: GradedTest) -> Path:
        return directory / (HIDDEN_TESTS if test.hidden else PUBLIC_TESTS)

    names = [t.name for t in tests]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise AssignmentError(f"{directory}: test names are not unique: {', '.join(duplicates)}")
    for test in tests:
        if test.function not in functions:
            raise AssignmentError(f"{file_of(test)}: test {test.name} grades {test.function}, which "
                                  f"assignment.toml does not declare (it declares {', '.join(functions)})")
        if test.points < 0:
            raise AssignmentError(f"{file_of(test)}: test {test.name} cannot be worth negative points")
        if test.hidden and not test.hint.strip():
            raise AssignmentError(f"{file_of(test)}: hidden test {test.name} has no hint, and a hint is all "
                                  "students see of a hidden test")
    pointless = sorted({t.function for t in tests} - {t.function for t in tests if t.points > 0})
    if complete and pointless:
        raise AssignmentError(f"{directory}: only tips (0 points) grade {', '.join(pointless)}")
    total = sum(t.points for t in tests)
    if complete and abs(total - POINTS_PER_ASSIGNMENT) > POINTS_TOLERANCE:
        public = sum(t.points for t in tests if not t.hidden)
        raise AssignmentError(f"{directory}: tests total {total:g} points, not {POINTS_PER_ASSIGNMENT:g} "
                              f"({PUBLIC_TESTS} {public:g}, {HIDDEN_TESTS} {total - public:g})")


def defined_names(cells: tuple[str, ...]) -> set[str]:
    """Top-level functions and classes a notebook defines, read without running it."""
    names: set[str] = set()
    for tree in parsed_cells(cells):
        names.update(node.name for node in tree.body
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    return names


def identify(requested: str | None, declared: str | None, cells: tuple[str, ...],
             definitions: Mapping[str, Assignment] | None = None) -> tuple[str | None, str]:
    """Which assignment a notebook is for: (name, "") or (None, why not).

    `--assignment` wins; a notebook whose metadata names another assignment is
    refused; a notebook without metadata is matched by the names it defines:
    the `functions` of the `definitions` already loaded (a batch's), else of
    each assignment's declaration.
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
        functions = _functions_of(candidate, definitions or {})
        if functions is not None:
            matches.append((len(defined & set(functions)), candidate))
    best = max(matches, default=(0, ""))
    if best[0] == 0:
        return None, "does not say which assignment it is for and defines none of their names: pass --assignment"
    return best[1], ""


def _functions_of(name: str, definitions: Mapping[str, Assignment]) -> tuple[str, ...] | None:
    """The functions an assignment declares; None for a broken one, which is reported where it is loaded."""
    if name in definitions:
        return definitions[name].functions
    try:
        return tuple(read_declaration(assignments_root() / name)["functions"])
    except AssignmentError:
        return None


def _may_not_call(path: Path, functions: Mapping[str, object]) -> dict[str, frozenset[str]]:
    """`may_not_call` of each from-scratch function in assignment.toml's [functions] (`path` names the file)."""
    banned: dict[str, frozenset[str]] = {}
    for function, spec in functions.items():
        if not isinstance(spec, dict):
            continue
        names = spec.get("may_not_call")
        if names is None:
            if spec.get("from_scratch"):
                banned[function] = banned_calls.DEFAULT
            continue
        if not spec.get("from_scratch"):
            raise AssignmentError(f"{path}: [functions.{function}] names may_not_call but is not from_scratch = true")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise AssignmentError(f"{path}: [functions.{function}] may_not_call must be a non-empty list of "
                                  f"families ({', '.join(banned_calls.FAMILIES)}), got {names!r}")
        unknown = [n for n in names if n not in banned_calls.FAMILIES]
        if unknown:
            raise AssignmentError(f"{path}: [functions.{function}] may_not_call names unknown "
                                  f"{'family' if len(unknown) == 1 else 'families'} {', '.join(map(repr, unknown))}"
                                  f" (known: {', '.join(banned_calls.FAMILIES)}; name families, not single functions)")
        banned[function] = frozenset(names)
    return banned
