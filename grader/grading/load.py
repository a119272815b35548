"""Load stage: a path on disk -> the code cells of a notebook, or why not.

Whatever a student uploads (a truncated file, binary garbage, an nbformat 3
notebook, a folder) ends here as either a `Submission` or an `Unusable` with
a one-line reason. Neither is an exception: a bad upload is the student's
result, and grading the rest of a batch goes on.

Everything read is bounded before it is parsed, so that no upload can make
the grader recurse, exhaust its memory or stall: the file's size, the JSON's
nesting depth (measured without recursion, before `json` sees the text), the
number of cells, and the size of each cell's source and of all of them. The
caps are far above any real notebook: the course's teaching notebooks are
21-36 cells, at most 30 KB, nested 4 deep, with no cell over 3 KB and fewer than 40 outputs.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import nbformat

from grader.records import Submission, Unusable
from grader.self_check.source import without_self_check
from grader.worker.json_shape import shape
from grader.worker.quote import encodable

MAX_NOTEBOOK_BYTES = 50 << 20     # the file, outputs and images included
MAX_NESTING = 100                 # JSON arrays and objects inside each other
MAX_CELLS = 2_000                 # of every kind
MAX_CELL_CHARS = 1 << 20          # one cell's source (code, markdown or raw)
MAX_SOURCE_CHARS = 4 << 20        # all cells' sources together
MAX_OUTPUTS = 10_000              # all cells' outputs together
MAX_VALUES = 1_000_000            # JSON values: nbformat spends a microsecond on each
MAX_OBJECTS = 200_000             # JSON objects, of those values: nbformat spends 3-5 microseconds on each


def load(path: Path, content: bytes | None = None) -> Submission | Unusable:
    """`content`, when given, is the file's bytes (from a zip, or sent to another machine)."""
    read = load_notebook(path, content)
    if isinstance(read, Unusable):
        return read
    notebook, notes = read
    if not notebook.cells:
        return Unusable(path, "has no cells")
    code = [(position, cell) for position, cell in enumerate(notebook.cells, start=1)
            if cell.get("cell_type") == "code"]
    # The self-check's cell (`from grader import check; check()`) is left empty: it is no part of the work.
    cells = without_self_check([str(cell.get("source", "")) for _, cell in code])
    if not cells:
        return Unusable(path, "has no code cells")
    metadata = notebook.metadata.get("convgrade", {})
    assignment = metadata.get("assignment") if isinstance(metadata, dict) else None
    digest = hashlib.sha256("\x00".join(cells).encode()).hexdigest()
    return Submission(path, cells, assignment if isinstance(assignment, str) else None, digest, notes,
                      positions=tuple(position for position, _ in code))


def load_notebook(path: Path,  # noqa: PLR0912 - one branch per way a file fails to be a notebook, each with its reason
                  content: bytes | None = None) -> tuple[nbformat.NotebookNode, tuple[str, ...]] | Unusable:
    """The notebook (nbformat 4) within the caps, and notes on how it was read; or why not."""
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
    recognised = _recognised_file(content)
    if recognised:
        return Unusable(path, recognised)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return Unusable(path, "is not a notebook: it is binary data, not JSON text")
    measured = shape(content)
    if measured.deepest > MAX_NESTING:
        return Unusable(path, f"is nested {measured.deepest} levels deep, more than the {MAX_NESTING} a notebook "
                              "may be")
    if measured.values > MAX_VALUES:
        return Unusable(path, f"holds {measured.values} JSON values, more than the {MAX_VALUES} a notebook may hold")
    if measured.objects > MAX_OBJECTS:
        return Unusable(path, f"holds {measured.objects} JSON objects, more than the {MAX_OBJECTS} a notebook may "
                              "hold")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        if not text.lstrip().startswith(("{", "[")):  # never meant as JSON: say what it is instead
            return Unusable(path, _recognised_text(path, text))
        what = "truncated" if measured.left_open > 0 else "not valid JSON"
        return Unusable(path, f"is {what} (line {error.lineno}, column {error.colno}: {error.msg}); "
                              "re-download or re-save the notebook")
    except (ValueError, RecursionError, MemoryError) as error:  # a number of 5000 digits, say
        return Unusable(path, f"is not valid JSON: {_first_line(error)}")
    if not isinstance(document, dict) or not ("cells" in document or "worksheets" in document):
        return Unusable(path, "is JSON but not a Jupyter notebook (it has no cells)")
    notes: list[str] = []
    if "\\u" in text:  # only an escape can carry a lone surrogate, which no later stage could encode
        document, replaced = encodable(document)
        if replaced:
            text = json.dumps(document)
            notes.append(f"replaced {replaced} character(s) that are not valid Unicode (lone surrogates) with U+FFFD")
    major = document.get("nbformat")
    if major not in (3, 4):
        return Unusable(path, f"is JSON but not a Jupyter notebook of a known version (nbformat {_short(major)})")
    if major != 4:
        notes.append(f"upgraded from nbformat {major} to 4")
    cells = _raw_cells(document)
    if len(cells) > MAX_CELLS:  # counted before nbformat reads them all, which costs time for each
        return Unusable(path, f"has {len(cells)} cells, more than the {MAX_CELLS} a notebook may have")
    outputs = sum(len(cell["outputs"]) for cell in cells
                  if isinstance(cell, dict) and isinstance(cell.get("outputs"), list))
    if outputs > MAX_OUTPUTS:
        return Unusable(path, f"has {outputs} outputs, more than the {MAX_OUTPUTS} a notebook may have; "
                              "clear the outputs and save it again")
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises many types for malformed notebooks
        return Unusable(path, f"is not a valid notebook: {_first_line(error)}")
    sizes = [len(str(cell.get("source", ""))) for cell in notebook.cells]
    largest = max(range(len(sizes)), key=sizes.__getitem__, default=None)
    if largest is not None and sizes[largest] > MAX_CELL_CHARS:
        return Unusable(path, f"has a cell (cell {largest + 1}) of {_megabytes(sizes[largest])}, more than the "
                              f"{_megabytes(MAX_CELL_CHARS)} a cell may hold")
    if sum(sizes) > MAX_SOURCE_CHARS:
        return Unusable(path, f"has {_megabytes(sum(sizes))} of cell sources, more than the "
                              f"{_megabytes(MAX_SOURCE_CHARS)} a notebook may hold")
    return notebook, tuple(notes)


