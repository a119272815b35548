"""The Grader session: the order of its setup, its one zygote, and what it leaves to its caller."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from grader.course import Course, read_course, using
from grader.course.seeding import CourseSecret
from grader.errors import GraderError, UsageError
from grader.host import platform_support
from grader.host.paths import private_paths
from grader.host.plain_workers import PlainLaunch
from grader.session import Grader
from tests.helpers import TOY_ASSIGNMENTS, use_course


@dataclasses.dataclass
class Launches:
    """What each launch saw: the secret it was given, whether its file existed then, and what it hid."""

    seen: list[tuple[CourseSecret, bool, tuple[Path, ...]]] = dataclasses.field(default_factory=list)

    def __call__(self, secret: CourseSecret, hidden: Sequence[Path] = (), *, allow_unconfined: bool = False,
                 many_submissions: bool = False) -> Any:
        existed = secret.file is not None and secret.file.is_file()
        self.seen.append((secret, existed, tuple(hidden)))
        return PlainLaunch(reason="a test's launch: nothing starts", allow_unconfined=allow_unconfined)


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch) -> Launches:
    recorded = Launches()
    monkeypatch.setattr(platform_support, "launch", recorded)
    return recorded


@pytest.fixture
def toy_with_its_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Course:
    """The toy course, with a secret file of its own under tmp_path (not yet made)."""
    root = use_course(monkeypatch, TOY_ASSIGNMENTS)
    return dataclasses.replace(read_course(root), secret=tmp_path / "keys" / "secret")


def test_the_secret_and_the_hidden_folders_exist_before_the_zygote_launches(
        toy_with_its_secret: Course, launches: Launches, tmp_path: Path) -> None:
    out = tmp_path / "batch-out"
    with Grader(toy_with_its_secret, hide=[out]) as grader:
        assert grader.secret == (tmp_path / "keys" / "secret").read_bytes().strip()
    ((secret, existed, hidden),) = launches.seen
    assert existed and secret.file == tmp_path / "keys" / "secret"
    assert hidden == (out,) and out.is_dir()


def test_a_secret_given_as_a_value_has_no_file_and_is_used_as_is(
        toy_with_its_secret: Course, launches: Launches) -> None:
    with Grader(toy_with_its_secret, secret=b"given") as grader:
        assert grader.secret == b"given"
    assert launches.seen[0][0] == CourseSecret(b"given", None)


def test_the_library_reads_no_secret_from_the_environment(
        toy_with_its_secret: Course, launches: Launches, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONVGRADE_SECRET", "from-the-environment")
    monkeypatch.setenv("CONVGRADE_SECRET_FILE", str(tmp_path / "elsewhere"))
    with Grader(toy_with_its_secret) as grader:
        assert grader.secret not in (b"from-the-environment", b"")
    assert not (tmp_path / "elsewhere").exists()


def test_a_session_not_entered_or_closed_refuses_to_grade(toy_with_its_secret: Course, launches: Launches) -> None:
    grader = Grader(toy_with_its_secret, secret=b"s")
    with pytest.raises(GraderError, match="not open"):
        grader.grade(Path("nb.ipynb"))
    with grader:
        pass
    with pytest.raises(GraderError, match="not open"):
        grader.zygote()
    assert len(launches.seen) == 1


def test_a_dead_zygote_is_replaced_by_a_fresh_launch(
        toy_with_its_secret: Course, launches: Launches, monkeypatch: pytest.MonkeyPatch) -> None:
    with Grader(toy_with_its_secret, secret=b"s") as grader:
        first = grader.zygote()
        assert grader.zygote() is first and len(launches.seen) == 1
        monkeypatch.setattr(first, "alive", lambda: False)
        second = grader.zygote()
    assert second is not first and len(launches.seen) == 2


def test_the_limits_are_the_courses_unless_given(toy_with_its_secret: Course, launches: Launches) -> None:
    from grader.host.execute import Limits

    assert Grader(toy_with_its_secret).limits == Limits.of(toy_with_its_secret)
    assert Grader(toy_with_its_secret, limits=Limits(call_timeout=1.5)).limits.call_timeout == 1.5


def test_a_session_without_workers_starts_no_zygote_and_says_so(
        toy_with_its_secret: Course, launches: Launches) -> None:
    with Grader(toy_with_its_secret, secret=b"s", workers=False) as grader:
        assert grader.secret == b"s"
        with pytest.raises(GraderError, match="no workers"):
            grader.zygote()
    assert launches.seen == []


def test_an_empty_secret_is_refused(toy_with_its_secret: Course, launches: Launches) -> None:
    with pytest.raises(UsageError, match="empty course secret"), Grader(toy_with_its_secret, secret=b""):
        pass
    assert launches.seen == []


def test_the_courses_secret_folder_is_hidden_even_when_the_secret_comes_as_a_value(
        toy_with_its_secret: Course, tmp_path: Path) -> None:
    with using(toy_with_its_secret):
        hidden = private_paths(CourseSecret(b"given", None))
    assert tmp_path / "keys" in hidden or not (tmp_path / "keys").exists()
    (tmp_path / "keys").mkdir()
    with using(toy_with_its_secret):
        assert tmp_path / "keys" in private_paths(CourseSecret(b"given", None))
