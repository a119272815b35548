"""Release: the instructor's notebook -> the student's, with stubs, and the public kit only."""

from __future__ import annotations

import ast
import base64
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
import torch

from grader.course.assignment import load_assignment
from grader.course.budgets import (
    BUDGETS_FILE,
    Calibration,
    FunctionBudget,
    calibration_problem,
    in_force,
    read_calibration,
    write_calibration,
)
from grader.course.release import TEXT_STUB, release_notebook
from grader.errors import AssignmentError
from grader.grading.load import load
from grader.host.execute import Limits
from grader.records import Submission
from tests.helpers import select_course, use_course

TOML = """title = "A tiny convolution assignment"
[functions.corr2d]
from_scratch = true
[functions.Doubler]
"""
PUBLIC = """from __future__ import annotations

import torch

from grader.authoring.testkit import Student, expect_close, public_test


@public_test(function="corr2d", points=40)
def corr2d_example(student: Student, rng: torch.Generator) -> None:
    expect_close(student.corr2d(torch.ones(3, 3), torch.ones(2, 2)), torch.full((2, 2), 4.0), what="corr2d")
"""
HIDDEN_MARKER = "hidden-kit-marker-3c1d"
HIDDEN = f"""from __future__ import annotations

import torch

from grader.authoring.testkit import Student, hidden_test

MARKER = "{HIDDEN_MARKER}"


@hidden_test(function="Doubler", points=60, hint="double it")
def doubler_doubles(student: Student, rng: torch.Generator) -> None:
    pass
"""
INTRO = "# Cross-correlation\n\nRead section 6.2 first."
QUESTION = ("**Question.** Why is the output smaller than the input?\n\n<!-- BEGIN SOLUTION -->\n"
            "Because SOLUTION_PROSE_MARKER: each window must fit.\n<!-- END SOLUTION -->\n\nThanks.")
CORR2D = """import torch

def corr2d(X, K):
    \"\"\"Cross-correlate X with K.\"\"\"
    h, w = K.shape
    ### BEGIN SOLUTION
    Y = torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1)  # SOLUTION_CODE_MARKER
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
    ### END SOLUTION"""
DOUBLER = """class Doubler:
    factor = 2

    def __call__(self, x):
        if x is None:
            ### BEGIN SOLUTION
            return None  # SOLUTION_CODE_MARKER
            ### END SOLUTION
        ### BEGIN SOLUTION
        return self.factor * x  # SOLUTION_CODE_MARKER
        ### END SOLUTION

print(corr2d(torch.ones(3, 3), torch.ones(2, 2)))"""


def write_assignment(root: Path, name: str = "tiny", *, cells: list[nbformat.NotebookNode] | None = None) -> Path:
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "assignment.toml").write_text(TOML)
    (directory / "public_tests.py").write_text(PUBLIC)
    (directory / "hidden_tests.py").write_text(HIDDEN)
    if cells is None:
        cells = [nbformat.v4.new_markdown_cell(INTRO), nbformat.v4.new_markdown_cell(QUESTION),
                 nbformat.v4.new_code_cell(CORR2D, execution_count=3, outputs=[
                     nbformat.v4.new_output("stream", name="stdout", text="SOLUTION_OUTPUT_MARKER\n")]),
                 nbformat.v4.new_code_cell(DOUBLER, execution_count=4, outputs=[
                     nbformat.v4.new_output("execute_result", data={"text/plain": "tensor(4.)"}, execution_count=4)])]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, directory / f"{name}.ipynb")
    return directory


@pytest.fixture
def root(root: Path) -> Path:
    """The shared empty assignments folder, with this module's assignment in it."""
    write_assignment(root)
    return root


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "release"


def released_cells(path: Path) -> list[nbformat.NotebookNode]:
    return list(nbformat.read(path, as_version=4).cells)


def test_release_writes_the_notebook_under_the_assignment_name(root: Path, out: Path) -> None:
    target = release_notebook("tiny", out)
    assert target == out / "tiny.ipynb" and target.is_file()
    nbformat.validate(nbformat.read(target, as_version=4))


