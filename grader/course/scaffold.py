"""`grade new NAME`: a new assignment, from the templates in grader/course/templates/assignment/.

The scaffold is a working assignment of one graded function (a 2D
cross-correlation, the chapter's first exercise): its declaration, a teaching
notebook with marked solutions, one public and one hidden example test (100
points together) and an `accepted/` folder with nothing in it yet. So its tests
pass on its own solution and fail on the released stub, and `grade audit NAME`
fails on two lines until the author adds accepted answers and measures the
call budgets from them (`grade calibrate NAME`, grader.course.calibrate).
"""

from __future__ import annotations

import dataclasses
import json
import keyword
import shutil
import tempfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import nbformat

from grader.errors import UsageError
from grader.host.paths import assignments_root

TEMPLATE = "assignment"
SUFFIX = ".tmpl"            # not .py: nothing byte-compiles, lints or imports a template's placeholders
NOTEBOOK_TEMPLATE = "notebook.ipynb"
MAX_NAME_LENGTH = 60        # a notebook cell's id is at most 64 characters, and holds the name
# Names the teaching notebook's own code uses: a function of that name would shadow them.
TAKEN_NAMES = frozenset({"torch", "X", "K", "Y"})


@dataclasses.dataclass(frozen=True)
class Scaffold:
    folder: Path                    # the new assignment's folder
    files: tuple[Path, ...]         # what was written, relative to `folder`


def check_name(name: str, what: str = "assignment name") -> None:
    """A name that can be a folder, a module's part and a Python function: an ASCII identifier."""
    if not (name.isascii() and name.isidentifier()) or keyword.iskeyword(name):
        raise UsageError(f"invalid {what} {name!r}: use a Python identifier (letters, digits, underscores; "
                         "no path separators), e.g. pool2d")
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(f"invalid {what} {name!r}: at most {MAX_NAME_LENGTH} characters")
    if name in TAKEN_NAMES:
        raise UsageError(f"invalid {what} {name!r}: the teaching notebook already uses that name")


def new_assignment(name: str, *, function: str | None = None, title: str | None = None,
                   root: Path | None = None) -> Scaffold:
    """Write the scaffold of assignment `name` into the course's assignments folder.

    Refuses an invalid or existing name, and a
    course without an assignments folder; writes nothing then."""
    check_name(name)
    function = function or name
    check_name(function, "function name")
    root = root or assignments_root()
    if not root.is_dir():
        raise UsageError(f"no assignments folder at {root}: make a course first (grade init DIR), "
                         "or run this inside one")
    target = root / name
    if target.exists() or target.is_symlink():
        raise UsageError(f"assignment {name!r} already exists: {target}")
    values = {"name": name, "function": function, "title": title or name.replace("_", " ").capitalize()}
    # Written beside the target and renamed into place: a failure leaves no half-made assignment.
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        staging.chmod(0o755)  # as a plain mkdir makes it, not mkdtemp's 0700
        _write_template(staging, name, values)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Scaffold(target, tuple(sorted(path.relative_to(target) for path in target.rglob("*") if path.is_file())))


def _write_template(folder: Path, name: str, values: Mapping[str, str]) -> None:
    template = resources.files("grader.course") / "templates" / TEMPLATE
    replacements = {**values, "title_toml": json.dumps(values["title"], ensure_ascii=False)}  # a TOML basic string
    for template_path, template_text in _template_files(template):
        relative = template_path.removesuffix(SUFFIX)
        if relative == NOTEBOOK_TEMPLATE:
            notebook = nbformat.reads(template_text, as_version=4)
            notebook = nbformat.from_dict(_substituted(notebook, replacements))
            nbformat.validate(notebook)
            destination, text = folder / f"{name}.ipynb", nbformat.writes(notebook) + "\n"
        else:
            destination, text = folder / relative, _substitute(template_text, replacements)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text, encoding="utf-8")


def _template_files(folder: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(path relative to the template, text) of every file under `folder` (a resources Traversable)."""
    files = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        relative = f"{prefix}{entry.name}"
        if entry.is_dir():
            if entry.name != "__pycache__":
                files += _template_files(entry, f"{relative}/")
        else:
            files.append((relative, entry.read_text(encoding="utf-8")))
    return files


def _substitute(text: str, values: Mapping[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def _substituted(node: Any, values: Mapping[str, str]) -> Any:
    """A notebook's JSON with every placeholder filled in: sources, cell ids and metadata alike."""
    if isinstance(node, str):
        return _substitute(node, values)
    if isinstance(node, list):
        return [_substituted(item, values) for item in node]
    if isinstance(node, dict):
        return {key: _substituted(value, values) for key, value in node.items()}
    return node
