"""Release: the instructor's notebook -> what students get.

The student version keeps the teaching text, examples and signatures, and
replaces each marked solution with a stub that raises NotImplementedError.
Beside it goes the public kit (the assignment's declaration and public tests,
never the hidden ones), so `grade --public` works on a student's machine.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

from grader.assignment import load_assignment
from grader.errors import AssignmentError

CODE_BEGIN, CODE_END = "### BEGIN SOLUTION", "### END SOLUTION"
TEXT_BEGIN, TEXT_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
TEXT_STUB = "*Write your answer here.*"
PUBLIC_KIT = ("assignment.toml", "public_tests.py")


def release_notebook(assignment: str, out_dir: Path, *, with_solutions: bool = False) -> Path:
    definition = load_assignment(assignment, public_only=True)
    if not definition.notebook.is_file():
        raise AssignmentError(f"{definition.notebook} is missing")
    notebook = nbformat.read(definition.notebook, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if not with_solutions:
            cell.source = (_strip_code(cell.source, definition.notebook) if cell.cell_type == "code"
                           else _strip_text(cell.source, definition.notebook))
    if not with_solutions:
        notebook.cells += _check_cells(assignment)
    notebook.metadata["convgrade"] = {"assignment": assignment}
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{assignment}.ipynb"
    nbformat.write(notebook, target)
    kit = out_dir / "assignments" / assignment
    kit.mkdir(parents=True, exist_ok=True)
    for name in PUBLIC_KIT:
        shutil.copyfile(definition.directory / name, kit / name)
    return target


CHECK_CELL = "from grader import check; check()"


def _check_cells(assignment: str) -> list[nbformat.NotebookNode]:
    """The self-check, ready to run; fixed ids, so that a release is the same byte for byte."""
    return [
        nbformat.v4.new_markdown_cell(
            "## Check your work\n\nRun the cell below to check what you have run so far against the public "
            "tests (the hidden tests run when you submit). It grades your code in a separate process, and the "
            "notebook need not be saved. `check(\"NAME\")` checks one function.\n\n"
            f"Or, in a terminal in this folder, check the saved notebook:\n\n```\ngrade --public {assignment}.ipynb\n```",
            id="convgrade-check-your-work"),
        nbformat.v4.new_code_cell(CHECK_CELL, id="convgrade-check"),
    ]


def _strip_code(source: str, origin: Path) -> str:
    lines, out, inside = source.splitlines(), [], False
    for line in lines:
        stripped = line.strip()
        if stripped == CODE_BEGIN:
            if inside:
                raise AssignmentError(f"{origin}: nested {CODE_BEGIN}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f'{indent}raise NotImplementedError("replace this line with your solution")')
        elif stripped == CODE_END:
            if not inside:
                raise AssignmentError(f"{origin}: {CODE_END} without {CODE_BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise AssignmentError(f"{origin}: {CODE_BEGIN} is never closed")
    return "\n".join(out)


def _strip_text(source: str, origin: Path) -> str:
    if source.count(TEXT_BEGIN) != source.count(TEXT_END):
        raise AssignmentError(f"{origin}: unbalanced {TEXT_BEGIN} / {TEXT_END}")
    return re.sub(re.escape(TEXT_BEGIN) + r".*?" + re.escape(TEXT_END), TEXT_STUB, source, flags=re.DOTALL)
