"""The load stage: any upload becomes a Submission or an Unusable with a reason, never an exception."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import nbformat
import pytest

from grader.grading.load import (
    MAX_CELL_CHARS,
    MAX_CELLS,
    MAX_NESTING,
    MAX_NOTEBOOK_BYTES,
    MAX_OBJECTS,
    MAX_OUTPUTS,
    MAX_SOURCE_CHARS,
    MAX_VALUES,
    Submission,
    Unusable,
    load,
    load_notebook,
)
from tests.helpers import MakeNotebook

CORR2D = "import torch\ndef corr2d(X, K):\n    return X"


def loaded(path: Path) -> Submission:
    result = load(path)
    assert isinstance(result, Submission), result
    return result


def unusable(path: Path) -> str:
    result = load(path)
    assert isinstance(result, Unusable), result
    assert result.path == path
    assert result.reason and "\n" not in result.reason
    return result.reason


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_a_good_notebook_loads_its_code_cells_in_order(make_notebook: MakeNotebook) -> None:
    path = make_notebook(CORR2D, "x = 1\nprint(x)", "")
    submission = loaded(path)
    assert submission.cells == (CORR2D, "x = 1\nprint(x)", "")
    assert submission.path == path
    assert submission.notes == ()
    assert submission.assignment is None


def test_the_assignment_comes_from_the_notebook_metadata(make_notebook: MakeNotebook) -> None:
    assert loaded(make_notebook(CORR2D, assignment="cross_correlation")).assignment == "cross_correlation"


def test_a_non_string_assignment_in_the_metadata_is_ignored(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CORR2D)])
    nb.metadata["convgrade"] = {"assignment": ["cross_correlation"]}
    path = tmp_path / "odd.ipynb"
    nbformat.write(nb, path)
    assert loaded(path).assignment is None


def test_markdown_cells_are_left_out_of_the_cells(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("a = 1"),
                                         nbformat.v4.new_raw_cell("raw"), nbformat.v4.new_code_cell("b = 2")])
    path = tmp_path / "mixed.ipynb"
    nbformat.write(nb, path)
    assert loaded(path).cells == ("a = 1", "b = 2")


def test_the_digest_is_stable_across_loads(make_notebook: MakeNotebook) -> None:
    path = make_notebook(CORR2D, "y = 2")
    first, second = loaded(path), loaded(path)
    assert first.digest == second.digest
    assert len(first.digest) == 64 and int(first.digest, 16) >= 0


def test_the_digest_depends_only_on_the_code_cells(tmp_path: Path) -> None:
    def write(name: str, cells: list[nbformat.NotebookNode], **metadata: object) -> Path:
        nb = nbformat.v4.new_notebook(cells=cells)
        nb.metadata.update(metadata)
        path = tmp_path / name
        nbformat.write(nb, path)
        return path

    plain = write("plain.ipynb", [nbformat.v4.new_code_cell(CORR2D)])
    decorated = write("decorated.ipynb", [
        nbformat.v4.new_markdown_cell("Some *prose* the student wrote."),
        nbformat.v4.new_code_cell(CORR2D, execution_count=7, outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="printed\n")]),
    ], convgrade={"assignment": "cross_correlation"}, kernelspec={"name": "python3", "display_name": "Python 3"})
    changed = write("changed.ipynb", [nbformat.v4.new_code_cell(CORR2D + " * 2")])
    split = write("split.ipynb", [nbformat.v4.new_code_cell("import torch"),
                                  nbformat.v4.new_code_cell("def corr2d(X, K):\n    return X")])
    assert loaded(plain).digest == loaded(decorated).digest
    assert loaded(plain).digest != loaded(changed).digest
    assert loaded(plain).digest != loaded(split).digest


def test_a_nonexistent_path_is_unusable(tmp_path: Path) -> None:
    assert "no such file" in unusable(tmp_path / "missing.ipynb")


def test_a_directory_is_unusable(tmp_path: Path) -> None:
    folder = tmp_path / "folder.ipynb"
    folder.mkdir()
    assert "directory" in unusable(folder)


def test_binary_garbage_is_unusable(tmp_path: Path) -> None:
    path = tmp_path / "garbage.ipynb"
    path.write_bytes(b"\xff\xfe" + random.Random(0).randbytes(4096))
    assert "binary" in unusable(path)


def test_broken_json_is_unusable_with_where_it_breaks(tmp_path: Path) -> None:
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [], "nbformat": 4,, }')
    reason = unusable(path)
    assert "not valid JSON" in reason and "line 1" in reason


# What a student uploads instead of a notebook is named, so that they know what to send instead.
@pytest.mark.parametrize(("name", "content", "what"), [
    ("corr2d.py", b"import torch\n\ndef corr2d(X, K):\n    return X\n", "is a Python file"),
    ("corr2d.ipynb", b"def corr2d(X, K):\n    return X\n", "is a Python file"),
    ("exported.ipynb", b"#!/usr/bin/env python\n# coding: utf-8\n\n# In[1]:\n\n\nimport torch\n", "is a Python file"),
    ("percent.txt", b"# %%\nx = 1\n", "is a Python file"),
    ("empty.ipynb", b"", "is an empty file"),
    ("blank.ipynb", b"  \n\n", "is an empty file"),
    ("hw.zip", b"PK\x03\x04" + bytes(100), "is a zip archive"),
    ("hw.ipynb", b"PK\x05\x06" + bytes(18), "is an empty zip archive"),
    ("hw.ipynb", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "is a PDF document"),
    ("hw.ipynb", b"\x89PNG\r\n\x1a\n" + bytes(20), "is a PNG image"),
    ("hw.html", b"<!DOCTYPE html>\n<html><body>notebook</body></html>", "is an HTML page"),
    ("README.md", b"# My answers\n\nThe output is smaller.", "is a Markdown file"),
    ("answers.ipynb", b"My answers are below.\nThe output is smaller because the kernel must fit.\n", "is plain text"),
], ids=["python_file", "python_named_ipynb", "nbconvert_script", "jupytext_percent", "empty", "blank", "zip",
        "empty_zip", "pdf", "png", "html", "markdown", "plain_text"])
def test_a_file_that_is_not_a_notebook_says_what_it_is(tmp_path: Path, name: str, content: bytes, what: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    reason = unusable(path)
    assert reason.startswith(f"{what}, not a Jupyter notebook (.ipynb): ") and "\n" not in reason
    assert "submit" in reason or "save" in reason


def test_telling_python_from_prose_reads_only_the_first_lines(tmp_path: Path) -> None:
    path = tmp_path / "huge.ipynb"
    path.write_text("x\n" * 5_000_000 + "import torch\n")
    started = time.perf_counter()
    assert unusable(path).startswith("is plain text")
    assert time.perf_counter() - started < 5.0


def test_a_notebook_cut_in_half_is_reported_as_truncated(make_notebook: MakeNotebook) -> None:
    path = make_notebook(CORR2D, "x = {'a': [1, 2]}  # brackets in a string: ]]}}", "z = 3")
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    reason = unusable(path)
    assert "truncated" in reason
    assert "re-download" in reason


@pytest.mark.parametrize("document", [[1, 2, 3], "a string", 42, None, {"metadata": {}, "nbformat": 4},
                                      {"source": "x = 1"}], ids=["list", "string", "number", "null", "no_cells",
                                                                 "a_cell"])
def test_json_that_is_not_a_notebook_is_unusable(tmp_path: Path, document: object) -> None:
    assert "not a Jupyter notebook" in unusable(write_json(tmp_path / "data.ipynb", document))


def test_a_notebook_with_no_cells_is_unusable(tmp_path: Path) -> None:
    path = tmp_path / "empty.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    assert unusable(path) == "has no cells"


def test_a_notebook_with_only_markdown_cells_is_unusable(tmp_path: Path) -> None:
    path = tmp_path / "prose.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Answers"),
                                                   nbformat.v4.new_markdown_cell("```python\nx = 1\n```")]), path)
    assert unusable(path) == "has no code cells"


def test_a_notebook_nbformat_refuses_is_unusable(tmp_path: Path) -> None:
    path = write_json(tmp_path / "future.ipynb", {"cells": [], "metadata": {}, "nbformat": 99, "nbformat_minor": 0})
    assert "known version (nbformat 99)" in unusable(path)


def test_an_nbformat_3_notebook_is_upgraded_and_loads_with_a_note(tmp_path: Path) -> None:
    path = write_json(tmp_path / "old.ipynb", {
        "nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "old"},
        "worksheets": [{"metadata": {}, "cells": [
            {"cell_type": "heading", "level": 1, "metadata": {}, "source": ["Cross-correlation"]},
            {"cell_type": "code", "collapsed": False, "language": "python", "metadata": {}, "outputs": [],
             "prompt_number": 1, "input": ["import torch\n", "def corr2d(X, K):\n", "    return X"]},
            {"cell_type": "markdown", "metadata": {}, "source": ["Some text"]},
            {"cell_type": "code", "collapsed": False, "language": "python", "metadata": {}, "outputs": [],
             "input": "y = corr2d(1, 2)"},
        ]}]})
    submission = loaded(path)
    assert submission.cells == (CORR2D, "y = corr2d(1, 2)")
    assert any("nbformat 3" in note for note in submission.notes)


def test_the_digest_of_an_upgraded_notebook_matches_the_same_code_in_nbformat_4(tmp_path: Path,
                                                                               make_notebook: MakeNotebook) -> None:
    old = write_json(tmp_path / "old.ipynb", {
        "nbformat": 3, "nbformat_minor": 0, "metadata": {},
        "worksheets": [{"metadata": {}, "cells": [
            {"cell_type": "code", "language": "python", "metadata": {}, "outputs": [], "input": CORR2D}]}]})
    assert loaded(old).digest == loaded(make_notebook(CORR2D)).digest


def test_a_code_cell_without_source_loads_as_an_empty_cell_not_an_exception(tmp_path: Path) -> None:
    path = write_json(tmp_path / "nosource.ipynb", {
        "cells": [{"id": "a1", "cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    assert loaded(path).cells == ("",)


# ------------------------------------------------------------------ hostile notebooks: every cap, before any parser

def notebook_document(cells: list[dict[str, object]], metadata: dict[str, object] | None = None) -> dict[str, object]:
    return {"cells": cells, "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": 5}


def code_cell(source: str, outputs: list[object] | None = None, number: int = 0) -> dict[str, object]:
    return {"id": f"c{number}", "cell_type": "code", "metadata": {}, "outputs": outputs or [],
            "execution_count": None, "source": source}


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def test_json_nested_past_the_cap_is_unusable_without_recursion(tmp_path: Path) -> None:
    path = tmp_path / "deep.ipynb"
    text = json.dumps(notebook_document([code_cell(CORR2D)]))
    path.write_text(text[:-1] + ', "x": ' + "[" * 200_000 + "]" * 200_000 + "}")
    reason = unusable(path)
    assert reason == f"is nested 200001 levels deep, more than the {MAX_NESTING} a notebook may be"


def test_a_notebook_nested_to_the_cap_loads_and_brackets_in_strings_do_not_count(tmp_path: Path) -> None:
    deep = notebook_document([code_cell("x = " + "[" * 5000 + '"\\"[{' + "]" * 5000)],
                             {"deep": nested(MAX_NESTING - 2)})  # the document and its metadata are 2 levels
    assert loaded(write_json(tmp_path / "deep.ipynb", deep)).cells[0].startswith("x = [[[")
    deeper = notebook_document([code_cell(CORR2D)], {"deep": nested(MAX_NESTING - 1)})
    assert "nested 101 levels deep" in unusable(write_json(tmp_path / "deeper.ipynb", deeper))


def test_a_number_too_long_for_python_is_unusable_not_an_exception(tmp_path: Path) -> None:
    path = tmp_path / "digits.ipynb"
    path.write_text(json.dumps(notebook_document([code_cell(CORR2D)]))[:-1] + ', "n": ' + "9" * 5000 + "}")
    assert "is not valid JSON: Exceeds the limit" in unusable(path)


def test_too_many_cells_is_unusable(tmp_path: Path) -> None:
    document = notebook_document([code_cell("x = 1", number=n) for n in range(MAX_CELLS + 1)])
    assert unusable(write_json(tmp_path / "many.ipynb", document)) == (
        f"has {MAX_CELLS + 1} cells, more than the {MAX_CELLS} a notebook may have")


def test_a_cell_over_the_cap_is_unusable_and_named(tmp_path: Path) -> None:
    document = notebook_document([code_cell(CORR2D), code_cell("x = 1\n" * (MAX_CELL_CHARS // 6 + 1), number=1)])
    assert unusable(write_json(tmp_path / "big.ipynb", document)) == (
        "has a cell (cell 2) of 1.0 MB, more than the 1.0 MB a cell may hold")


def test_sources_over_the_total_cap_are_unusable(tmp_path: Path) -> None:
    each = MAX_CELL_CHARS - 1
    count = MAX_SOURCE_CHARS // each + 1
    document = notebook_document([code_cell("#" * each, number=n) for n in range(count)])
    assert unusable(write_json(tmp_path / "big.ipynb", document)) == (
        f"has {count * each / (1 << 20):.1f} MB of cell sources, more than the 4.0 MB a notebook may hold")


def test_too_many_outputs_values_or_objects_are_unusable(tmp_path: Path) -> None:
    stream = {"output_type": "stream", "name": "stdout", "text": "a"}
    outputs = notebook_document([code_cell(CORR2D, [stream] * (MAX_OUTPUTS + 1))])
    assert unusable(write_json(tmp_path / "outputs.ipynb", outputs)).startswith(
        f"has {MAX_OUTPUTS + 1} outputs, more than the {MAX_OUTPUTS}")
    values = notebook_document([code_cell(CORR2D)], {"values": [0] * MAX_VALUES})
    assert "JSON values, more than the" in unusable(write_json(tmp_path / "values.ipynb", values))
    objects = notebook_document([code_cell(CORR2D)], {"objects": [{}] * MAX_OBJECTS})
    assert "JSON objects, more than the" in unusable(write_json(tmp_path / "objects.ipynb", objects))


@pytest.mark.slow
def test_the_caps_are_checked_fast_on_a_file_at_the_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "brackets.ipynb"
    path.write_bytes(b"[" * (MAX_NOTEBOOK_BYTES // 2) + b"]" * (MAX_NOTEBOOK_BYTES // 2))
    started = time.perf_counter()
    assert "levels deep" in unusable(path)
    assert time.perf_counter() - started < 10.0   # about 0.3 s on the development machine


def test_lone_surrogates_are_replaced_not_a_crash(tmp_path: Path) -> None:
    # JSON may escape a lone surrogate, which no later stage (static check, page, worker) could encode.
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 'SURROGATE'")])
    notebook.cells[0].outputs = [nbformat.v4.new_output("stream", text="SURROGATE")]
    path = tmp_path / "surrogates.ipynb"
    path.write_text(nbformat.writes(notebook).replace("SURROGATE", "\\ud800"))
    submission = load(path)
    assert isinstance(submission, Submission)
    assert submission.cells == ("x = '\ufffd'",)
    assert any("lone surrogates" in note for note in submission.notes)
    loaded = load_notebook(path)
    assert not isinstance(loaded, Unusable) and loaded[0].cells[0].outputs[0].text == "\ufffd"


def test_each_code_cell_keeps_its_place_among_all_cells(tmp_path: Path) -> None:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    path = tmp_path / "mixed.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[md("# Title"), code("import torch"), md("text"),
                                                   nbformat.v4.new_raw_cell("raw"), code("x = 1")]), path)
    submission = load(path)
    assert isinstance(submission, Submission)
    assert (submission.cells, submission.positions) == (("import torch", "x = 1"), (2, 5))
