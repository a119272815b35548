"""What a student release must never hold: the teaching notebook's solutions.

`grade release` replaces each marked solution with a stub. A solution can
still reach students in other ways, so the release is checked before
anything is written: a graded function defined with no markers at all (the
author forgot them, or removed them), a solution pasted again into another
cell, a markdown code block or an attachment, or kept in the metadata.

Lines a solution shares with the given code (`return Y`, `l.backward()`) are
no leak, so code counts as leaked only as a run of its lines in a row, and a
one- or two-line solution only whole and when it is long enough to say
something. The course's teaching notebooks give such runs of at most 2.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat

from grader.course.assignment import defined_names
from grader.errors import AssignmentError
from grader.worker.quote import cut

LEAK_RUN = 3                 # consecutive lines of a marked solution that make a leak
MIN_SHORT_SOLUTION = 20      # characters of a solution shorter than LEAK_RUN lines, for it to count
MIN_TEXT_LINE = 20           # characters of a line of a markdown answer, for it to count


@dataclasses.dataclass(frozen=True)
class Solutions:
    """The marked solutions of a teaching notebook, as the leak check compares them."""
    code: tuple[tuple[str, ...], ...]   # each marked code block: its lines stripped, blanks and comments left out
    text: tuple[str, ...]               # each line of the marked markdown answers, stripped


def solutions_in(notebook: nbformat.NotebookNode, code_markers: tuple[str, str],
                 text_markers: tuple[str, str]) -> Solutions:
    begin, end = code_markers
    blocks: list[tuple[str, ...]] = []
    text: list[str] = []
    for cell in notebook.cells:
        source = str(cell.get("source", ""))
        if cell.get("cell_type") == "code":
            block: list[str] | None = None
            for line in source.splitlines():
                stripped = line.strip()
                if stripped == begin:
                    block = []
                elif stripped == end and block is not None:
                    blocks.append(tuple(block))
                    block = None
                elif block is not None and stripped and not stripped.startswith("#"):
                    block.append(stripped)
        else:
            pattern = re.escape(text_markers[0]) + r"(.*?)" + re.escape(text_markers[1])
            for answer in re.findall(pattern, source, flags=re.DOTALL):
                text += [line.strip() for line in answer.splitlines() if len(line.strip()) >= MIN_TEXT_LINE]
    return Solutions(code=tuple(b for b in blocks if b), text=tuple(text))


def refuse_unmarked_solutions(notebook: nbformat.NotebookNode, functions: Sequence[str], code_begin: str,
                              origin: Path) -> None:
    """A graded name defined in a cell without solution markers would go to students as written."""
    for position, cell in enumerate(notebook.cells, start=1):
        source = str(cell.get("source", ""))
        if cell.get("cell_type") != "code" or code_begin in source:
            continue
        graded = sorted(defined_names((source,)) & set(functions))
        if graded:
            raise AssignmentError(
                f"{origin}: refusing to release: cell {position} defines {graded[0]}, a graded name, without "
                f"solution markers, so students would get its code as written; put the solution between "
                f"{code_begin} and its END line (or release the model answer with --with-solutions)")


def refuse_leaks(released: nbformat.NotebookNode, solutions: Solutions, origin: Path) -> None:
    """The released notebook holds no marked solution: in no cell's source, output,
    attachment or metadata, nor in the notebook's metadata."""
    runs = _runs(solutions.code)
    for where, text in _texts(released):
        lines = [line.strip() for line in text.splitlines()]
        lines = [line for line in lines if line and not line.startswith("#")]
        for length in {len(run) for run in runs}:
            for start in range(len(lines) - length + 1):
                if tuple(lines[start:start + length]) in runs:
                    _refuse(origin, where, lines[start])
        for line in solutions.text:
            if line in text:
                _refuse(origin, where, line)


def _runs(blocks: Sequence[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """Every run of LEAK_RUN lines in a row of each block, or a shorter block whole if it says enough."""
    runs: set[tuple[str, ...]] = set()
    for block in blocks:
        if len(block) >= LEAK_RUN:
            runs.update(block[start:start + LEAK_RUN] for start in range(len(block) - LEAK_RUN + 1))
        elif sum(len(line) for line in block) >= MIN_SHORT_SOLUTION:
            runs.add(block)
    return runs


def _refuse(origin: Path, where: str, line: str) -> None:
    raise AssignmentError(f"{origin}: refusing to release: the student notebook would still hold a solution "
                          f"({where}: {cut(line, 80)!r}); a solution may only sit between the solution markers")


def _texts(notebook: nbformat.NotebookNode) -> Iterator[tuple[str, str]]:
    """(where, text) for every string the released notebook holds, attachments decoded."""
    for position, cell in enumerate(notebook.cells, start=1):
        for key, value in cell.items():
            where = f"cell {position}" if key == "source" else f"cell {position}'s {key}"
            yield from ((where, text) for text in _strings(value))
        for attachment in (cell.get("attachments") or {}).values():
            for mime, data in (attachment.items() if isinstance(attachment, Mapping) else ()):
                decoded = _decoded(data) if str(mime).startswith("text/") or mime == "application/json" else None
                if decoded is not None:
                    yield f"cell {position}'s attachments", decoded
    yield from (("the notebook's metadata", text) for text in _strings(notebook.get("metadata", {})))


def _strings(value: Any) -> Iterator[str]:
    # The course's own notebook, a few levels deep: plain recursion is enough.
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _decoded(data: Any) -> str | None:
    joined = "".join(data) if isinstance(data, list) else data
    if not isinstance(joined, str):
        return None
    try:
        return base64.b64decode(joined, validate=False).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