def test_solutions_become_stubs_at_the_indentation_of_their_markers(root: Path, out: Path) -> None:
    cells = released_cells(release_notebook("tiny", out))
    stub = 'raise NotImplementedError("replace this line with your solution")'
    assert cells[2].source.splitlines() == ["import torch", "", "def corr2d(X, K):",
                                            '    """Cross-correlate X with K."""', "    h, w = K.shape",
                                            f"    {stub}"]
    doubler = cells[3].source.splitlines()
    assert f"            {stub}" in doubler and f"        {stub}" in doubler
    assert doubler[-1] == "print(corr2d(torch.ones(3, 3), torch.ones(2, 2)))"
    for cell in cells[2:4]:
        ast.parse(cell.source)


def test_the_released_stubs_raise_not_implemented_error(root: Path, out: Path) -> None:
    cells = released_cells(release_notebook("tiny", out))
    namespace: dict[str, Any] = {}
    exec(cells[2].source, namespace)
    with pytest.raises(NotImplementedError):
        namespace["corr2d"](torch.ones(3, 3), torch.ones(2, 2))


def test_no_solution_text_or_output_survives_the_release(root: Path, out: Path) -> None:
    text = release_notebook("tiny", out).read_text()
    for marker in ("SOLUTION_CODE_MARKER", "SOLUTION_PROSE_MARKER", "SOLUTION_OUTPUT_MARKER", "BEGIN SOLUTION",
                   "END SOLUTION", "each window must fit", "tensor(4.)"):
        assert marker not in text


def test_markdown_answers_are_replaced_and_the_rest_of_the_text_kept(root: Path, out: Path) -> None:
    cells = released_cells(release_notebook("tiny", out))
    assert cells[0].source == INTRO
    assert cells[1].source == ("**Question.** Why is the output smaller than the input?\n\n"
                               f"{TEXT_STUB}\n\nThanks.")


def test_outputs_and_execution_counts_are_cleared(root: Path, out: Path) -> None:
    cells = released_cells(release_notebook("tiny", out))
    code = [cell for cell in cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_the_metadata_names_the_assignment_and_keeps_the_kernel(root: Path, out: Path) -> None:
    nb = nbformat.read(release_notebook("tiny", out), as_version=4)
    assert nb.metadata["convgrade"] == {"assignment": "tiny"}
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_the_release_ends_with_the_self_check_ready_to_run(root: Path, out: Path) -> None:
    cells = released_cells(release_notebook("tiny", out))
    assert len(cells) == 6
    assert cells[-2].cell_type == "markdown" and "```\ngrade --public tiny.ipynb\n```" in cells[-2].source
    assert "CONVGRADE_ASSIGNMENTS" not in cells[-2].source
    assert cells[-1].cell_type == "code" and cells[-1].source == "from grader import check; check()"
    assert [cell.id for cell in cells[-2:]] == ["convgrade-check-your-work", "convgrade-check"]
    assert release_notebook("tiny", out / "again").read_bytes() == (out / "tiny.ipynb").read_bytes()


def test_the_released_notebook_loads_for_grading_as_its_assignment(root: Path, out: Path) -> None:
    submission = load(release_notebook("tiny", out))
    assert isinstance(submission, Submission)
    assert submission.assignment == "tiny" and len(submission.cells) == 3
    assert submission.cells[-1] == ""  # the self-check's cell is no part of the work


def test_the_public_kit_is_copied_beside_the_notebook(root: Path, out: Path) -> None:
    release_notebook("tiny", out)
    kit = out / "assignments" / "tiny"
    assert sorted(p.name for p in kit.iterdir()) == ["assignment.toml", "public_tests.py"]
    assert (kit / "assignment.toml").read_text() == TOML
    assert (kit / "public_tests.py").read_text() == PUBLIC


def test_the_kit_carries_the_call_budgets_and_they_are_in_force_there(root: Path, out: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    definition = load_assignment("tiny")
    calibration = Calibration(definition.digest, definition.public_digest,
                              {"corr2d": FunctionBudget(3.2, 0.16, "accepted/seeds.ipynb")})
    write_calibration(root / "tiny", calibration)
    release_notebook("tiny", out)
    assert read_calibration(out / "assignments" / "tiny") == calibration
    select_course(monkeypatch, out)
    in_the_kit = load_assignment("tiny", public_only=True)
    assert calibration_problem(in_the_kit) is None
    assert in_force(in_the_kit, Limits()).of("corr2d") == 3.2
    (root / "tiny" / BUDGETS_FILE).unlink()
    select_course(monkeypatch, root.parent)
    release_notebook("tiny", out)  # released again without one: the kit's old one goes too
    assert not (out / "assignments" / "tiny" / BUDGETS_FILE).exists()


def test_the_hidden_tests_are_nowhere_in_the_release(root: Path, out: Path) -> None:
    release_notebook("tiny", out)
    release_notebook("tiny", out / "with_solutions", with_solutions=True)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files
    assert not [p for p in files if p.name == "hidden_tests.py"]
    assert not [p for p in files if HIDDEN_MARKER in p.read_text()]


def test_with_solutions_keeps_the_solutions_but_still_clears_outputs(root: Path, out: Path) -> None:
    target = release_notebook("tiny", out, with_solutions=True)
    cells = released_cells(target)
    assert cells[1].source == QUESTION
    assert cells[2].source == CORR2D and cells[3].source == DOUBLER
    assert all(cell.outputs == [] for cell in cells if cell.cell_type == "code")
    assert len(cells) == 4
    assert "SOLUTION_OUTPUT_MARKER" not in target.read_text()
    assert nbformat.read(target, as_version=4).metadata["convgrade"] == {"assignment": "tiny"}


def test_releasing_twice_into_the_same_folder_gives_the_same_cells(root: Path, out: Path) -> None:
    first = [(c.cell_type, c.source) for c in released_cells(release_notebook("tiny", out))]
    (out / "assignments" / "tiny" / "public_tests.py").write_text("stale")
    assert [(c.cell_type, c.source) for c in released_cells(release_notebook("tiny", out))] == first
    assert (out / "assignments" / "tiny" / "public_tests.py").read_text() == PUBLIC


@pytest.mark.parametrize("source", [
    "def f():\n    ### BEGIN SOLUTION\n    return 1",
    "def f():\n    return 1\n    ### END SOLUTION",
    "def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
], ids=["never_closed", "end_without_begin", "nested"])
def test_unbalanced_code_markers_are_an_assignment_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         source: str) -> None:
    folder = tmp_path / "assignments"
    use_course(monkeypatch, folder)
    write_assignment(folder, cells=[nbformat.v4.new_code_cell(source)])
    with pytest.raises(AssignmentError, match="SOLUTION"):
        release_notebook("tiny", tmp_path / "out")


def test_unbalanced_markdown_markers_are_an_assignment_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "assignments"
    use_course(monkeypatch, folder)
    write_assignment(folder, cells=[nbformat.v4.new_markdown_cell("Answer:\n<!-- BEGIN SOLUTION -->\nsecret")])
    with pytest.raises(AssignmentError, match="unbalanced"):
        release_notebook("tiny", tmp_path / "out")


def test_a_missing_instructor_notebook_is_an_assignment_error(root: Path, out: Path) -> None:
    (root / "tiny" / "tiny.ipynb").unlink()
    with pytest.raises(AssignmentError, match="missing"):
        release_notebook("tiny", out)


# --- a release never holds a solution, and never releases a broken assignment -------------------------------------

def without_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if "SOLUTION" not in line or "MARKER" in line)


