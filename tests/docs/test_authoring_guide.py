"""docs/authoring.md: every example in it runs, and together they cover the whole test API.

The guide's blocks build one assignment, `guide`; it is loaded, its teaching
notebook graded (100) and its release graded (0, every test failing), and
every script block runs in its course folder.
"""

from __future__ import annotations

import ast
import re
import shutil
import tomllib
from pathlib import Path

import pytest

import grader.authoring.testkit
from grader.course.assignment import load_assignment
from grader.course.audit import AuditOptions, audit
from grader.course.budgets import write_calibration
from grader.course.calibrate import calibrate
from grader.course.release import release_notebook
from grader.session import Grader
from tests.docs.guide import (
    EXAMPLE,
    FRAGMENT,
    PARTS,
    QUOTED,
    SCRIPT,
    Block,
    blocks_of,
    guide_blocks,
)

ALLOWED_KEYS = {"title", "functions"}
ALLOWED_FUNCTION_KEYS = {"from_scratch", "may_not_call"}
FAMILIES = {"convolution", "pooling"}


def test_every_block_is_of_a_kind_the_guide_test_knows() -> None:
    unknown = [(b.line, b.info) for b in guide_blocks() if b.info not in (*PARTS, SCRIPT, FRAGMENT, *QUOTED)]
    assert unknown == [], "a fence whose info string says neither how to run it nor that it is quoted output"
    assert len(blocks_of("toml assignment.toml")) == 1
    assert all(blocks_of(kind) for kind in (*PARTS, SCRIPT, FRAGMENT))


def test_the_guide_shows_every_name_of_the_test_api_and_every_request_of_the_student_proxy() -> None:
    tree = ast.parse(Path(grader.authoring.testkit.__file__).read_text())
    names = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    names |= {target.id for node in tree.body if isinstance(node, ast.Assign)
              for target in node.targets if isinstance(target, ast.Name)}
    public = {name for name in names if not name.startswith("_")}
    code = "\n".join(b.source for b in guide_blocks() if b.info.startswith("python"))
    assert {"public_test", "hidden_test", "expect_close", "expect", "Student", "Training"} <= public
    assert sorted(n for n in public if not re.search(rf"\b{n}\b", code)) == []
    for request in ("student.call(", "student.gradients(", "student.module(", "student.cost(", "student.corr2d("):
        assert request in code, request


def test_the_examples_form_one_assignment_worth_100_points(guide_course: Path) -> None:
    definition = load_assignment(EXAMPLE)
    decorated = sum(b.source.count("@public_test(") + b.source.count("@hidden_test(")
                    for b in guide_blocks() if b.info in PARTS)
    assert len(definition.tests) == decorated == 10
    assert definition.max_score == 100
    assert set(definition.functions) == {"corr2d", "output_shape", "Conv2D"}
    assert definition.from_scratch == frozenset({"corr2d"})


@pytest.mark.slow
def test_the_teaching_notebook_passes_every_test_and_its_release_fails_every_one(
        guide_course: Path, grader: Grader, tmp_path: Path) -> None:
    folder = guide_course / "assignments" / EXAMPLE
    taught = grader.grade(folder / f"{EXAMPLE}.ipynb")
    assert taught.status == "graded" and not taught.grader_errors
    assert [t.name for t in taught.tests if not t.passed] == []  # the tips' advice is followed too
    assert taught.score == 100
    stub = grader.grade(release_notebook(EXAMPLE, tmp_path))
    assert stub.status == "graded" and not stub.grader_errors
    assert [t.name for t in stub.tests if t.passed] == []  # every example test can fail
    assert stub.score == 0


@pytest.mark.parametrize("block", blocks_of(SCRIPT), ids=lambda b: f"line {b.line}")
def test_every_script_of_the_guide_runs(guide_course: Path, block: Block) -> None:
    exec(compile(block.source, f"docs/authoring.md:{block.line}", "exec"), {"__name__": "__guide__"})


@pytest.mark.parametrize("block", blocks_of(FRAGMENT), ids=lambda b: f"line {b.line}")
def test_every_assignment_toml_fragment_uses_only_the_declaration_keys(block: Block) -> None:
    declaration = tomllib.loads(block.source)
    assert set(declaration) <= ALLOWED_KEYS
    for spec in declaration.get("functions", {}).values():
        assert set(spec) <= ALLOWED_FUNCTION_KEYS
        assert set(spec.get("may_not_call", [])) <= FAMILIES


@pytest.mark.slow
def test_the_guide_assignment_passes_the_audit_with_its_solution_as_the_accepted_answer(
        guide_course: Path, grader: Grader) -> None:
    folder = guide_course / "assignments" / EXAMPLE
    (folder / "accepted").mkdir(exist_ok=True)
    shutil.copy(folder / f"{EXAMPLE}.ipynb", folder / "accepted" / "taught.ipynb")
    write_calibration(folder, calibrate(EXAMPLE, grader))  # grade calibrate, as the workflow says
    report = audit(EXAMPLE, grader, AuditOptions(jobs=2, per_function=8))
    assert [(c.name, c.detail) for c in report.checks if c.verdict == "fail"] == []
    assert {f"mutants of {name}" for name in ("corr2d", "output_shape", "Conv2D")} <= {c.name for c in report.checks}
    assert any(v.outcome == "killed" for v in report.mutants)