NOT_A_NOTEBOOK = "not a Jupyter notebook (.ipynb)"
_SUBMIT = "submit the .ipynb file that Jupyter saves"
# What a student uploads by mistake, by its first bytes.
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"PK\x03\x04", "a zip archive", "submit the notebook itself, not an archive of it"),
    (b"PK\x05\x06", "an empty zip archive", "submit the notebook itself, not an archive of it"),
    (b"\x1f\x8b", "a gzip archive", "submit the notebook itself, not an archive of it"),
    (b"%PDF-", "a PDF document", f"{_SUBMIT}, not a printout of it"),
    (b"\x89PNG", "a PNG image", f"{_SUBMIT}, not a screenshot"),
    (b"\xff\xd8\xff", "a JPEG image", f"{_SUBMIT}, not a screenshot"),
    (b"\xd0\xcf\x11\xe0", "an Office document", _SUBMIT),
)
# A line only Python starts so, read in the file's first lines: parsing a hostile text
# would cost the grader seconds and hundreds of MB, and telling it apart needs no more.
_PYTHON_LINE = re.compile(r"^(?:import[ \t]+\w|from[ \t]+[\w.]+[ \t]+import[ \t]|(?:async[ \t]+)?def[ \t]+\w+[ \t]*\(|"
                          r"class[ \t]+\w+[ \t]*[(:]|# %%|if __name__ ==)", re.MULTILINE)
PYTHON_LINES_READ = 200


def _recognised_file(content: bytes) -> str:
    """What the bytes are, when they are plainly not a notebook; "" otherwise."""
    if not content.strip():
        return f"is an empty file, {NOT_A_NOTEBOOK}: save the notebook in Jupyter and submit it again"
    for signature, what, advice in _SIGNATURES:
        if content.startswith(signature):
            return f"is {what}, {NOT_A_NOTEBOOK}: {advice}"
    return ""


def _recognised_text(path: Path, text: str) -> str:
    """What a text that is not JSON is: Python, HTML, Markdown or plain text."""
    start = text.lstrip()[:200].lower()
    if start.startswith(("<!doctype html", "<html")):
        return f"is an HTML page, {NOT_A_NOTEBOOK}: {_SUBMIT}, not an export of it"
    if path.suffix.lower() == ".py" or _looks_like_python(text):
        return (f"is a Python file, {NOT_A_NOTEBOOK}: {_SUBMIT}, not code exported or copied from it "
                "(File > Save, then upload the .ipynb)")
    if path.suffix.lower() in (".md", ".markdown"):
        return f"is a Markdown file, {NOT_A_NOTEBOOK}: {_SUBMIT}"
    return f"is plain text, {NOT_A_NOTEBOOK}: {_SUBMIT}"


def _looks_like_python(text: str) -> bool:
    head = "\n".join(text[:PYTHON_LINES_READ * 200].splitlines()[:PYTHON_LINES_READ])
    return _PYTHON_LINE.search(head) is not None


def _raw_cells(document: dict[str, Any]) -> list[Any]:
    """The cells of a v4 document, or of all a v3 document's worksheets, as the JSON has them."""
    if document.get("nbformat") == 4:
        cells = document.get("cells")
        return cells if isinstance(cells, list) else []
    worksheets = document.get("worksheets")
    if not isinstance(worksheets, list):
        return []
    return [cell for w in worksheets if isinstance(w, dict) and isinstance(w.get("cells"), list) for cell in w["cells"]]


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:200]


def _short(value: object) -> str:
    return repr(value)[:40]


def _megabytes(chars: int) -> str:
    return f"{chars / (1 << 20):.1f} MB"