def refused(folder: Path, out: Path, match: str) -> AssignmentError:
    with pytest.raises(AssignmentError, match=match) as raised:
        release_notebook("tiny", out)
    assert not out.exists()  # nothing written
    assert "\n" not in raised.value.message and str(folder / "tiny" / "tiny.ipynb") in raised.value.message
    return raised.value


def test_a_teaching_notebook_without_solution_markers_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 out: Path) -> None:
    folder = tmp_path / "assignments"
    use_course(monkeypatch, folder)
    write_assignment(folder, cells=[nbformat.v4.new_markdown_cell(INTRO),
                                    nbformat.v4.new_code_cell(without_markers(CORR2D)),
                                    nbformat.v4.new_code_cell(without_markers(DOUBLER))])
    error = refused(folder.resolve(), out, "cell 2 defines corr2d, a graded name, without solution markers")
    assert "--with-solutions" in error.message
    release_notebook("tiny", out / "model", with_solutions=True)  # the model answer is the solution, as meant


def test_one_graded_function_left_unmarked_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      out: Path) -> None:
    folder = tmp_path / "assignments"
    use_course(monkeypatch, folder)
    write_assignment(folder, cells=[nbformat.v4.new_code_cell(CORR2D),
                                    nbformat.v4.new_code_cell(without_markers(DOUBLER))])
    refused(folder.resolve(), out, "cell 2 defines Doubler")


