"""Assignment definitions: loading, what makes one broken, and telling which one a notebook is for."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

from grader.course.assignment import available, defined_names, identify, load_assignment
from grader.errors import AssignmentError, UsageError
from tests.helpers import use_course

TOML = """
title = "A tiny convolution assignment"
[functions.corr2d]
from_scratch = true
[functions.scale]
"""
PUBLIC = """
from __future__ import annotations

import torch

from grader.authoring.testkit import Student, expect_close, public_test


@public_test(function="corr2d", points=30)
def corr2d_example(student: Student, rng: torch.Generator) -> None:
    expect_close(student.corr2d(torch.ones(3, 3), torch.ones(2, 2)), torch.full((2, 2), 4.0), what="corr2d")
"""
HIDDEN = """
from __future__ import annotations

import torch

from grader.authoring.testkit import Student, expect_close, hidden_test


@hidden_test(function="corr2d", points=50, hint="check every window")
def corr2d_random(student: Student, rng: torch.Generator) -> None:
    X = torch.randn(5, 5, generator=rng)
    expect_close(student.corr2d(X, torch.ones(1, 1)), X, what="corr2d")


@hidden_test(function="scale", points=20, hint="double it")
def scale_doubles(student: Student, rng: torch.Generator) -> None:
    x = torch.randn(3, generator=rng)
    expect_close(student.scale(x), 2 * x, what="scale")
