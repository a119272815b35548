"""Release: the instructor's notebook -> what students get.

The student version keeps the teaching text, examples and signatures, and
replaces each marked solution with a stub that raises NotImplementedError.
Beside it goes the public kit (the assignment's declaration and public tests,
never the hidden ones) with its own convgrade.toml, so that `grade --public`
works on a student's machine, in the kit's folder, with no setup.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

from grader.course import COURSE_FILE, active, course_file_text
from grader.course.assignment import load_every_test_here
from grader.course.budgets import calibration_file
from grader.course.release_check import (
    refuse_leaks,
    refuse_unmarked_solutions,
    solutions_in,
)
from grader.errors import AssignmentError
from grader.safe_write import write_file

CODE_BEGIN, CODE_END = "### BEGIN SOLUTION", "### END SOLUTION"
TEXT_BEGIN, TEXT_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
TEXT_STUB = "*Write your answer here.*"
PUBLIC_KIT = ("assignment.toml", "public_tests.py")


def release_notebook(assignment: str, out_dir: Path, *, with_solutions: bool = False) -> Path:
    """Refuses (AssignmentError, nothing written) an assignment that does not load
    whole here, and a student notebook that would still hold a solution."""
    definition = load_every_test_here(assignment)  # hidden tests checked too, where this machine has them
    if not definition.notebook.is_file():
        raise AssignmentError(f"{definition.notebook} is missing")
    notebook = nbformat.read(definition.notebook, as_version=4)
    if not with_solutions:
        refuse_unmarked_solutions(notebook, definition.functions, CODE_BEGIN, definition.notebook)
        solutions = solutions_in(notebook, (CODE_BEGIN, CODE_END), (TEXT_BEGIN, TEXT_END))
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if not with_solutions:
            cell.source = (_strip_code(cell.source, definition.notebook) if cell.cell_type == "code"
                           else _strip_text(cell.source, definition.notebook))
    if not with_solutions:
        notebook.cells += _check_cells(assignment)
    notebook.metadata["convgrade"] = {"assignment": assignment}
    if not with_solutions:  # the notebook as students get it, checked whole before anything is written
        refuse_leaks(notebook, solutions, definition.notebook)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{assignment}.ipynb"
    nbformat.write(notebook, target)
    _write_kit(definition.directory, assignment, out_dir)
    return target


def _write_kit(directory: Path, assignment: str, out_dir: Path) -> None:
    """The public kit beside the notebook: a course of its own, so that `grade --public` finds it from there."""
    kit = out_dir / "assignments" / assignment
    kit.mkdir(parents=True, exist_ok=True)
    for name in PUBLIC_KIT:
        shutil.copyfile(directory / name, kit / name)
    # The call budgets too, so that check() and `grade --public` time calls as the course's grade does:
    # they hold seconds and digests, nothing of the hidden tests.
    budgets = calibration_file(directory)
    if budgets.is_file():
        shutil.copyfile(budgets, calibration_file(kit))
    else:
        calibration_file(kit).unlink(missing_ok=True)
    course = active()
    write_file(out_dir / COURSE_FILE, course_file_text(course.name, kit=True, limits=course))


CHECK_CELL = "from grader import check; check()"


def _check_cells(assignment: str) -> list[nbformat.NotebookNode]:
    """The self-check, ready to run; fixed ids, so that a release is the same byte for byte."""
    return [
        nbformat.v4.new_markdown_cell(
            "## Check your work\n\nRun the cell below to check what you have run so far against the public "
            "tests (the hidden tests run when you submit). It grades your code in a separate process, and the "
            "notebook need not be saved. `check(\"NAME\")` checks one function.\n\n"
            "Or, in a terminal in this folder, check the saved notebook:\n\n"
            f"```\ngrade --public {assignment}.ipynb\n```",
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
