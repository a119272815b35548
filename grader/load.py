"""Load stage: a path on disk -> the code cells of a notebook, or why not.

Whatever a student uploads (a truncated file, binary garbage, an nbformat 3
notebook, a folder) ends here as either a `Submission` or an `Unusable` with
a one-line reason. Neither is an exception: a bad upload is the student's
result, and grading the rest of a batch goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import nbformat

MAX_NOTEBOOK_BYTES = 50 << 20


@dataclasses.dataclass(frozen=True)
class Submission:
    path: Path
    cells: tuple[str, ...]         # code cells' sources, in notebook order
    assignment: str | None         # the assignment a release wrote into the metadata
    digest: str                    # sha256 over the code, which is all that is graded
    notes: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Unusable:
    path: Path
    reason: str


def load(path: Path, content: bytes | None = None) -> Submission | Unusable:
    """`content`, when given, is the file's bytes (from a zip, or sent to another machine)."""
    if content is None:
        if not path.exists():
            return Unusable(path, "no such file")
        if path.is_dir():
            return Unusable(path, "is a directory, not a notebook")
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return Unusable(path, f"is larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
        try:
            content = path.read_bytes()
        except OSError as error:
            return Unusable(path, f"cannot be read: {error.strerror}")
    if len(content) > MAX_NOTEBOOK_BYTES:
        return Unusable(path, f"is larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return Unusable(path, "is not a notebook: it is binary data, not JSON text")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        what = "truncated" if _open_brackets(text) > 0 else "not valid JSON"
        return Unusable(path, f"is {what} (line {error.lineno}, column {error.colno}: {error.msg}); "
                              "re-download or re-save the notebook")
    if not isinstance(document, dict) or not ("cells" in document or "worksheets" in document):
        return Unusable(path, "is JSON but not a Jupyter notebook (it has no cells)")
    notes: list[str] = []
    major = document.get("nbformat")
    if major not in (3, 4):
        return Unusable(path, f"is JSON but not a Jupyter notebook of a known version (nbformat {major!r})")
    if major != 4:
        notes.append(f"upgraded from nbformat {major} to 4")
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises many types for malformed notebooks
        return Unusable(path, f"is not a valid notebook: {str(error).splitlines()[0][:200]}")
    if not notebook.cells:
        return Unusable(path, "has no cells")
    cells = tuple(str(cell.get("source", "")) for cell in notebook.cells if cell.get("cell_type") == "code")
    if not cells:
        return Unusable(path, "has no code cells")
    metadata = notebook.metadata.get("convgrade", {})
    assignment = metadata.get("assignment") if isinstance(metadata, dict) else None
    digest = hashlib.sha256("\x00".join(cells).encode()).hexdigest()
    return Submission(path, cells, assignment if isinstance(assignment, str) else None, digest, tuple(notes))


def _open_brackets(text: str) -> int:
    """How many JSON brackets a document leaves open: more than 0 means it was cut short."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return depth