"""


def write_assignment(root: Path, name: str = "tiny", *, toml: str = TOML, public: str | None = PUBLIC,
                     hidden: str | None = HIDDEN) -> Path:
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "assignment.toml").write_text(textwrap.dedent(toml))
    if public is not None:
        (directory / "public_tests.py").write_text(public)
    if hidden is not None:
        (directory / "hidden_tests.py").write_text(hidden)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def corr2d(X, K):\n    return X")])
    nbformat.write(nb, directory / f"{name}.ipynb")
    return directory


def test_available_lists_folders_with_a_declaration(root: Path) -> None:
    write_assignment(root, "tiny")
    write_assignment(root, "another")
    (root / "not_an_assignment").mkdir()
    (root / "stray.txt").write_text("x")
    assert available() == ("another", "tiny")


def test_available_is_empty_when_the_root_does_not_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_course(monkeypatch, tmp_path / "nowhere")
    assert available() == ()


def test_load_assignment_reads_declaration_and_both_test_files(root: Path) -> None:
    directory = write_assignment(root)
    definition = load_assignment("tiny")
    assert definition.name == "tiny" and definition.title == "A tiny convolution assignment"
    assert definition.directory == directory.resolve()
    assert definition.notebook == directory.resolve() / "tiny.ipynb"
    assert definition.functions == ("corr2d", "scale")
    assert definition.from_scratch == frozenset({"corr2d"})
    assert [(t.name, t.function, t.points, t.hidden) for t in definition.tests] == [
        ("corr2d_example", "corr2d", 30.0, False), ("corr2d_random", "corr2d", 50.0, True),
        ("scale_doubles", "scale", 20.0, True)]
    assert definition.max_score == 100.0
    assert next(t for t in definition.tests if t.name == "scale_doubles").hint == "double it"


def test_the_title_defaults_to_the_name(root: Path) -> None:
    write_assignment(root, toml="[functions.corr2d]\nfrom_scratch = true\n[functions.scale]\n")
    assert load_assignment("tiny").title == "tiny"


def test_public_only_skips_the_hidden_file_and_the_points_total(root: Path) -> None:
    write_assignment(root, hidden="raise RuntimeError('must not be imported')")
    definition = load_assignment("tiny", public_only=True)
    assert [t.name for t in definition.tests] == ["corr2d_example"]
    assert definition.max_score == 30.0


def test_public_only_works_without_a_hidden_file(root: Path) -> None:
    write_assignment(root, hidden=None)
    assert [t.name for t in load_assignment("tiny", public_only=True).tests] == ["corr2d_example"]


def test_an_unknown_assignment_is_a_usage_error_naming_the_known_ones(root: Path) -> None:
    write_assignment(root, "tiny")
    with pytest.raises(UsageError, match=r"'pooling'.*tiny"):
        load_assignment("pooling")


def test_an_unknown_assignment_in_an_empty_root_says_so(root: Path) -> None:
    with pytest.raises(UsageError, match="none in"):
        load_assignment("tiny")


def test_points_not_totalling_100_are_an_assignment_error(root: Path) -> None:
    write_assignment(root, hidden=HIDDEN.replace("points=20", "points=10"))
    with pytest.raises(AssignmentError, match="90 points, not 100"):
        load_assignment("tiny")


def test_a_test_worth_no_points_is_a_tip_that_counts_for_nothing(root: Path) -> None:
    public = PUBLIC + textwrap.dedent("""
        @public_test(function="scale", points=0)
        def keeps_float64(student: Student, rng: torch.Generator) -> None:
            pass
        """)
    write_assignment(root, public=public)
    definition = load_assignment("tiny")
    (tip,) = [t for t in definition.tests if t.tip]
    assert (tip.name, definition.max_score) == ("keeps_float64", 100.0)


def test_a_function_graded_by_tips_alone_or_negative_points_is_an_assignment_error(root: Path) -> None:
    write_assignment(root, "tips", hidden=HIDDEN.replace("points=20", "points=0"))
    with pytest.raises(AssignmentError, match="only tips"):
        load_assignment("tips")
    write_assignment(root, "negative", hidden=HIDDEN.replace("points=20", "points=-20"))
    with pytest.raises(AssignmentError, match="negative"):
        load_assignment("negative")


def test_a_test_of_an_undeclared_function_is_an_assignment_error(root: Path) -> None:
    write_assignment(root, hidden=HIDDEN.replace('function="scale"', 'function="pool2d"'))
    with pytest.raises(AssignmentError, match="pool2d"):
        load_assignment("tiny")


def test_a_hidden_test_in_the_public_file_is_an_assignment_error(root: Path) -> None:
    public = PUBLIC.replace("public_test", "hidden_test").replace('points=30)', 'points=30, hint="h")')
    write_assignment(root, public=public)
    with pytest.raises(AssignmentError, match=r"public_tests\.py holds hidden tests.*corr2d_example"):
        load_assignment("tiny", public_only=True)


def test_a_public_test_in_the_hidden_file_is_an_assignment_error(root: Path) -> None:
    hidden = HIDDEN.replace('@hidden_test(function="scale", points=20, hint="double it")',
                            '@public_test(function="scale", points=20)').replace(
        "import Student, expect_close, hidden_test", "import Student, expect_close, hidden_test, public_test")
    write_assignment(root, hidden=hidden)
    with pytest.raises(AssignmentError, match=r"hidden_tests\.py holds public tests.*scale_doubles"):
        load_assignment("tiny")


def test_duplicate_test_names_across_files_are_an_assignment_error(root: Path) -> None:
    write_assignment(root, hidden=HIDDEN.replace("def corr2d_random", "def corr2d_example"))
    with pytest.raises(AssignmentError, match="not unique: corr2d_example"):
        load_assignment("tiny")


@pytest.mark.parametrize("broken", ["raise RuntimeError('no GPU here')", "import not_a_module_anywhere",
                                    "def broken(:\n    pass"], ids=["raises", "bad_import", "syntax_error"])
def test_a_test_file_that_fails_on_import_is_an_assignment_error(root: Path, broken: str) -> None:
    write_assignment(root, public=PUBLIC + "\n" + broken + "\n")
    with pytest.raises(AssignmentError, match=re.escape("public_tests.py fails to load")):
        load_assignment("tiny")


def test_a_missing_hidden_file_is_an_assignment_error_unless_public_only(root: Path) -> None:
    write_assignment(root, hidden=None)
    with pytest.raises(AssignmentError, match=r"no hidden_tests\.py.*--public"):
        load_assignment("tiny")


def test_a_missing_public_file_is_an_assignment_error(root: Path) -> None:
    write_assignment(root, public=None)
    with pytest.raises(AssignmentError, match=re.escape("public_tests.py is missing")):
        load_assignment("tiny")


@pytest.mark.parametrize("toml", ["title = 'x'\n", "functions = 3\n", "[functions\n"],
                         ids=["no_functions", "functions_not_a_table", "not_toml"])
def test_a_broken_declaration_is_an_assignment_error(root: Path, toml: str) -> None:
    write_assignment(root, toml=toml)
    with pytest.raises(AssignmentError, match=re.escape("assignment.toml")):
        load_assignment("tiny")


def test_defined_names_are_top_level_functions_and_classes() -> None:
    cells = ("import torch\ndef corr2d(X, K):\n    def inner():\n        pass\n    return X",
             "class Conv2D:\n    def forward(self, x):\n        return x", "async def later():\n    pass",
             "scale = lambda x: 2 * x", "def broken(:")
    assert defined_names(cells) == {"corr2d", "Conv2D", "later"}


def test_identify_prefers_the_requested_assignment(root: Path) -> None:
    write_assignment(root, "tiny")
    assert identify("tiny", None, ("def pool2d(X):\n    return X",)) == ("tiny", "")
    assert identify("tiny", "tiny", ()) == ("tiny", "")


def test_identify_refuses_a_notebook_whose_metadata_names_another_assignment(root: Path) -> None:
    write_assignment(root, "tiny")
    write_assignment(root, "pooling", toml="[functions.pool2d]\n")
    name, reason = identify("tiny", "pooling", ("def corr2d(X, K):\n    return X",))
    assert name is None
    assert "'pooling'" in reason and "'tiny'" in reason


def test_identify_uses_the_metadata_when_nothing_is_requested(root: Path) -> None:
    write_assignment(root, "tiny")
    write_assignment(root, "pooling", toml="[functions.pool2d]\n")
    assert identify(None, "pooling", ("def corr2d(X, K):\n    return X",)) == ("pooling", "")


def test_identify_refuses_metadata_naming_an_unknown_assignment(root: Path) -> None:
    write_assignment(root, "tiny")
    name, reason = identify(None, "homework9", ("def corr2d(X, K):\n    return X",))
    assert name is None and "'homework9'" in reason


def test_identify_infers_the_assignment_from_the_names_a_notebook_defines(root: Path) -> None:
    write_assignment(root, "tiny")
    write_assignment(root, "pooling", toml="[functions.pool2d]\n[functions.corr2d]\n[functions.stride]\n")
    assert identify(None, None, ("def pool2d(X):\n    return X", "def stride(X):\n    return X")) == ("pooling", "")
    assert identify(None, None, ("def corr2d(X, K):\n    return X", "def scale(x):\n    return x")) == ("tiny", "")


def test_identify_reads_the_functions_of_the_definitions_it_is_given(root: Path) -> None:
    """A batch has loaded every assignment already: their functions decide, not the declarations read again."""
    write_assignment(root, "tiny")
    write_assignment(root, "pooling", toml="[functions.pool2d]\n[functions.corr2d]\n[functions.stride]\n")
    cells = ("def scale(x):\n    return x",)
    assert identify(None, None, cells) == ("tiny", "")
    loaded = {"pooling": dataclasses.replace(load_assignment("pooling", public_only=True), functions=("scale",)),
              "tiny": dataclasses.replace(load_assignment("tiny", public_only=True), functions=("corr2d",))}
    assert identify(None, None, cells, loaded) == ("pooling", "")


def test_identify_skips_assignments_with_a_broken_declaration(root: Path) -> None:
    write_assignment(root, "tiny")
    write_assignment(root, "broken", toml="[functions\n")
    assert identify(None, None, ("def scale(x):\n    return x",)) == ("tiny", "")


def test_identify_with_nothing_matching_says_to_pass_the_assignment(root: Path) -> None:
    write_assignment(root, "tiny")
    name, reason = identify(None, None, ("def pool2d(X):\n    return X", "x = 1"))
    assert name is None and "--assignment" in reason


def test_identify_infers_from_a_cell_that_also_has_a_shell_escape(root: Path) -> None:
    write_assignment(root, "tiny")
    cells = ("!pip install d2l\nimport torch\ndef corr2d(X, K):\n    return X",)
    assert identify(None, None, cells) == ("tiny", "")


# ---------------------------------------------------------------- what a from-scratch function may not call

def test_a_from_scratch_function_bans_library_convolutions_unless_it_names_families(root: Path) -> None:
    write_assignment(root, toml=TOML.replace("[functions.scale]", "[functions.scale]\nfrom_scratch = true\n"
                                             "may_not_call = [\"pooling\", \"convolution\"]"))
    definition = load_assignment("tiny")
    assert definition.may_not_call == {"corr2d": frozenset({"convolution"}),
                                       "scale": frozenset({"pooling", "convolution"})}


def test_a_function_not_from_scratch_bans_nothing(root: Path) -> None:
    write_assignment(root)
    assert "scale" not in load_assignment("tiny").may_not_call


@pytest.mark.parametrize(("may_not_call", "message"), [
    ('["pooling", "dilation"]', r"unknown family 'dilation' \(known: convolution, pooling"),
    ('["torch.nn.functional.max_pool2d"]', "name families, not single functions"),
    ('[]', "must be a non-empty list"),
    ('"pooling"', "must be a list of strings"),
    ('[1]', "must be a list of strings"),
])
def test_a_bad_may_not_call_is_an_assignment_error_naming_the_file(root: Path, may_not_call: str,
                                                                   message: str) -> None:
    write_assignment(root, toml=TOML.replace("from_scratch = true",
                                             f"from_scratch = true\nmay_not_call = {may_not_call}"))
    with pytest.raises(AssignmentError, match=message) as raised:
        load_assignment("tiny")
    assert "assignment.toml" in str(raised.value) and "[functions.corr2d]" in str(raised.value)


def test_may_not_call_on_a_function_not_from_scratch_is_an_assignment_error(root: Path) -> None:
    write_assignment(root, toml=TOML.replace("[functions.scale]", "[functions.scale]\nmay_not_call = [\"pooling\"]"))
    with pytest.raises(AssignmentError, match=r"\[functions.scale\] names may_not_call but is not from_scratch"):
        load_assignment("tiny")


# --- strict files: every mistake is one line that names the file -------------------------------------------------

@pytest.mark.parametrize(("toml", "expected"), [
    ('titel = "x"\n' + TOML, r"unknown key 'titel' at the top level \(did you mean title\?\)"),
    (TOML.replace("from_scratch", "from_scrach"),
     r"unknown key 'from_scrach' in \[functions.corr2d\] \(did you mean from_scratch\?\)"),
    (TOML + "points = 10\n", r"unknown key 'points' in \[functions.scale\] \(known keys: from_scratch, may_not_call\)"),
    (TOML.replace("from_scratch = true", 'from_scratch = "yes"'),
     "from_scratch in .* must be true or false, not 'yes'"),
    (TOML.replace("from_scratch = true", "from_scratch = 1"), "must be true or false, not 1"),
    (TOML.replace("from_scratch = true", 'may_not_call = "max_pool2d"'), "may_not_call .* must be a list of strings"),
    (TOML.replace("from_scratch = true", "may_not_call = [1]"), "may_not_call .* must be a list of strings"),
    ("title = 3\n" + TOML.split("\n", 2)[2], "title must be a string"),
    ("[functions]\ncorr2d = true\n", r"functions.corr2d must be a table \(\[functions.corr2d\]\)"),
], ids=["top_level_typo", "function_key_typo", "no_near_miss", "from_scratch_string", "from_scratch_int",
        "may_not_call_string", "may_not_call_not_strings", "title_not_a_string", "function_not_a_table"])
def test_a_declaration_with_an_unknown_key_or_a_wrong_type_is_an_assignment_error_naming_the_file(
        root: Path, toml: str, expected: str) -> None:
    directory = write_assignment(root, toml=toml)
    for public_only in (True, False):
        with pytest.raises(AssignmentError, match=expected) as raised:
            load_assignment("tiny", public_only=public_only)
        assert raised.value.message.startswith(f"{directory.resolve() / 'assignment.toml'}: ")
        assert "\n" not in raised.value.message


def test_may_not_call_is_a_known_key(root: Path) -> None:
    write_assignment(root, toml=TOML.replace("from_scratch = true", 'from_scratch = true\nmay_not_call = ["pooling"]'))
    assert load_assignment("tiny").from_scratch == frozenset({"corr2d"})


def test_a_declaration_that_is_not_utf8_is_an_assignment_error(root: Path) -> None:
    directory = write_assignment(root)
    (directory / "assignment.toml").write_bytes(b"title = '\xff'\n[functions.corr2d]\n")
    with pytest.raises(AssignmentError, match=re.escape("assignment.toml cannot be read")):
        load_assignment("tiny")


@pytest.mark.parametrize(("name", "suggested"), [
    ("hidden_test.py", "hidden_tests.py"), ("hiddentests.py", "hidden_tests.py"), ("public_test.py", "public_tests.py"),
    ("tests.py", "public_tests.py"), ("test_corr2d.py", None), ("Hidden_Tests.py", "hidden_tests.py"),
])
def test_a_misnamed_test_file_is_an_assignment_error_naming_the_expected_names(root: Path, name: str,
                                                                                suggested: str | None) -> None:
    directory = write_assignment(root)
    (directory / name).write_text(HIDDEN)
    for public_only in (True, False):
        with pytest.raises(AssignmentError) as raised:
            load_assignment("tiny", public_only=public_only)
        message = raised.value.message
        assert message.startswith(f"{directory.resolve() / name}: ")
        assert "public_tests.py or hidden_tests.py" in message and "never run" in message
        if suggested:
            assert f"rename it to {suggested}" in message


def test_other_files_beside_the_tests_are_fine(root: Path) -> None:
    directory = write_assignment(root)
    (directory / "conftest.py").write_text("")
    (directory / "notes.py").write_text("")
    (directory / "tests.txt").write_text("")
    (directory / "accepted").mkdir()
    (directory / "accepted" / "test_notebook.py").write_text("")
    assert len(load_assignment("tiny").tests) == 3


@pytest.mark.parametrize("hint", ["   ", "\n"], ids=["spaces", "newline"])
def test_a_hidden_test_with_a_blank_hint_is_an_assignment_error(root: Path, hint: str) -> None:
    directory = write_assignment(root, hidden=HIDDEN.replace('hint="double it"', f"hint={hint!r}"))
    with pytest.raises(AssignmentError, match="hidden test scale_doubles has no hint") as raised:
        load_assignment("tiny")
    assert raised.value.message.startswith(f"{directory.resolve() / 'hidden_tests.py'}: ")


def test_a_hidden_test_declared_without_a_hint_fails_to_load(root: Path) -> None:
    write_assignment(root, hidden=HIDDEN.replace(', hint="double it"', ', hint=""'))
    refusal = "hidden_tests.py fails to load: ValueError: a hidden test needs a hint"
    with pytest.raises(AssignmentError, match=re.escape(refusal)):
        load_assignment("tiny")


def test_points_not_totalling_100_name_the_folder_and_each_files_share(root: Path) -> None:
    directory = write_assignment(root, hidden=HIDDEN.replace("points=20", "points=19"))
    with pytest.raises(AssignmentError) as raised:
        load_assignment("tiny")
    assert raised.value.message == (f"{directory.resolve()}: tests total 99 points, not 100 "
                                    "(public_tests.py 30, hidden_tests.py 69)")


def test_a_test_of_an_undeclared_name_names_its_file_and_test(root: Path) -> None:
    directory = write_assignment(root, hidden=HIDDEN.replace('function="scale"', 'function="pool2d"'))
    with pytest.raises(AssignmentError) as raised:
        load_assignment("tiny")
    assert raised.value.message.startswith(f"{directory.resolve() / 'hidden_tests.py'}: test scale_doubles grades "
                                           "pool2d, which assignment.toml does not declare")


@pytest.mark.parametrize("line", [
    "from reference import corr2d", "import reference.pooling as pooling", "import reference",
    "def helper():\n    from reference.cross_correlation import corr2d\n    return corr2d",
    "from course_helpers import make_input", "from . import shared",
], ids=["from_reference", "reference_submodule", "import_reference", "inside_a_function", "course_module",
        "relative"])
def test_public_tests_importing_what_students_lack_are_an_assignment_error(root: Path, line: str) -> None:
    (root.parent / "course_helpers").mkdir()
    (root.parent / "course_helpers" / "__init__.py").write_text("make_input = None\n")
    directory = write_assignment(root, public=PUBLIC.replace("import torch\n", f"import torch\n{line}\n", 1))
    for public_only in (True, False):
        with pytest.raises(AssignmentError) as raised:
            load_assignment("tiny", public_only=public_only)
        message = raised.value.message
        assert message.startswith(f"{directory.resolve() / 'public_tests.py'}, line ")
        assert "student kit" in message or "students do not have" in message


def test_public_tests_may_import_torch_numpy_and_the_testkit(root: Path) -> None:
    write_assignment(root,
                     public=PUBLIC.replace("import torch\n", "import torch\nimport numpy\nfrom torch import nn\n"))
    assert len(load_assignment("tiny").tests) == 3


def test_hidden_tests_may_import_the_reference(root: Path) -> None:
    (root.parent / "reference").mkdir()
    (root.parent / "reference" / "__init__.py").write_text("")
    write_assignment(root, hidden=HIDDEN.replace("import torch\n", "import torch\nimport reference\n", 1))
    assert len(load_assignment("tiny").tests) == 3


def test_a_test_file_that_exits_is_an_assignment_error_not_an_exit(root: Path) -> None:
    write_assignment(root, public=PUBLIC + "\nraise SystemExit(3)\n")
    with pytest.raises(AssignmentError, match="fails to load: SystemExit"):
        load_assignment("tiny")


@pytest.mark.parametrize("toml", [b"functions = 3\n", b"[functions]\ncorr2d = 1\n", b"\xff\xfe[functions.corr2d]\n",
                                  b"[functions.scale]\nfrom_scrach = true\n"],
                         ids=["functions_not_a_table", "function_not_a_table", "not_utf8", "typo"])
def test_identify_skips_an_assignment_with_a_malformed_declaration(root: Path, toml: bytes) -> None:
    write_assignment(root, "tiny")
    (write_assignment(root, "broken") / "assignment.toml").write_bytes(toml)
    assert available() == ("broken", "tiny")
    assert identify(None, None, ("def scale(x):\n    return x",)) == ("tiny", "")


def test_available_is_empty_when_the_root_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "assignments").write_text("not a folder")
    use_course(monkeypatch, tmp_path / "assignments")
    assert available() == ()