def leaking(cells: list[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    return [nbformat.v4.new_markdown_cell(QUESTION), nbformat.v4.new_code_cell(CORR2D),
            nbformat.v4.new_code_cell(DOUBLER), *cells]


SOLUTION_LOOP = ("    for i in range(Y.shape[0]):\n        for j in range(Y.shape[1]):\n"
                 "            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()")


@pytest.mark.parametrize(("cell", "where"), [
    (nbformat.v4.new_code_cell("# a copy, left over\ndef corr2d_copy(X, K):\n    h, w = K.shape\n"
                               "    Y = torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1)  # SOLUTION_CODE_MARKER\n"
                               + SOLUTION_LOOP + "\n    return Y"), "cell 4"),
    (nbformat.v4.new_markdown_cell("The answer:\n\n```python\n" + SOLUTION_LOOP + "\n```"), "cell 4"),
    (nbformat.v4.new_markdown_cell("See below.", attachments={"solution.py": {
        "text/plain": base64.b64encode(SOLUTION_LOOP.encode()).decode()}}), "cell 4's attachments"),
    (nbformat.v4.new_code_cell("x = 1", metadata={"solution": SOLUTION_LOOP}), "cell 4's metadata"),
    (nbformat.v4.new_markdown_cell("Why smaller? Because SOLUTION_PROSE_MARKER: each window must fit."), "cell 4"),
    (nbformat.v4.new_code_cell("def doubled(x):\n    return self.factor * x  # SOLUTION_CODE_MARKER"), "cell 4"),
], ids=["code_copied_into_another_cell", "markdown_code_block", "attachment", "cell_metadata", "markdown_answer",
        "a_short_solution_whole"])
def test_a_solution_found_anywhere_in_the_release_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             out: Path, cell: nbformat.NotebookNode,
                                                             where: str) -> None:
    folder = tmp_path / "assignments"
    use_course(monkeypatch, folder)
    write_assignment(folder, cells=leaking([cell]))
    error = refused(folder.resolve(), out, "would still hold a solution")
    assert f"({where}: " in error.message


def test_a_solution_in_the_notebook_metadata_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        out: Path) -> None:
    folder = tmp_path / "assignments"
    use_course(monkeypatch, folder)
    directory = write_assignment(folder)
    nb = nbformat.read(directory / "tiny.ipynb", as_version=4)
    nb.metadata["answers"] = {"corr2d": SOLUTION_LOOP}
    nbformat.write(nb, directory / "tiny.ipynb")
    assert "the notebook's metadata" in refused(folder.resolve(), out, "would still hold a solution").message


def test_lines_the_solution_shares_with_given_code_are_no_leak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              out: Path) -> None:
    folder = tmp_path / "assignments"
    use_course(monkeypatch, folder)
    given = ("def given_corr2d(X, K):\n    for i in range(Y.shape[0]):\n        for j in range(Y.shape[1]):\n"
             "            pass\n    return Y")  # two solution lines in a row, and a line of another solution
    write_assignment(folder, cells=leaking([nbformat.v4.new_code_cell(given)]))
    cells = released_cells(release_notebook("tiny", out))
    assert cells[3].source == given


def write_broken(root: Path, hidden: str) -> Path:
    (root / "tiny" / "hidden_tests.py").write_text(hidden)
    return root.resolve()


@pytest.mark.parametrize(("hidden", "match"), [
    (HIDDEN.replace("points=60", "points=59"), "tests total 99 points, not 100"),
    (HIDDEN.replace('function="Doubler"', 'function="Tripler"'), "grades Tripler, which assignment.toml does not"),
    (HIDDEN.replace('hint="double it"', 'hint=" "'), "hidden test doubler_doubles has no hint"),
], ids=["points_99", "undeclared_name", "blank_hint"])
def test_an_assignment_whose_hidden_tests_are_broken_is_not_released(root: Path, out: Path, hidden: str,
                                                                     match: str) -> None:
    write_broken(root, hidden)
    with pytest.raises(AssignmentError, match=match):
        release_notebook("tiny", out)
    assert not out.exists()


def test_without_hidden_tests_here_the_public_definition_is_enough_to_release(root: Path, out: Path) -> None:
    (root / "tiny" / "hidden_tests.py").unlink()
    assert release_notebook("tiny", out).is_file()


def test_an_assignment_with_a_misnamed_test_file_is_not_released(root: Path, out: Path) -> None:
    (root / "tiny" / "hidden_test.py").write_text(HIDDEN)
    with pytest.raises(AssignmentError, match=re.escape("hidden_test.py: an assignment's tests must be named")):
        release_notebook("tiny", out)
    assert not out.exists()
