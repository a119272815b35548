"""The library's front door: a `Grader` session.

    with Grader(course, limits=Limits(call_timeout=5)) as grader:
        result = grader.grade(Path("submission.ipynb"))

A session orders what grading needs, which used to rest on comments in three
places: it selects the course, makes the course secret, and only then starts
the worker zygote, which hides the secret, the tests and the reference (and
any folder in `hide`, such as a batch's output) from every worker. It is the
one place that starts a zygote, and it replaces one that dies, so the
threads of a batch share one session. `grade()` is the one-call wrapper.

Imports nothing heavy: the zygote starts (and imports torch) before the
session imports the pipeline, so that the two imports overlap.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from grader.course import Course, locate, using
from grader.course.seeding import CourseSecret, course_secret
from grader.errors import GraderError, UsageError
from grader.host import platform_support

if TYPE_CHECKING:
    from grader.course.assignment import Assignment
    from grader.grading.testing import TestRunner
    from grader.host.execute import Limits, Zygote
    from grader.records import GradeResult, StepListener

class Grader:
    """A grading session over one course: its secret, its limits and one worker zygote.

    `course`: a Course, or the folder that holds its convgrade.toml (None: found from the current folder).
    `secret`: the secret's value, or the file that holds it (made on first use); None: the course's own.
    `limits`: None: the course's `[limits]`. `hide`: more folders workers must not see.
    `unconfined`: hidden tests may run where student code cannot be confined (every result records it).
    `workers`: False for a session that grades nowhere itself (a batch sent to a cluster): no zygote starts.
    `many_submissions`: it will grade many notebooks (a batch, an audit), so its zygote pays once the
    first-use costs that would otherwise fall on each of their workers.
    Thread-safe once entered.
    """

    def __init__(self, course: Course | Path | None = None, *, secret: bytes | Path | None = None,
                 limits: Limits | None = None, hide: Sequence[Path] = (), unconfined: bool = False,
                 workers: bool = True, many_submissions: bool = False) -> None:
        self.course = course if isinstance(course, Course) else locate(course)
        self.unconfined = unconfined
        self._workers = workers
        self._many_submissions = many_submissions
        self._chosen_secret = secret
        self._limits = limits
        self._hide = tuple(hide)
        self._secret: CourseSecret | None = None
        self._zygote: Zygote | None = None
        self._lock = threading.Lock()
        self._stack = contextlib.ExitStack()
        self._closed = False

    def __enter__(self) -> Grader:
        if self._secret is not None:
            raise GraderError("a Grader session is entered once")
        if self._chosen_secret == b"":
            raise UsageError("an empty course secret would make every hidden input predictable")
        with contextlib.ExitStack() as setup:
            setup.enter_context(using(self.course))
            self._secret = course_secret(self.course, self._chosen_secret)
            for folder in self._hide:  # before the zygote starts, or it could not hide them
                folder.mkdir(parents=True, exist_ok=True)
            if self._workers:
                self._zygote = self._start_zygote()
            setup.callback(self._close_zygote)
            self._stack = setup.pop_all()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._stack.close()

    @property
    def secret(self) -> bytes:
        return self._entered_secret().value

    @property
    def limits(self) -> Limits:
        from grader.host.execute import Limits

        return self._limits or Limits.of(self.course)

    def zygote(self) -> Zygote:
        """The session's zygote, replaced first if it died (say, killed for memory)."""
        with self._lock:
            if self._closed or self._secret is None:
                raise GraderError("this Grader session is not open: use it as `with Grader(...) as grader:`")
            if self._zygote is None:
                raise GraderError("this Grader session has no workers (workers=False): it grades nowhere itself")
            if not self._zygote.alive():
                self._zygote.close()
                self._zygote = self._start_zygote()
            return self._zygote

    def isolation(self) -> Mapping[str, Any]:
        """What confines this session's workers (grader.worker.confinement)."""
        return self.zygote().isolation()

    def check_confinement(self, *, public_only: bool = False) -> None:
        """Raise the one-line UsageError now, rather than one per submission, if hidden tests may not run here."""
        from grader.grading.pipeline import check_confinement

        check_confinement(self.isolation(), public_only)

    def grade(self, path: Path, *, assignment: str | None = None, public_only: bool = False, device: str = "cpu",
              limits: Limits | None = None, content: bytes | None = None,
              definitions: Mapping[str, Assignment] | None = None, run: TestRunner | None = None,
              on_step: StepListener | None = None) -> GradeResult:
        """Grade one notebook (`content`: its bytes, read already; `limits`: the session's unless given).
        `definitions`: the assignments loaded already (a batch loads them once). `run` runs the tests (the
        pytest plugin runs them as pytest items). `on_step` hears each cell and test as it starts."""
        from grader.grading.pipeline import grade_notebook

        return grade_notebook(Path(path), zygote=self.zygote(), secret=self.secret, assignment=assignment,
                              public_only=public_only, device=device, limits=limits or self.limits, content=content,
                              definitions=definitions, run=run, on_step=on_step)

    def _entered_secret(self) -> CourseSecret:
        if self._secret is None:
            raise GraderError("this Grader session is not open: use it as `with Grader(...) as grader:`")
        return self._secret

    def _start_zygote(self) -> Zygote:
        launched = platform_support.launch(self._entered_secret(), self._hide, allow_unconfined=self.unconfined,
                                           many_submissions=self._many_submissions)
        from grader.host.execute import Zygote

        return Zygote(launched)

    def _close_zygote(self) -> None:
        with self._lock:
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.close()


def grade(path: Path, *, course: Course | Path | None = None, assignment: str | None = None,
          public_only: bool = False, limits: Limits | None = None, secret: bytes | Path | None = None,
          unconfined: bool = False) -> GradeResult:
    """Grade one notebook in a session of its own (a batch keeps one session for all its notebooks)."""
    with Grader(course, secret=secret, limits=limits, unconfined=unconfined) as grader:
        return grader.grade(path, assignment=assignment, public_only=public_only)
