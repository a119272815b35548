"""`pytest assignments/NAME --submission NB.ipynb`: an assignment's tests as pytest items.

For authors writing tests: pytest's selection and reports (-k, -x, --pdb, -v)
over exactly what `grade NB` does. The notebook runs once, in a confined
worker, through a Grader session (grader.session); each GradedTest
is a pytest item that runs in this process against the `Student` proxy, while
that worker is up. The pipeline then scores the outcomes as `grade` does
(library convolutions and tampering included), and the total ends the run.

The package registers this module through the `pytest11` entry point, so it is
loaded by every pytest run: without --submission it adds its options and does
nothing else. It imports neither torch nor the grader, and starts no worker.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import ExceptionInfo, Traceback

    from grader.authoring.testkit import GradedTest, Student
    from grader.course import Course
    from grader.course.assignment import Assignment
    from grader.records import GradeResult, TestOutcome

TEST_FILES = {"public_tests.py": False, "hidden_tests.py": True}   # file -> whether its tests are hidden
PLUGIN_NAME = "convgrade-submission"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("convgrade", "convgrade: an assignment's tests on one notebook")
    group.addoption("--submission", metavar="NB.ipynb", type=Path,
                    help="grade this notebook with the assignments given (pytest assignments/NAME --submission NB)")
    group.addoption("--public", action="store_true", help="with --submission: only the public tests")
    group.addoption("--unconfined", action="store_true",
                    help="with --submission: run hidden tests even where student code cannot be confined")


def pytest_configure(config: pytest.Config) -> None:
    submission: Path | None = config.getoption("submission")
    if submission is None:
        if config.getoption("public") or config.getoption("unconfined"):
            raise pytest.UsageError("--public and --unconfined need --submission NB.ipynb")
        return
    config.pluginmanager.register(SubmissionGrading(config, submission), PLUGIN_NAME)


@dataclasses.dataclass(frozen=True)
class LiveNotebook:
    """The notebook's worker, while it is up: what each item's test runs against."""
    student: Student
    seed_for: Callable[[str], int]


class SubmissionGrading:
    """The hooks of one `--submission` run: collect, run the items inside the grading pipeline, report."""

    def __init__(self, config: pytest.Config, submission: Path) -> None:
        self.config = config
        self.submission = submission
        self.public_only: bool = config.getoption("public")
        self.unconfined: bool = config.getoption("unconfined")
        self.definitions: dict[Path, Assignment] = {}
        self.live: LiveNotebook | None = None
        self.unusable = ""                      # why the notebook could not be graded: each item fails with it
        self.outcomes: dict[str, TestOutcome] = {}
        self.result: GradeResult | None = None
        self.course: Course | None = None       # the collected assignment's, found from its folder

    # ------------------------------------------------------------------ collection

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if not _assignment_tests(file_path) or _python_collects(file_path, parent):
            return None  # pytest's own collection asks pytest_pycollect_makemodule instead
        if self.public_only and TEST_FILES[file_path.name]:
            return None
        return AssignmentTests.from_parent(parent, path=file_path, grading=self)

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makemodule(self, module_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if not _assignment_tests(module_path):
            return None
        return AssignmentTests.from_parent(parent, path=module_path, grading=self)  # named: --public says why not

    def definition(self, folder: Path) -> Assignment:
        """The assignment in `folder`, loaded once; a usage error if the course does not hold it."""
        from grader.course import locate, using
        from grader.course.assignment import load_assignment
        from grader.environment import configured_course
        from grader.errors import UsageError

        folder = folder.resolve()
        if folder not in self.definitions:
            # The course that holds the collected folder.
            course = locate(configured_course(), near=[folder], near_is_ours=True)
            if (course.assignments / folder.name).resolve() != folder:
                raise UsageError(f"{folder} is not an assignment of the course at {course.root} (its assignments "
                                 f"are in {course.assignments}): give a folder of that course")
            with using(course):
                self.definitions[folder] = load_assignment(folder.name, public_only=self.public_only)
            self.course = course
        return self.definitions[folder]

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if session.config.option.collectonly:
            return
        names = sorted(d.name for d in self.definitions.values())
        if len(names) > 1:
            raise pytest.UsageError(f"--submission grades one notebook for one assignment; collected "
                                    f"{', '.join(names)}: give one assignment's folder")
        if not names and not session.testsfailed:
            raise pytest.UsageError("--submission: no assignment collected: give an assignment's folder, "
                                    "e.g. pytest assignments/NAME --submission NB.ipynb")

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # In the assignment's own order, public tests first, as `grade` runs them: a notebook's
        # state (a counter, a cache) may carry from one call to the next.
        order = {test.name: index for definition in self.definitions.values()
                 for index, test in enumerate(definition.tests)}
        items.sort(key=lambda item: order.get(item.name, -1) if isinstance(item, GradedTestItem) else -1)

    def pytest_report_header(self, config: pytest.Config) -> str:
        return f"convgrade: grading {self.submission}" + (" (public tests only)" if self.public_only else "")

    # ------------------------------------------------------------------ running

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            raise session.Interrupted(f"{session.testsfailed} error(s) during collection")
        if session.config.option.collectonly or not session.items:
            return True
        from grader.environment import configured_secret
        from grader.errors import GraderError
        from grader.session import Grader

        (definition,) = self.definitions.values()
        stopped: list[BaseException] = []

        def run_items(tests: Sequence[GradedTest], student: Student,
                      seed_for: Callable[[str], int]) -> tuple[TestOutcome, ...]:
            self.live = LiveNotebook(student, seed_for)
            stopped.extend(_run_protocol(session))
            return tuple(self.outcomes[t.name] for t in tests if t.name in self.outcomes)

        assert self.course is not None
        try:
            with Grader(self.course, secret=configured_secret(), unconfined=self.unconfined) as grader:
                self.result = grader.grade(self.submission, assignment=definition.name, public_only=self.public_only,
                                           definitions={definition.name: definition}, run=run_items)
        except GraderError as error:
            raise pytest.UsageError(f"convgrade: {error.message}") from None
        if self.live is None:  # the pipeline stopped before the tests: every one of them fails with the reason
            self.unusable = self.result.reason or "the notebook was not graded"
            stopped.extend(_run_protocol(session))
        if stopped:
            raise stopped[0]
        return True

    def run(self, test: GradedTest) -> None:
        """Run one test as `grade` does, recording its outcome; let its exception reach pytest."""
        import torch

        from grader.authoring.comparison import collecting
        from grader.grading.testing import verdict
        from grader.records import TestOutcome

        if self.unusable:
            pytest.fail(f"{self.submission} was not graded: {self.unusable}", pytrace=False)
        if self.live is None:
            pytest.fail("convgrade: an assignment's tests run only inside its pytest run", pytrace=False)
        rng = torch.Generator().manual_seed(self.live.seed_for(test.name))
        error: Exception | None = None
        started = time.perf_counter()
        with collecting(enabled=not test.hidden) as comparisons:
            try:
                test(self.live.student, rng)
            except Exception as raised:  # noqa: BLE001 - verdict() sorts it; pytest reports it below
                error = raised
        status, message = verdict(error)
        self.outcomes[test.name] = TestOutcome(test, status, message, time.perf_counter() - started,
                                               () if test.hidden else tuple(comparisons))
        if status == "failed" and test.tip:  # advice, worth nothing: it does not fail the run
            pytest.xfail(f"tip (worth no points): {message}")
        if error is not None:
            _end_traceback_in(error, Path(test.body.__code__.co_filename))
            raise error

    # ------------------------------------------------------------------ reporting

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.result is None:
            return
        from grader.report.formats import table

        terminalreporter.section("convgrade")
        terminalreporter.write_line(table(self.result))
        (definition,) = self.definitions.values()
        if self.result.tests and len(self.result.tests) < len(definition.tests):
            terminalreporter.write_line(f"(counting the {len(self.result.tests)} of {len(definition.tests)} tests "
                                        "that ran: without -k or -x it is the score grade gives)")


class AssignmentTests(pytest.File):
    """public_tests.py or hidden_tests.py of an assignment: one item per GradedTest in it."""

    def __init__(self, *, grading: SubmissionGrading, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.grading = grading

    def collect(self) -> Iterator[pytest.Item]:
        from grader.errors import GraderError

        hidden = TEST_FILES[self.path.name]
        if hidden and self.grading.public_only:
            raise self.CollectError(f"--public runs no test of {self.path}: give the assignment's folder, "
                                    "or its public_tests.py")
        try:
            definition = self.grading.definition(self.path.parent)
        except GraderError as error:
            raise self.CollectError(error.message) from None
        for test in definition.tests:
            if test.hidden == hidden:
                yield GradedTestItem.from_parent(self, name=test.name, test=test)


class GradedTestItem(pytest.Item):
    def __init__(self, *, test: GradedTest, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test = test
        self.user_properties += [("points", test.points), ("function", test.function)]

    @property
    def grading(self) -> SubmissionGrading:
        parent = self.parent
        assert isinstance(parent, AssignmentTests)
        return parent.grading

    def runtest(self) -> None:
        self.grading.run(self.test)

    def reportinfo(self) -> tuple[Path, int, str]:
        kind = "hidden, " if self.test.hidden else ""
        points = f"{self.test.points:g} point{'' if self.test.points == 1 else 's'}"
        line = self.test.body.__code__.co_firstlineno - 1
        return self.path, line, f"{self.name} ({kind}{self.test.function}, {points})"

    def _traceback_filter(self, excinfo: ExceptionInfo[BaseException]) -> Traceback:
        # From the test function on, as pytest shows a plain test: the plugin's frames are not the author's.
        code = self.test.body.__code__
        cut = excinfo.traceback.cut(path=Path(code.co_filename), firstlineno=code.co_firstlineno - 1)
        return cut or excinfo.traceback


def _run_protocol(session: pytest.Session) -> Iterator[BaseException]:
    """pytest's own run loop over the items; yields, instead of raising, why it stopped early (-x, --maxfail)."""
    for index, item in enumerate(session.items):
        following = session.items[index + 1] if index + 1 < len(session.items) else None
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=following)
        if session.shouldfail:
            yield session.Failed(session.shouldfail)
            return
        if session.shouldstop:
            yield session.Interrupted(session.shouldstop)
            return


def _assignment_tests(path: Path) -> bool:
    return path.name in TEST_FILES and (path.parent / "assignment.toml").is_file()


def _python_collects(path: Path, parent: pytest.Collector) -> bool:
    """Whether pytest's python plugin takes this file (it was named, or matches python_files)."""
    return parent.session.isinitpath(path) or any(
        fnmatch.fnmatch(path.name, pattern) for pattern in parent.config.getini("python_files"))


def _end_traceback_in(error: BaseException, test_file: Path) -> None:
    """Cut the traceback after its last frame in the assignment's test file.

    So --pdb stops in the test, at the line that found the answer wrong, not
    inside grader.authoring.testkit or the Student proxy that raised for it."""
    last: TracebackType | None = None
    entry = error.__traceback__
    while entry is not None:
        if Path(entry.tb_frame.f_code.co_filename) == test_file:
            last = entry
        entry = entry.tb_next
    if last is not None:
        last.tb_next = None
